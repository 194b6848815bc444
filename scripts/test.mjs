// `npm test`: type-check, lint, then every test file under test/ through node:test + tsx.
// Extra arguments select test files (e.g. `npm test -- test/sim`).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function findTests(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path)
    .filter((n) => n !== 'node_modules' && !n.startsWith('.'))
    .flatMap((n) => findTests(join(path, n)))
    .sort();
}

function step(name, cmd, args) {
  console.log(`\n== ${name}: ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`== ${name} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

const selected = process.argv.slice(2);
const files = (selected.length ? selected : ['test']).flatMap(findTests);
if (!process.env.PVEPATCH_SKIP_CHECKS) {
  step('typecheck', 'npx', ['tsc', '--noEmit']);
  step('lint', 'npx', ['biome', 'check', '.']);
}
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
step('tests', process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files]);
