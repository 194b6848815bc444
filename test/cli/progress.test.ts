import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineFollower } from '../../daemon/cli/line-follower.js';
import { elapsed, ProgressRenderer } from '../../daemon/cli/progress.js';
import { fitWidth, textWidth } from '../../daemon/cli/text-width.js';

/** A renderer with a fake clock, captured writes and timers the test fires itself. */
function harness(o: { columns?: number; rows?: number } = {}) {
  let now = 1_000_000;
  const writes: string[] = [];
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  const r = new ProgressRenderer({
    write: (s) => writes.push(s),
    columns: o.columns ?? 80,
    rows: o.rows ?? 24,
    now: () => now,
    later: (fn, ms) => {
      const t = { at: now + ms, fn, live: true };
      timers.push(t);
      return () => {
        t.live = false;
      };
    },
  });
  return {
    r,
    writes,
    /** Moves the clock on and fires the timers that are due. */
    advance(ms: number) {
      now += ms;
      for (const t of timers.filter((x) => x.live && x.at <= now)) {
        t.live = false;
        t.fn();
      }
    },
    pendingTimers: () => timers.filter((t) => t.live).length,
  };
}

const stage = (vmid: number, s: string) => ['stage', { vmid, stage: s }] as const;
const log = (vmid: number | null, line: string) => ['log', { vmid, line }] as const;
const result = (vmid: number, outcome: string, o: { name?: string; reason?: string } = {}) =>
  ['guest-result', { result: { vmid, name: o.name ?? `ct${vmid}`, outcome, ...o } }] as const;

/** A frame split into the cursor-up count it starts with and its lines. */
function parse(frame: string): { up: number; lines: string[] } {
  let up = 0;
  let body = frame;
  if (frame.startsWith('\x1b[')) {
    const end = frame.indexOf('A\r\x1b[J');
    up = Number(frame.slice(2, end));
    assert.ok(end > 2 && Number.isInteger(up), `a frame starts with ESC[<n>A, CR, ESC[J: ${JSON.stringify(frame)}`);
    body = frame.slice(end + 5);
  }
  assert.ok(body.endsWith('\n'), 'a frame ends at the start of a line');
  return { up, lines: body.slice(0, -1).split('\n') };
}

/** Characters a terminal acts on: ESC, CSI, CR, BS, and the other C0/C1 controls but \n. */
function controlsBesideNewline(s: string): string[] {
  return [...s].filter((c) => {
    const code = c.charCodeAt(0);
    return (code < 0x20 && c !== '\n') || (code >= 0x7f && code <= 0x9f);
  });
}

