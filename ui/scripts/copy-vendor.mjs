// Copies the chart libraries (plotly, vega + vega-lite + vega-embed, bokeh) and the chart page's
// boot script into the built dashboard's vendor/ folder. The dashboard itself never loads them:
// only the sandboxed chart pages the server renders do (docs/dashboard.md, "Charts").
import { copyFileSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "../src/labbook/dashboard/static/vendor");
mkdirSync(out, { recursive: true });
const files = {
  "plotly.min.js": "node_modules/plotly.js-dist-min/plotly.min.js",
  "vega.min.js": "node_modules/vega/build/vega.min.js",
  "vega-lite.min.js": "node_modules/vega-lite/build/vega-lite.min.js",
  "vega-embed.min.js": "node_modules/vega-embed/build/vega-embed.min.js",
  "bokeh.min.js": "node_modules/@bokeh/bokehjs/build/js/bokeh.min.js",
  "chart-boot.js": "vendor-src/chart-boot.js",
};
for (const [name, source] of Object.entries(files)) copyFileSync(join(root, source), join(out, name));
console.log(`chart libraries copied to ${out}: ${Object.keys(files).join(", ")}`);
