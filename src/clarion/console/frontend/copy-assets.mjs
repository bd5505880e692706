// Copies the console's third-party front-end files from node_modules into ../static/vendor (gitignored).
// Run by `make console-assets` after `npm ci`; nothing third-party is committed.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const vendor = join(here, "..", "static", "vendor");
const files = {
  "htmx.org/dist/htmx.min.js": "htmx.min.js",
  "uplot/dist/uPlot.iife.min.js": "uPlot.iife.min.js",
  "uplot/dist/uPlot.min.css": "uPlot.min.css",
};
mkdirSync(vendor, { recursive: true });
for (const [source, target] of Object.entries(files)) {
  copyFileSync(join(here, "node_modules", source), join(vendor, target));
}
console.log(`console assets: ${Object.keys(files).length} files in ${vendor}`);
