// Bundles ui-extension/ into the one plain script the PVE web UI loads: dist/ui/pvepatch-ui.js.
// An IIFE without "use strict": ExtJS' callParent walks arguments.callee.caller, which strict
// code forbids (see ui-extension/README.md). The CSS is embedded and added as a style sheet.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

export async function buildUi(outfile = 'dist/ui/pvepatch-ui.js') {
  mkdirSync(outfile.slice(0, outfile.lastIndexOf('/')), { recursive: true });
  const css = readFileSync(new URL('../ui-extension/pvepatch-ui.css', import.meta.url), 'utf8');
  const result = await build({
    entryPoints: ['ui-extension/src/index.js'],
    bundle: true,
    write: false,
    format: 'iife',
    target: 'es2019',
    minify: false,
    legalComments: 'none',
    charset: 'utf8',
    // the project's tsconfig is strict, and esbuild would turn that into a "use strict" prologue
    tsconfigRaw: '{}',
    banner: {
      js: `// pvepatch ${pkg.version} - Patching panel for the Proxmox VE web UI. AGPL-3.0-or-later.\n// Built from ui-extension/ by scripts/build-ui.mjs; not strict mode on purpose (ExtJS callParent).`,
    },
    define: { __PVEPATCH_VERSION__: JSON.stringify(pkg.version), __PVEPATCH_CSS__: JSON.stringify(css) },
    logLevel: 'warning',
  });
  const text = result.outputFiles[0].text;
  if (/^\s*['"]use strict['"]/m.test(text))
    throw new Error(`${outfile}: the bundle is strict mode - ExtJS callParent would throw`);
  writeFileSync(outfile, text);
  return outfile;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`built ${await buildUi(process.argv[2])}`);
}
