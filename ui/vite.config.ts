/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The bundle goes into the Python package, which serves it (labbook.dashboard.static_dir()).
// `npm run dev` proxies /api to a running labbook server: LABBOOK_API=http://127.0.0.1:8000.
export default defineConfig({
  plugins: [react()],
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
