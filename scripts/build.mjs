// Bundles the CLI/daemon into one ESM file that runs on plain Node >= 18.19 without node_modules.
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { buildUi } from './build-ui.mjs';
import { writeGeneratedTemplates } from './precompile-templates.mjs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
mkdirSync('dist', { recursive: true });
// notification templates: templates/*.hbs -> daemon/notify/templates.gen.js (runtime-only); a template
// error (syntax, unknown helper, raw output in HTML) fails the build here
writeGeneratedTemplates();
// CommonJS dependencies get a `require` and, through `define` below, `__dirname`/`__filename` (ssh2
// reads `__dirname` when it loads); both name the bundle's own location.
const banner = [
  '#!/usr/bin/env node',
  "import { createRequire as __pvepatchCreateRequire } from 'node:module';",
  "import { fileURLToPath as __pvepatchFileURLToPath } from 'node:url';",
  'const require = __pvepatchCreateRequire(import.meta.url);',
  'const __pvepatchFilename = __pvepatchFileURLToPath(import.meta.url);',
  "const __pvepatchDirname = __pvepatchFilename.slice(0, __pvepatchFilename.lastIndexOf('/'));",
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
  minify: process.env.PVEPATCH_BUILD_MINIFY !== '0',
  legalComments: 'external',
  banner: { js: banner },
  define: {
    __PVEPATCH_VERSION__: JSON.stringify(pkg.version),
    __dirname: '__pvepatchDirname',
    __filename: '__pvepatchFilename',
  },
  // ssh2's optional native add-ons (cpu-features, sshcrypto.node): loaded in try/catch, so the bundle
  // runs without them on node's own crypto
  external: ['cpu-features', '*.node'],
  logLevel: 'warning',
});
chmodSync('dist/pvepatch.mjs', 0o755);
console.log(`built dist/pvepatch.mjs (pvepatch ${pkg.version})`);
console.log(`built ${await buildUi()} (the web UI panel)`);
