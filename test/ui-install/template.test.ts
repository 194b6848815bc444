/**
 * The panel's <script> line in pve-manager's index.html.tpl, as pure functions on the text of the
 * real PVE 9 template (shared/pve-ui-kit/index.html.tpl, pve-manager 9.2.11).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { scriptElement, scriptState, withoutScript, withScript } from '../../daemon/ui-install/template.js';

const TEMPLATE = fileURLToPath(new URL('../../../shared/pve-ui-kit/index.html.tpl', import.meta.url));
const ANCHOR_LINE = '    <script type="text/javascript" src="/pve2/js/pvemanagerlib.js?ver=[% version %]"></script>';
const LINE = scriptElement('1.2.3', 8016);

function realTemplate(): string {
  assert.ok(
    existsSync(TEMPLATE),
    `the real PVE template ${TEMPLATE} is missing - these tests need it (shared/pve-ui-kit)`,
  );
  return readFileSync(TEMPLATE, 'utf8');
}

function added(text: string, element = LINE): string {
  const res = withScript(text, element, 'index.html.tpl');
  assert.ok(!('warning' in res), 'warning' in res ? res.warning : '');
  return res.text;
}

const count = (text: string, needle: string) => text.split('\n').filter((l) => l.includes(needle)).length;

describe('ui-install: the script line in index.html.tpl', () => {
  const original = realTemplate();

  it('the real template has the anchor line once', () => {
    assert.equal(original.split('\n').filter((l) => l === ANCHOR_LINE).length, 1);
  });

  it('the line is exactly the documented one', () => {
    assert.equal(LINE, '<script type="text/javascript" src="/pve2/js/pvepatch-ui.js?ver=1.2.3&port=8016"></script>');
  });

  it('install adds exactly one line, right after the anchor, with its indentation', () => {
    const res = withScript(original, LINE);
    assert.ok(!('warning' in res) && res.changed);
    const before = original.split('\n');
    const after = res.text.split('\n');
    const at = before.indexOf(ANCHOR_LINE);
    assert.equal(after.length, before.length + 1);
    assert.equal(after[at + 1], `    ${LINE}`);
    assert.deepEqual([...after.slice(0, at + 1), ...after.slice(at + 2)], before);
    assert.deepEqual(scriptState(res.text), {
      anchorLine: at + 1,
      lines: [{ line: at + 2, ver: '1.2.3', port: '8016', afterAnchor: true }],
    });
  });

  it('twice is once: the second install changes nothing', () => {
    const once = added(original);
    const res = withScript(once, LINE);
    assert.ok(!('warning' in res));
    assert.equal(res.changed, false);
    assert.equal(res.text, once);
    assert.equal(count(res.text, 'pvepatch-ui.js'), 1);
  });

  it('another version or port is replaced, never a second line', () => {
    const old = added(original, scriptElement('1.0.0', 9000));
    const res = withScript(old, LINE);
    assert.ok(!('warning' in res) && res.changed);
    assert.equal(res.text, added(original));
    assert.deepEqual(
      scriptState(res.text).lines.map((l) => [l.ver, l.port]),
      [['1.2.3', '8016']],
    );
  });

  it('a line elsewhere (and extra copies, other quoting) is moved after the anchor', () => {
    const lines = original.split('\n');
    lines.splice(3, 0, `  ${scriptElement('0.9', 1)}`);
    lines.splice(lines.length - 3, 0, "<script src='/pve2/js/pvepatch-ui.js?ver=0.8'></script>");
    const messy = lines.join('\n');
    assert.equal(scriptState(messy).lines.length, 2);
    assert.ok(scriptState(messy).lines.every((l) => !l.afterAnchor));
    assert.equal(added(messy), added(original));
  });

  it('remove gives back the original byte for byte', () => {
    const res = withoutScript(added(original));
    assert.equal(res.changed, true);
    assert.equal(res.text, original);
    assert.deepEqual(withoutScript(original), { text: original, changed: false });
  });

  it('without the anchor: a warning naming the file, the text unchanged', () => {
    const text = original
      .split('\n')
      .filter((l) => !l.includes('pvemanagerlib.js'))
      .join('\n');
    const res = withScript(text, LINE, '/usr/share/pve-manager/index.html.tpl');
    assert.ok('warning' in res);
    assert.match(res.warning, /^\/usr\/share\/pve-manager\/index\.html\.tpl has no line loading pvemanagerlib\.js/);
    assert.equal(scriptState(text).anchorLine, undefined);
    // a stale line is not touched either: the file is left as it is
    const stale = `${text}${scriptElement('0.1', 1)}\n`;
    assert.ok('warning' in withScript(stale, LINE));
  });

  it('CRLF: the line gets the anchor line ending; remove restores the bytes', () => {
    const crlf = original.replaceAll('\n', '\r\n');
    const res = withScript(crlf, LINE);
    assert.ok(!('warning' in res) && res.changed);
    assert.ok(res.text.includes(`pvemanagerlib.js?ver=[% version %]"></script>\r\n    ${LINE}\r\n`));
    assert.equal(res.text.split('\n').length, crlf.split('\n').length + 1);
    assert.ok(res.text.split('\n').every((l, i, all) => i === all.length - 1 || l.endsWith('\r')));
    assert.deepEqual(withScript(res.text, LINE), { text: res.text, changed: false });
    assert.equal(withoutScript(res.text).text, crlf);
  });

  it('odd input: tabs, no final newline, anchor as the last line, empty text', () => {
    const tabbed = `<head>\n\t\t<script src="/pve2/js/pvemanagerlib.js"></script>\n</head>\n`;
    assert.equal(
      added(tabbed),
      `<head>\n\t\t<script src="/pve2/js/pvemanagerlib.js"></script>\n\t\t${LINE}\n</head>\n`,
    );
    const last = '<script src="/pve2/js/pvemanagerlib.js"></script>';
    assert.equal(added(last), `${last}\n${LINE}`);
    assert.equal(withoutScript(added(last)).text, last);
    assert.ok('warning' in withScript('', LINE));
    assert.deepEqual(withoutScript(''), { text: '', changed: false });
    // a comment naming pvemanagerlib.js is not a script line, so not the anchor
    assert.ok('warning' in withScript('<!-- pvemanagerlib.js -->\n', LINE));
  });

  it('scriptState reads ver and port, also &amp; and encoded values', () => {
    const text = added(
      original,
      '<script type="text/javascript" src="/pve2/js/pvepatch-ui.js?ver=1%2B2&amp;port=443"></script>',
    );
    assert.deepEqual(
      scriptState(text).lines.map((l) => [l.ver, l.port, l.afterAnchor]),
      [['1+2', '443', true]],
    );
    assert.deepEqual(scriptState(original).lines, []);
  });
});
