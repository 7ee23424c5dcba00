// Imports every module of a pruned production build with its own node_modules only, so a module that
// imports a devDependency (gone after `npm prune --omit=dev`) fails here, not at an operator's first start.
// Usage (from the app directory, e.g. the image's /app): node import-all.mjs <appDir> <entry>...
// Entries (dist/index.js, dist/migrate.js) run their process on import; they are skipped here because
// the smoke test runs both for real. Also fails if the emulator (a test fixture) is in the tree.
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [appDir, ...entries] = process.argv.slice(2);
if (!appDir) {
  console.error("usage: node import-all.mjs <appDir> <entry>...");
  process.exit(2);
}
const dist = path.resolve(appDir, "dist");
const skip = new Set(entries.map((e) => path.resolve(appDir, e)));

function* walk(dir) {
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) yield* walk(p);
    else if (/\.(m?js)$/.test(d.name)) yield p;
  }
}

const problems = [];
const emulatorDirs = [
  ...[...walk(dist)].filter((f) => f.split(path.sep).includes("emulator")).map((f) => path.relative(appDir, f)),
  ...["node_modules/@minispod/kube-emulator"].filter((p) => existsSync(path.join(appDir, p))),
];
if (emulatorDirs.length) problems.push(`the emulator is in the production tree: ${emulatorDirs.slice(0, 5).join(", ")}`);

let imported = 0;
for (const file of walk(dist)) {
  if (skip.has(file)) continue;
  try {
    await import(pathToFileURL(file).href);
    imported += 1;
  } catch (err) {
    problems.push(`${path.relative(appDir, file)}: ${err?.code ?? ""} ${err?.message ?? err}`.trim());
  }
}

if (problems.length) {
  console.error(`import check FAILED (${problems.length} problem(s), ${imported} module(s) imported):`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}
console.log(
  `import check: ${imported} module(s) of dist/ imported with production dependencies only; entries skipped: ${entries.join(", ")}`,
);
process.exit(0);
