import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { renderMessage } from '../../daemon/notify/render.js';
import { TEMPLATES } from '../../daemon/notify/templates.gen.js';
import { NOTIFY_EVENTS, templateName } from '../../daemon/notify/types.js';
import {
  OUT_DTS,
  OUT_JS,
  precompileOne,
  precompileTemplates,
  TEMPLATE_DIR,
} from '../../scripts/precompile-templates.mjs';
import { fixture } from './helpers.js';

const GOLDEN = new URL('./golden/', import.meta.url);
const update = process.env.PVEPATCH_UPDATE_GOLDEN === '1';

describe('notification templates', () => {
  it('the committed templates.gen.js and .d.ts are what the templates compile to', () => {
    const { js, dts } = precompileTemplates();
    const hint = 'stale - run: node scripts/precompile-templates.mjs';
    assert.equal(readFileSync(OUT_JS, 'utf8'), js, `${OUT_JS} is ${hint}`);
    assert.equal(readFileSync(OUT_DTS, 'utf8'), dts, `${OUT_DTS} is ${hint}`);
  });

  it('the generated module imports only the Handlebars runtime', () => {
    const imports = readFileSync(OUT_JS, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('import '));
    assert.deepEqual(imports, ["import Handlebars from 'handlebars/runtime.js';"]);
  });

  it('has a subject, text and HTML template for every event, and no other', () => {
    const expected = NOTIFY_EVENTS.flatMap((e) =>
      ['subject.txt', 'body.txt', 'body.html'].map((p) => `${templateName(e)}-${p}.hbs`),
    ).sort();
    assert.deepEqual(readdirSync(TEMPLATE_DIR).sort(), expected);
    assert.deepEqual(Object.keys(TEMPLATES).sort(), NOTIFY_EVENTS.map(templateName).sort());
  });

  it('no HTML template uses raw output ({{{ or {{&)', () => {
    for (const file of readdirSync(TEMPLATE_DIR).filter((f) => f.endsWith('.html.hbs'))) {
      const src = readFileSync(join(TEMPLATE_DIR, file), 'utf8');
      assert.ok(!src.includes('{{{') && !src.includes('{{&'), `${file} has raw output`);
    }
  });

  for (const event of NOTIFY_EVENTS) {
    it(`renders ${event} from its fixture as in golden/${event}.txt`, () => {
      const m = renderMessage(event, fixture(event));
      const got = `Subject: ${m.title}\n\n${m.text}`;
      const golden = new URL(`${event}.txt`, GOLDEN);
      if (update) writeFileSync(golden, got);
      assert.equal(got, readFileSync(golden, 'utf8'));
      assert.ok(!m.title.includes('\n') && m.title === m.title.trim());
      assert.ok(!/&(amp|lt|gt|quot|#x27|#x3D);/.test(m.title + m.text), 'no HTML entities in subject or text');
      assert.ok(m.html.startsWith('<html>\n    <body>\n') && m.html.endsWith('    </body>\n</html>\n'));
    });
  }

  it('writes package lines as name: current -> new, and what was left out', () => {
    const m = renderMessage('run-ok', fixture('run-ok'));
    assert.match(m.text, /^ {8}openssl: 3\.0\.15-1~deb12u1 -> 3\.0\.17-1~deb12u2$/m);
    assert.match(m.text, /^ {8}\.\.\. and 1 more \(see the log\)$/m);
    assert.match(m.html, /openssl: 3\.0\.15-1~deb12u1 &rarr; 3\.0\.17-1~deb12u2<br\/>/);
  });

  it('escapes guest text in HTML and leaves it alone in text', () => {
    const m = renderMessage('run-error', fixture('run-error'));
    assert.ok(!m.html.includes('<script>'));
    assert.ok(m.html.includes('dpkg failed: &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;'));
    assert.ok(m.html.includes('db&lt;1&gt; (qemu)'));
    assert.ok(m.text.includes('Reason:   dpkg failed: <script>alert(1)</script> & "quotes"'));
  });

  it('refuses data that lacks a field a template uses (strict mode), top-level and nested', () => {
    const top = fixture('run-ok') as unknown as Record<string, unknown>;
    delete top.run_id;
    assert.throws(() => renderMessage('run-ok', top as never), /'pvepatch-run-ok' - "run_id" not defined/);
    const nested = fixture('run-ok');
    delete (nested.guests[0]!.packages[0] as unknown as Record<string, unknown>).to;
    assert.throws(() => renderMessage('run-ok', nested), /"to" not defined/);
    const counts = fixture('run-error');
    delete (counts.counts as unknown as Record<string, unknown>).failed;
    assert.throws(() => renderMessage('run-error', counts), /"failed" not defined/);
  });
});

describe('template precompilation refuses what handlebars-rust may render differently', () => {
  const refused: [string, string, RegExp][] = [
    ['pvepatch-x-body.html.hbs', '<p>{{{raw}}}</p>', /triple-stash/],
    ['pvepatch-x-body.html.hbs', '<p>{{&raw}}</p>', /raw output/],
    ['pvepatch-x-body.txt.hbs', '{{lookup a b}}', /helper 'lookup' is not allowed/],
    ['pvepatch-x-body.txt.hbs', '{{human-bytes size}}', /helper 'human-bytes' is not allowed/],
    ['pvepatch-x-body.txt.hbs', '{{#with a}}{{b}}{{/with}}', /block 'with' is not allowed/],
    ['pvepatch-x-body.txt.hbs', '{{> footer}}', /PartialStatement/],
    ['pvepatch-x-body.txt.hbs', '{{@root.x}}', /'@root.x' is not allowed/],
    ['pvepatch-x-body.txt.hbs', '{{#each l}}{{@index}}{{/each}}', /'@index' is not allowed/],
    ['pvepatch-x-body.txt.hbs', '{{#each l}}{{../x}}{{/each}}', /'\.\.\/' is not allowed/],
    ['pvepatch-x-body.txt.hbs', '{{~x}}', /whitespace control/],
    ['pvepatch-x-body.txt.hbs', '{{#if a}}1{{else if b}}2{{/if}}', /else if/],
    ['pvepatch-x-body.txt.hbs', '{{#each l as |i|}}{{i}}{{/each}}', /block parameters/],
    ['pvepatch-x-body.txt.hbs', '{{#if (a)}}1{{/if}}', /only a plain field name/],
    ['pvepatch-x-body.txt.hbs', '{{^a}}none{{/a}}', /block 'a' is not allowed/],
    ['pvepatch-x-body.txt.hbs', '{{#if a}}never closed', /pvepatch-x-body\.txt\.hbs - Parse error/],
    ['pvepatch-x-subject.txt.hbs', 'two\nlines\n', /a subject is one line/],
    ['x-body.txt.hbs', 'hi', /the name must be pvepatch-<event>/],
  ];
  for (const [file, source, error] of refused) {
    it(`refuses ${JSON.stringify(source)} in ${file}`, () => {
      assert.throws(() => precompileOne(file, source), error);
    });
  }

  it('accepts fields, paths, this, comments and the if/unless/each blocks', () => {
    const src = '{{!c}}{{a}} {{a.b}} {{#each l}}{{this.x}}{{x}}{{this}}{{else}}-{{/each}}{{#unless u}}u{{/unless}}';
    assert.match(precompileOne('pvepatch-x-body.html.hbs', src), /"compiler":\[8,/);
  });
});
