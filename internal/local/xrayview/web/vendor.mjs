// Copies the browser build of the layout library from node_modules (installed
// by `npm ci` from package-lock.json) into assets/vendor/, which the Go binary
// embeds: go build never needs npm, and the copy names its package, version
// and licence at the top. `make xrayview-assets` runs this; CI runs it and
// checks that the committed copy is what the lockfile gives.
import { readFileSync, writeFileSync } from 'node:fs';

const libs = [
  {
    pkg: '@dagrejs/dagre',
    file: 'dist/dagre.min.js',
    legal: 'dist/dagre.min.js.LEGAL.txt',
    out: 'assets/vendor/dagre.min.js',
    note: 'bundles @dagrejs/graphlib',
  },
];

for (const lib of libs) {
  const dir = new URL(`node_modules/${lib.pkg}/`, import.meta.url);
  const { version, license } = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8'));
  const legal = readFileSync(new URL(lib.legal, dir), 'utf8').trim();
  const body = readFileSync(new URL(lib.file, dir), 'utf8')
    .split('\n')
    // The source map is not shipped; its reference would only 404.
    .filter((line) => !line.startsWith('//# sourceMappingURL='))
    .join('\n')
    .trim();
  const header = `/*! ${lib.pkg} ${version} (${license}; ${lib.note}), copied from ${lib.file} by vendor.mjs */\n${legal}\n`;
  writeFileSync(new URL(lib.out, import.meta.url), header + body + '\n');
  console.log(`${lib.out}: ${lib.pkg} ${version}`);
}