describe('live progress renderer', () => {
  it('redraws in place: each frame moves up exactly the height of the block it drew before', () => {
    const h = harness();
    const heights: number[] = [];
    const feed = (...e: readonly [string, unknown]) => {
      h.r.event(e[0], e[1]);
      h.advance(100);
    };
    feed('run-started', { run: { id: 'x', guests: {} } });
    feed(...stage(101, 'gate'));
    feed(...stage(102, 'gate'));
    feed(...stage(101, 'connect'));
    feed(...log(101, 'CT 101: | Reading package lists...'));
    feed(...result(102, 'skipped', { reason: 'not permitted' }));
    feed(...log(null, 'summary: 1 updated, 1 skipped'));
    for (const w of h.writes) {
      const f = parse(w);
      assert.equal(f.up, heights.at(-1) ?? 0, `frame ${JSON.stringify(w)}`);
      const block = f.lines.filter((l) => /^10[12] /.test(l));
      heights.push(block.length);
    }
    const last = parse(h.writes.at(-1)!);
    assert.equal(last.lines[0], 'summary: 1 updated, 1 skipped', 'pvepatch statements scroll above the block');
    assert.match(last.lines[1]!, /^101 {2}\s*connect\s+0s {2}\| Reading package lists\.\.\.$/);
    assert.match(last.lines[2]!, /^102 {2}ct102\s+skipped\s+\d+s {2}not permitted$/);
  });

  it('shows the time in the current stage and the name once known', () => {
    const h = harness();
    h.r.event(...stage(7, 'patch'));
    h.advance(65_000);
    h.r.tick();
    assert.match(parse(h.writes.at(-1)!).lines[0]!, /^7 {2}patch\s+1m05s$/);
    h.r.event(...result(7, 'updated', { name: 'web' }));
    h.advance(100);
    assert.match(parse(h.writes.at(-1)!).lines[0]!, /^7 {2}web {2}updated\s+1m05s$/);
    assert.equal(elapsed(3_725_000), '1h02m');
  });

  it('escapes hostile guest text and cuts every line to the terminal width', () => {
    const h = harness({ columns: 40 });
    const evil = '\x1b[2J\x1b[H\rgotcha\x08\x9b31m\u202eevil 漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字';
    h.r.event('stage', { vmid: 300, stage: 'patch\x1b[1A' });
    h.advance(200);
    h.r.event(...log(300, `CT 300: | ${evil}`));
    h.advance(200);
    h.r.event(...result(301, 'failed\r', { name: `\x1b]0;title\x07${evil}`, reason: evil }));
    h.advance(200);
    h.r.finish();
    for (const w of h.writes) {
      const f = parse(w);
      assert.deepEqual(controlsBesideNewline(f.lines.join('\n')), [], `no raw control in ${JSON.stringify(w)}`);
      for (const l of f.lines) assert.ok(textWidth(l) <= 40, `${JSON.stringify(l)} fits 40 columns`);
    }
    const final = parse(h.writes.at(-1)!).lines;
    assert.match(final[0]!, /^300 .*patch\\x1b\[1A/, 'a stage is escaped');
    assert.ok(final[1]!.startsWith('301  \\x1b]0;title\\x0…'), 'a name is escaped and cut to 16 cells');
    assert.ok(
      final.every((l) => l.endsWith('…')),
      'long lines end in an ellipsis',
    );
    const wide = parse(harnessLine('\\x1b[2J 漢字漢字漢字漢字漢字漢字', 30)).lines[0]!;
    assert.ok(textWidth(wide) <= 29, 'wide characters count two cells');
  });

  it('throttles to one redraw per interval and catches up with a single trailing redraw', () => {
    const h = harness();
    h.r.event(...stage(101, 'gate'));
    assert.equal(h.writes.length, 1, 'the first event draws at once');
    for (let i = 0; i < 50; i++) {
      h.r.event(...log(101, `CT 101: | line ${i}`));
      h.advance(1);
    }
    assert.equal(h.writes.length, 1, 'no redraw inside the interval');
    assert.equal(h.pendingTimers(), 1, 'one redraw owed, however many events');
    h.advance(100);
    assert.equal(h.writes.length, 2);
    assert.match(parse(h.writes[1]!).lines[0]!, /\| line 49$/, 'the owed redraw shows the newest state');
    h.advance(1000);
    assert.equal(h.writes.length, 2, 'nothing changed, nothing drawn');
  });

  it('caps the block to the terminal rows: running guests first, then a count of the rest', () => {
    const h = harness({ rows: 6 });
    h.r.event('run-started', { run: { guest_count: 30 } });
    for (let v = 100; v < 120; v++) h.r.event(...stage(v, 'gate'));
    for (let v = 100; v < 115; v++) h.r.event(...result(v, 'up-to-date'));
    h.r.event(...log(119, 'CT 119: about to start'));
    h.advance(100);
    const f = parse(h.writes.at(-1)!).lines;
    assert.equal(f.length, 5, 'rows - 1 lines');
    assert.deepEqual(
      f.slice(0, 4).map((l) => l.split(' ')[0]),
      ['115', '116', '117', '118'],
    );
    assert.equal(f[4], '… 1 more running, 15 done, 10 waiting');
    h.r.finish();
    const final = parse(h.writes.at(-1)!);
    assert.equal(final.up, 5);
    assert.equal(final.lines.length, 21, 'the static block lists every guest, and the unseen as waiting');
    assert.equal(final.lines.filter((l) => /^1[01]\d .*up-to-date/.test(l)).length, 15);
    assert.equal(final.lines.at(-1), '… 10 waiting');
  });

  it('prints the final block once, static, with each outcome; nothing after it', () => {
    const h = harness();
    h.r.event(...stage(101, 'patch'));
    h.advance(5000);
    h.r.event(...result(101, 'updated'));
    h.r.event(...result(102, 'refused', { reason: 'gate: a backup is running' }));
    h.r.event(...log(null, 'TASK OK'));
    h.r.finish();
    const n = h.writes.length;
    const final = parse(h.writes.at(-1)!);
    assert.deepEqual(final.lines, [
      'TASK OK',
      '101  ct101  updated           5s',
      '102  ct102  refused           0s  gate: a backup is running',
    ]);
    h.r.event(...log(null, 'late'));
    h.r.tick();
    h.advance(1000);
    assert.equal(h.writes.length, n, 'finished: nothing more is drawn');
    assert.equal(h.pendingTimers(), 0);
  });

  it('fills outcomes from run-finished when a run is replayed after its history went', () => {
    const h = harness();
    h.r.event('run-finished', { run: { id: 'x', state: 'ok', guests: { 201: 'updated', 202: 'skipped' } } });
    h.r.finish();
    const lines = parse(h.writes.at(-1)!).lines;
    assert.match(lines[0]!, /^201 {2}updated$/);
    assert.match(lines[1]!, /^202 {2}skipped$/);
  });
});

describe('line follower (pipes)', () => {
  it('prints every event as today', () => {
    const out: string[] = [];
    const f = new LineFollower((l) => out.push(l));
    f.event(...log(null, 'summary: x'));
    f.event(...stage(5, 'gate'));
    f.event(...log(5, 'CT 5: | \x1b[2Jhi'));
    f.event(...result(5, 'updated'));
    f.finish();
    assert.deepEqual(out, ['summary: x', '-- 5: gate', 'CT 5: | \\x1b[2Jhi', '-- 5: updated']);
  });
});

describe('display width', () => {
  it('cuts by cells, not code units', () => {
    assert.equal(textWidth('漢字a'), 5);
    assert.equal(textWidth('e\u0301'), 1, 'a combining mark takes no cell');
    assert.equal(fitWidth('漢字漢字', 5), '漢字…');
    assert.equal(fitWidth('abc', 3), 'abc');
    assert.equal(fitWidth('😀😀', 3), '😀…');
  });
});

/** One frame of a renderer `columns` wide holding a guest whose last line is `text`. */
function harnessLine(text: string, columns: number): string {
  const h = harness({ columns });
  h.r.event(...log(9, `CT 9: ${text}`));
  return h.writes.at(-1)!;
}

describe('progress: the guests of a run from its start', () => {
  it('lists every guest by name as waiting from run-started, and times each from its first stage', () => {
    const h = harness();
    const targets = [
      { vmid: 101, name: 'web', type: 'lxc', node: 'pve1' },
      { vmid: 102, name: 'db\x1b[2Jx', type: 'qemu', node: 'pve1' },
    ];
    h.r.event('run-started', { run: { id: 'r', guests: {} }, targets });
    const first = parse(h.writes.at(-1)!);
    assert.equal(first.lines.length, 2);
    assert.match(first.lines[0]!, /^101 {2}web +waiting/);
    assert.match(first.lines[1]!, /^102 {2}db\\x1b\[2Jx +waiting/, 'the name is escaped');
    h.advance(5000);
    h.r.event(...stage(101, 'patch'));
    h.advance(3000);
    h.r.event(...result(101, 'updated', { name: 'web' }));
    h.r.finish();
    const last = parse(h.writes.at(-1)!).lines;
    assert.match(last[0]!, /^101 {2}web +updated +3s/, 'the 5 s spent waiting do not count');
    assert.match(last[1]!, /^102 .* waiting/);
  });
});
