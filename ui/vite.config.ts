/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import type { OutputChunk } from "rollup";
import type { Plugin } from "vite";

/** Names the runs page's chunk and the chunks it imports in index.html (a
 * `<meta name="labbook-runs-chunks">`), which public/early.js preloads when the page opens on
 * the runs route: they then download beside the entry instead of after it has run. */
function runsChunks(): Plugin {
  return {
    name: "labbook-runs-chunks",
    apply: "build",
    transformIndexHtml: {
      order: "post",
      handler(_html, ctx) {
        const chunks = Object.values(ctx.bundle ?? {}).filter((c): c is OutputChunk => c.type === "chunk");
        const runs = chunks.find((c) => c.facadeModuleId?.endsWith("/src/pages/Runs.tsx"));
        if (!runs) throw new Error("the build has no chunk for src/pages/Runs.tsx");
        const entry = chunks.find((c) => c.isEntry);
        const inEntry = new Set([entry?.fileName, ...(entry?.imports ?? [])]);
        const files = [runs.fileName, ...runs.imports.filter((f) => !inEntry.has(f))];
        return [{ tag: "meta", attrs: { name: "labbook-runs-chunks", content: files.join(" ") }, injectTo: "head-prepend" }];
      },
    },
  };
}

// The bundle goes into the Python package, which serves it (labbook.dashboard.static_dir()).
// `npm run dev` proxies /api to a running labbook server: LABBOOK_API=http://127.0.0.1:8000.
export default defineConfig({
  plugins: [react(), runsChunks()],
  base: "./",
  build: {
    outDir: "../src/labbook/dashboard/static",
    emptyOutDir: true,
    manifest: true,
    target: "es2022",
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { "/api": process.env.LABBOOK_API ?? "http://127.0.0.1:8000" },
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
