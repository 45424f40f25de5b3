// Writes a gzip (.gz) and a brotli (.br) copy beside each compressible file of the built dashboard
// (scripts, styles, HTML, SVG, JSON; from 1 KB), which the server sends to browsers that take the
// encoding (labbook.server.compression.PrecompressedFiles). Run after `vite build` (npm run build does).
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { brotliCompressSync, brotliDecompressSync, constants, gunzipSync, gzipSync } from "node:zlib";
import { join, dirname, extname } from "node:path";
import { fileURLToPath } from "node:url";

const MIN_BYTES = 1024;
const TYPES = new Set([".js", ".mjs", ".css", ".html", ".svg", ".json", ".txt", ".map", ".wasm"]);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "../src/labbook/dashboard/static");

function* files(folder) {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== ".vite") yield* files(path); // the build manifest is read by tools, not served
    } else if (TYPES.has(extname(entry.name)) && statSync(path).size >= MIN_BYTES) {
      yield path;
    }
  }
}

let count = 0, plain = 0, gz = 0, br = 0;
for (const path of files(out)) {
  const bytes = readFileSync(path);
  const gzipped = gzipSync(bytes, { level: 9 });
  const brotli = brotliCompressSync(bytes, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
  });
  if (!gunzipSync(gzipped).equals(bytes) || !brotliDecompressSync(brotli).equals(bytes)) {
    throw new Error(`compressing ${path} did not round-trip`);
  }
  writeFileSync(`${path}.gz`, gzipped);
  writeFileSync(`${path}.br`, brotli);
  count += 1; plain += bytes.length; gz += gzipped.length; br += brotli.length;
}
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`compressed ${count} files: ${kb(plain)} -> ${kb(gz)} gzip, ${kb(br)} brotli`);
