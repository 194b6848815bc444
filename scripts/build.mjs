// Bundles the CLI/daemon into one ESM file that runs on plain Node >= 18.19 without node_modules.
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
mkdirSync('dist', { recursive: true });
const banner = [
  '#!/usr/bin/env node',
  "import { createRequire as __pvepatchCreateRequire } from 'node:module';",
  'const require = __pvepatchCreateRequire(import.meta.url);',
].join('\n');

await build({
  entryPoints: { pvepatch: 'daemon/cli/bin.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node18.19',
  format: 'esm',
  sourcemap: 'linked',
  legalComments: 'external',
  banner: { js: banner },
  define: { __PVEPATCH_VERSION__: JSON.stringify(pkg.version) },
  external: ['cpu-features', '*.node'],
  logLevel: 'warning',
});
chmodSync('dist/pvepatch.mjs', 0o755);
console.log(`built dist/pvepatch.mjs (pvepatch ${pkg.version})`);
