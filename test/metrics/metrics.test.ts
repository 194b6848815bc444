import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import {
  METRICS_CONTENT_TYPE,
  type PlanRow,
  RequestHistogram,
  registerMetricsRoute,
  renderMetrics,
  requestTimer,
} from '../../daemon/metrics/metrics.js';
import { RunStore } from '../../daemon/store/runs.js';
import type { RunSummary } from '../../daemon/store/state.js';

/**
 * An independent, strict reading of text format 0.0.4 (not the code under test): every line is a
 * HELP, a TYPE or a sample; label values may hold only the escapes \\ \" \n; HELP/TYPE come once
 * per family, before its samples; sample names belong to the family of the last TYPE.
 */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface StrictFamily {
  name: string;
  help: string;
  type: string;
  samples: Sample[];
}
const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*';
const LABEL_VALUE = '(?:[^"\\\\\\n]|\\\\[\\\\"n])*';
const LABEL = `${LABEL_NAME}="${LABEL_VALUE}"`;
const VALUE = '(?:[-+]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][-+]?\\d+)?|[-+]Inf|NaN)';
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{(${LABEL}(?:,${LABEL})*)?\\})? (${VALUE})$`);
const LABEL_RE = new RegExp(`(${LABEL_NAME})="(${LABEL_VALUE})"`, 'g');
const HELP_RE = new RegExp(`^# HELP (${NAME}) ((?:[^\\\\\\n]|\\\\[\\\\n])*)$`);
const TYPE_RE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);

