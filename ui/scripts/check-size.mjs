// Prints the gzipped size of the JavaScript the runs page loads first (the entry chunk, the runs
// page's chunk and everything they import statically) and fails past the budget.
// Run after `vite build` (npm run build does).
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const BUDGET_KB = 150;
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "../src/labbook/dashboard/static");
const manifest = JSON.parse(readFileSync(join(out, ".vite/manifest.json"), "utf8"));

function closure(keys, seen = new Set()) {
  for (const key of keys) {
    if (seen.has(key)) continue;
    seen.add(key);
    closure(manifest[key]?.imports ?? [], seen);
  }
  return seen;
}

const entry = Object.keys(manifest).find((k) => manifest[k].isEntry);
const runsPage = "src/pages/Runs.tsx";
if (!entry || !manifest[runsPage]) throw new Error(`manifest lacks the entry or ${runsPage}`);
const files = [...closure([entry, runsPage])].map((k) => manifest[k].file).filter((f) => f.endsWith(".js"));
let total = 0;
for (const file of files) {
  const size = gzipSync(readFileSync(join(out, file)), { level: 9 }).length;
  total += size;
  console.log(`  ${(size / 1024).toFixed(1).padStart(7)} KB  ${file}`);
}
const all = Object.values(manifest).filter((m) => m.file.endsWith(".js"));
let everything = 0;
for (const m of all) everything += gzipSync(readFileSync(join(out, m.file)), { level: 9 }).length;
console.log(`runs page initial JS: ${(total / 1024).toFixed(1)} KB gzipped (budget ${BUDGET_KB} KB); all JS: ${(everything / 1024).toFixed(1)} KB`);
if (total > BUDGET_KB * 1024) {
  console.error(`The runs page's initial JavaScript is over budget: ${(total / 1024).toFixed(1)} KB > ${BUDGET_KB} KB.`);
  process.exit(1);
}
