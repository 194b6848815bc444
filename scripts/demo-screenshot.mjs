// Renders the output of `npm run demo` as a terminal picture for the README (docs/demo.png).
// Needs root and Debian's chromium. Usage: node scripts/demo-screenshot.mjs
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const demo = spawnSync(process.execPath, ['--import', 'tsx', 'test/demo/demo.ts'], { encoding: 'utf8' });
if (demo.status !== 0) {
  process.stderr.write(demo.stdout + demo.stderr);
  process.exit(1);
}
const ESC = String.fromCharCode(27);
const escapeHtml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
// keep the commands, tables and verdicts; drop the long streamed log of the followed run
const lines = demo.stdout
  .split('\n')
  .filter(
    (l) =>
      !/^\d{4}-\d\d-\d\dT.* (CT|VM) \d+: (\$ |\| |Get:|Preparing|Unpacking|Setting up|\(Reading|Reading|Building|Calculating|Hit:|Ign:|Fetched|debconf|Installing|Inst |Conf |\d+ upgraded|The following| {2}demo)/.test(
        l,
      ),
  );
const html = `<!doctype html><meta charset="utf-8"><style>
body{margin:0;background:#1e1e1e}pre{margin:0;padding:16px;color:#d4d4d4;font:13px/1.35 'DejaVu Sans Mono',monospace}
b{color:#fff}.c{color:#6a9955}.ok{color:#4ec9b0}.bad{color:#f48771}</style><pre>${lines
  .map((l) => escapeHtml(l))
  .map((l) => l.replace(new RegExp(`${ESC}\\[1m(.*?)${ESC}\\[0m`, 'g'), '<b>$1</b>'))
  .map((l) => l.replace(/(#.*)$/, '<span class="c">$1</span>'))
  .map((l) =>
    l
      .replace(/\b(updated|TASK OK|OK:)\b/g, '<span class="ok">$1</span>')
      .replace(/\b(refused|WARNINGS:)/g, '<span class="bad">$1</span>'),
  )
  .join('\n')}</pre>`;
const dir = mkdtempSync(join(tmpdir(), 'pvepatch-shot-'));
writeFileSync(join(dir, 'demo.html'), html);
const height = 18 * lines.length + 40;
// 13px DejaVu Sans Mono is about 7.9px a character: wide enough for the widest line
const width = Math.max(1480, Math.ceil(7.9 * Math.max(...lines.map((l) => l.length))) + 40);
const shot = spawnSync(
  'chromium',
  [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    `--user-data-dir=${join(dir, 'profile')}`,
    '--hide-scrollbars',
    `--window-size=${width},${height}`,
    '--screenshot=docs/demo.png',
    `file://${join(dir, 'demo.html')}`,
  ],
  { encoding: 'utf8' },
);
rmSync(dir, { recursive: true, force: true });
if (shot.status !== 0) {
  process.stderr.write(shot.stderr);
  process.exit(1);
}
console.log(`wrote docs/demo.png (${lines.length} lines)`);