function unescapeText(s: string): string {
  return s.replace(/\\(["\\n])/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}
function num(v: string): number {
  if (v === '+Inf') return Number.POSITIVE_INFINITY;
  if (v === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(v);
}

function strictParse(text: string): StrictFamily[] {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const families: StrictFamily[] = [];
  const seen = new Set<string>();
  let help: { name: string; text: string } | undefined;
  let cur: StrictFamily | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    let m = HELP_RE.exec(line);
    if (m) {
      assert.ok(!seen.has(m[1]!), `one HELP for ${m[1]}`);
      help = { name: m[1]!, text: unescapeText(m[2]!) };
      continue;
    }
    m = TYPE_RE.exec(line);
    if (m) {
      assert.equal(help?.name, m[1], `HELP before TYPE of ${m[1]}`);
      assert.ok(!seen.has(m[1]!), `one TYPE for ${m[1]}`);
      seen.add(m[1]!);
      cur = { name: m[1]!, help: help!.text, type: m[2]!, samples: [] };
      families.push(cur);
      continue;
    }
    m = SAMPLE_RE.exec(line);
    assert.ok(m, `a valid line: ${JSON.stringify(line)}`);
    assert.ok(cur, 'a sample after its TYPE');
    const name = m[1]!;
    const allowed =
      cur.type === 'histogram' ? [`${cur.name}_bucket`, `${cur.name}_sum`, `${cur.name}_count`] : [cur.name];
    assert.ok(allowed.includes(name), `${name} belongs to ${cur.name}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL_RE)) {
      assert.ok(!(l[1]! in labels), 'no repeated label');
      labels[l[1]!] = unescapeText(l[2]!);
    }
    cur.samples.push({ name, labels, value: num(m[3]!) });
  }
  return families;
}

const HOSTILE = 'we"b\\01\nx}{ ,=# \u00e9';

const plans: PlanRow[] = [
  {
    vmid: 101,
    node: 'pve1',
    name: HOSTILE,
    type: 'lxc',
    updates_available: 12,
    security_updates: 3,
    skip_reason: null,
  },
  { vmid: 205, node: 'pve2', name: 'db', type: 'qemu', updates_available: 0, security_updates: 0 },
  {
    vmid: 300,
    node: 'pve1',
    name: 'off',
    type: 'qemu',
    updates_available: 0,
    security_updates: 0,
    skip_reason: 'stopped',
  },
];
type RunSeed = Pick<RunSummary, 'state' | 'guests'> & { ended_at?: string; dry_run?: boolean };
const seeds: RunSeed[] = [
  { state: 'ok', ended_at: '2026-01-01T00:00:10.000Z', guests: { '101': 'updated', '205': 'failed' } },
  { state: 'warnings', ended_at: '2026-01-02T00:00:00.500Z', guests: { '205': 'up-to-date', '101': 'refused' } },
  { state: 'ok', ended_at: '2026-01-03T00:00:00.000Z', dry_run: true, guests: { '101': 'up-to-date' } },
  { state: 'error', ended_at: '2026-01-04T00:00:00.000Z', guests: { '101': 'rolled-back' } },
  { state: 'running', guests: { '101': 'updated' } },
  { state: 'ok', ended_at: '2025-12-01T00:00:00.000Z', guests: { '101': 'updated', '7': 'up-to-date' } },
];
// the real run store (files in a temp dir) serves the metrics, as in the daemon
const runsDir = mkdtempSync(join(tmpdir(), 'pvepatch-metrics-'));
after(() => rmSync(runsDir, { recursive: true, force: true }));
const runs = new RunStore(join(runsDir, 'runs'), runsDir, () => 100);
await runs.start();
for (const [i, seed] of seeds.entries()) {
  const started = seed.ended_at ?? '2026-02-01T00:00:00.000Z';
  await runs.put({ id: `r${i}`, started_at: started, selector: 'all', dry_run: false, exclude: [], ...seed });
}
const empty = new RunStore(join(runsDir, 'empty'), runsDir, () => 100);
await empty.start();
const reboots = [{ status: 'completed' }, { status: 'completed' }, { status: 'timeout' }, { status: 'pending' }];

function fam(families: StrictFamily[], name: string): StrictFamily {
  const f = families.find((x) => x.name === name);
  assert.ok(f, `family ${name}`);
  return f;
}

describe('metrics exposition', () => {
  const requests = new RequestHistogram({ buckets: [0.1, 1] });
  requests.observe('GET', '/runs/:id', 200, 0.05);
  requests.observe('GET', '/runs/:id', 200, 0.5);
  requests.observe('POST', '/runs', 202, 3);
  requests.observe('BREW', 'route"with\\quote\nline', 418, 0.1);
  const text = renderMetrics({
    version: '1.2.3-"rc"\\',
    plans: () => plans,
    runs: () => runs,
    reboots: () => reboots,
    requests,
  });

  it('follows the strict line grammar, every family with HELP and TYPE', () => {
    const families = strictParse(text);
    assert.deepEqual(
      families.map((f) => `${f.name}:${f.type}`),
      [
        'pvepatch_build_info:gauge',
        'pvepatch_guest_updates_pending:gauge',
        'pvepatch_guest_security_updates_pending:gauge',
        'pvepatch_runs_total:gauge',
        'pvepatch_guest_last_success_timestamp_seconds:gauge',
        'pvepatch_reboots_total:gauge',
        'pvepatch_api_request_duration_seconds:histogram',
      ],
    );
    for (const f of families) assert.ok(f.help.length > 0, `${f.name} has help`);
  });

  it('gives the right values, label escaping surviving the round trip', () => {
    const families = strictParse(text);
    assert.deepEqual(fam(families, 'pvepatch_build_info').samples, [
      { name: 'pvepatch_build_info', labels: { version: '1.2.3-"rc"\\' }, value: 1 },
    ]);
    assert.deepEqual(
      fam(families, 'pvepatch_guest_updates_pending').samples.map((s) => [s.labels, s.value]),
      [
        [{ vmid: '101', node: 'pve1', name: HOSTILE, type: 'lxc' }, 12],
        [{ vmid: '205', node: 'pve2', name: 'db', type: 'qemu' }, 0],
      ],
    );
    assert.deepEqual(
      fam(families, 'pvepatch_guest_security_updates_pending').samples.map((s) => [s.labels.vmid, s.value]),
      [
        ['101', 3],
        ['205', 0],
      ],
    );
    assert.deepEqual(
      Object.fromEntries(fam(families, 'pvepatch_runs_total').samples.map((s) => [s.labels.state, s.value])),
      { running: 1, ok: 3, warnings: 1, error: 1, interrupted: 0 },
    );
    assert.deepEqual(
      fam(families, 'pvepatch_guest_last_success_timestamp_seconds').samples.map((s) => [s.labels, s.value]),
      [
        [{ vmid: '7' }, Date.parse('2025-12-01T00:00:00.000Z') / 1000],
        [{ vmid: '101' }, Date.parse('2026-01-01T00:00:10.000Z') / 1000],
        [{ vmid: '205' }, 1767312000.5],
      ],
    );
    assert.deepEqual(
      Object.fromEntries(fam(families, 'pvepatch_reboots_total').samples.map((s) => [s.labels.status, s.value])),
      { pending: 1, sent: 0, rebooting: 0, completed: 2, failed: 0, timeout: 1 },
    );
    const h = fam(families, 'pvepatch_api_request_duration_seconds').samples;
    const series = (method: string, route: string) =>
      Object.fromEntries(
        h
          .filter((s) => s.labels.method === method && s.labels.route === route)
          .map((s) => [s.name.endsWith('_bucket') ? `le=${s.labels.le}` : s.name.split('_').at(-1)!, s.value]),
      );
    assert.deepEqual(series('GET', '/runs/:id'), { 'le=0.1': 1, 'le=1': 2, 'le=+Inf': 2, sum: 0.55, count: 2 });
    assert.deepEqual(series('POST', '/runs'), { 'le=0.1': 0, 'le=1': 0, 'le=+Inf': 1, sum: 3, count: 1 });
    assert.deepEqual(series('OTHER', 'route"with\\quote\nline'), {
      'le=0.1': 1,
      'le=1': 1,
      'le=+Inf': 1,
      sum: 0.1,
      count: 1,
    });
    assert.ok(h.every((s) => ['200', '202', '418'].includes(s.labels.code!)));
  });

  it('parses with parse-prometheus-text-format to the same families and values', () => {
    const parsed = parsePrometheusTextFormat(text);
    const strict = strictParse(text);
    assert.deepEqual(
      parsed.map((f) => [f.name, f.type, f.help]),
      strict.map((f) => [f.name, f.type.toUpperCase(), f.help]),
    );
    for (const f of parsed) {
      if (f.type === 'HISTOGRAM') continue;
      const s = strict.find((x) => x.name === f.name)!;
      assert.deepEqual(
        f.metrics.map((m) => [m.labels ?? {}, num(m.value!)]),
        s.samples.map((x) => [x.labels, x.value]),
        f.name,
      );
    }
    // this parser folds a histogram's label sets into one (prom2json does not); its reading of a
    // single-series histogram is checked below, the labelled one by the strict grammar above
    const one = new RequestHistogram({ buckets: [0.25, 2] });
    one.observe('GET', '/version', 200, 0.2);
    one.observe('GET', '/version', 200, 1.5);
    const [hist] = parsePrometheusTextFormat(one.render().join('\n'));
    assert.equal(hist!.name, 'pvepatch_api_request_duration_seconds');
    assert.equal(hist!.type, 'HISTOGRAM');
    assert.deepEqual(Object.fromEntries(Object.entries(hist!.metrics[0]!.buckets!).map(([k, v]) => [k, Number(v)])), {
      '0.25': 1,
      '2': 2,
      '+Inf': 2,
    });
  });

  it('leaves out the plan families when there are no cached plans', () => {
    const t = renderMetrics({ version: '1', plans: () => undefined, runs: () => empty, reboots: () => [] });
    const names = strictParse(t).map((f) => f.name);
    assert.ok(!names.includes('pvepatch_guest_updates_pending'));
    assert.ok(names.includes('pvepatch_runs_total'));
    assert.equal(parsePrometheusTextFormat(t).length, names.length);
  });

  it('keeps label cardinality bounded', () => {
    const h = new RequestHistogram({ maxSeries: 3 });
    for (let i = 0; i < 100; i++) h.observe('GET', `/r${i}`, 200, 0.01);
    const routes = new Set(strictParse(`${h.render().join('\n')}\n`)[0]!.samples.map((s) => s.labels.route));
    assert.deepEqual([...routes].sort(), ['/r0', '/r1', '/r2', 'other']);
  });
});

describe('GET /metrics and the request timer', () => {
  let server: Server;
  let port: number;
  const requests = new RequestHistogram();

  before(async () => {
    const app = express();
    app.use(requestTimer(requests));
    const r = express.Router();
    r.get('/runs/:id', (_req, res) => {
      res.json({ data: {} });
    });
    r.get('/boom', () => {
      throw new Error('boom');
    });
    registerMetricsRoute(r, { version: '0.1.0', runs: () => runs, requests });
    app.use('/api/v1', r);
    app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ error: { code: 'internal', message: 'boom' } });
    });
    await new Promise<void>((resolve) => {
      server = app.listen(0, '127.0.0.1', () => resolve());
    });
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const get = (path: string) =>
    new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body }));
      })
        .on('error', reject)
        .end();
    });

  it('serves the text format with its content type and times requests by route template', async () => {
    await get('/api/v1/runs/abc');
    await get('/api/v1/runs/def');
    await get('/api/v1/boom');
    await get('/api/v1/no/such/path');
    const res = await get('/api/v1/metrics');
    assert.equal(res.status, 200);
    assert.equal(res.type, METRICS_CONTENT_TYPE);
    const h = fam(strictParse(res.body), 'pvepatch_api_request_duration_seconds').samples;
    const counts = Object.fromEntries(
      h
        .filter((s) => s.name.endsWith('_count'))
        .map((s) => [`${s.labels.method} ${s.labels.route} ${s.labels.code}`, s.value]),
    );
    assert.deepEqual(counts, { 'GET /runs/:id 200': 2, 'GET /boom 500': 1, 'GET unmatched 404': 1 });
    assert.ok(parsePrometheusTextFormat(res.body).length > 0);
  });
});
