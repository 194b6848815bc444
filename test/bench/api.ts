/**
 * The daemon's API latency and memory against a large simulated cluster, the daemon in its own
 * process (as systemd runs it), so neither the simulator nor this process's work shares its heap or
 * event loop. The guests are API-only qemu VMs with the agent enabled: the daemon lists them, pings
 * their agent and asks it to run os-release, which the simulator refuses (no lab root behind them),
 * so every guest costs the daemon real API round trips and a failed-guest record, never a real apt.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ApiClient } from '../../daemon/cli/api-client.js';
import { formatRunId } from '../../daemon/core/run-id.js';
import { type RunRow, runFileName } from '../../daemon/store/runs.js';
import type { RunSummary, State } from '../../daemon/store/state.js';
import { unitNodeFlags } from '../e2e/daemon-process.js';
import { startEnv } from '../e2e/harness.js';
import type { SimGuest } from '../sim/types.js';

export interface ApiBenchOptions {
  /** API-only VMs in the simulator (spread over its nodes pve1 and pve2). */
  guests: number;
  /** Runs written into state.json before the daemon starts. */
  seededRuns: number;
  /** Sequential requests per endpoint. */
  requests: number;
  /** Run the built bundle (as installed) instead of the sources through tsx. */
  bundle?: string;
  log: (line: string) => void;
}

export interface Latency {
  what: string;
  n: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
  /** Bytes of the answer's JSON (the last one). */
  bytes: number;
  /** Mean time in the daemon (its own request histogram: from the request to the answer's end). */
  serverMean: number;
  note: string;
}

export interface ApiBenchResult {
  opts: Omit<ApiBenchOptions, 'log'>;
  daemon: string;
  /** Runs the daemon served right after start (it read them all) and after the run (trimmed on write). */
  runsKeptAtStart: number;
  runsKeptAfterWrite: number;
  latencies: Latency[];
  planMs: number;
  planOutcome: string;
  runMs: number;
  runOutcome: string;
  idleRssMib: number;
  idleSamples: number;
  peakRssMib: number;
  peakSamples: number;
  hwmMib: number;
  /** Idle RSS of the same daemon in its other form (bundle or sources), for comparison. */
  otherIdle?: { daemon: string; mib: number };
  /** Idle RSS of the same daemon started with an empty state. */
  emptyIdleMib?: number;
}

/** Idle is measured from this long after the daemon listens (its start-up work done) … */
const IDLE_SETTLE_MS = 30_000;
/** … for this long. */
const IDLE_SAMPLE_MS = 5_000;
const TARGET_P99_MS = 50;
const TARGET_IDLE_MIB = 80;
const TARGET_PEAK_MIB = 150;

function rssMib(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? Number.NaN) / 1024;
}

/** VmRSS of `pid` every 100 ms until stopped. */
function sampler(pid: number): { stop(): number[] } {
  const samples: number[] = [];
  const take = () => {
    try {
      samples.push(rssMib(pid));
    } catch {
      // the process is gone
    }
  };
  take();
  const timer = setInterval(take, 100);
  return {
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
/** Nearest-rank percentile. */
const pctl = (s: number[], p: number) => s[Math.max(0, Math.ceil(p * s.length) - 1)]!;
const median = (xs: number[]) => pctl(sorted(xs), 0.5);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The daemon's own sum and count of GET requests of a route template, from its /metrics. */
function serverTotals(socket: string, route: string): Promise<{ sum: number; count: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path: '/api/v1/metrics' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => {
        const pick = (suffix: string) =>
          text
            .split('\n')
            .filter(
              (l) =>
                l.startsWith(`pvepatch_api_request_duration_seconds_${suffix}{`) &&
                l.includes(`route="${route}"`) &&
                l.includes('method="GET"') &&
                l.includes('code="200"'),
            )
            .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
        resolve({ sum: pick('sum'), count: pick('count') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function measure(
  what: string,
  n: number,
  note: string,
  fn: (client: ApiClient) => Promise<unknown>,
  socket: string,
  route: string,
): Promise<Latency> {
  const client = new ApiClient(socket);
  let last: unknown = await fn(client); // warm-up, not counted
  const before = await serverTotals(socket, route);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    last = await fn(client);
    times.push(performance.now() - t);
  }
  const after = await serverTotals(socket, route);
  const s = sorted(times);
  return {
    serverMean:
      after.count > before.count ? ((after.sum - before.sum) / (after.count - before.count)) * 1000 : Number.NaN,
    what,
    n,
    mean: times.reduce((a, b) => a + b, 0) / n,
    p50: pctl(s, 0.5),
    p99: pctl(s, 0.99),
    max: s[s.length - 1]!,
    bytes: Buffer.byteLength(JSON.stringify({ data: last })),
    note,
  };
}

/** Finished runs as the engine records them, oldest first, each naming 20 of the guests. */
function seedRuns(count: number, vmids: number[]): RunSummary[] {
  const start = Math.floor(Date.now() / 1000) - count * 3600;
  return Array.from({ length: count }, (_, i) => {
    const t = start + i * 3600;
    const guests: RunSummary['guests'] = {};
    for (let k = 0; k < 20; k++) {
      const vmid = vmids[(i * 20 + k) % vmids.length]!;
      guests[String(vmid)] = k % 7 === 0 ? 'up-to-date' : 'updated';
    }
    return {
      id: formatRunId({
        node: 'pve1',
        start: t,
        nonce: i % 0x10000,
        type: 'run',
        vmid: '',
        trigger: 'schedule',
        user: 'root@pam',
      }),
      state: 'ok',
      started_at: new Date(t * 1000).toISOString(),
      ended_at: new Date((t + 300) * 1000).toISOString(),
      selector: 'all',
      dry_run: false,
      security_only: false,
      exclude: [],
      guests,
      report: `/var/lib/pvepatch/reports/run-${i}.json`,
    };
  });
}

const count = (outcomes: Record<string, string>) => {
  const by = new Map<string, number>();
  for (const o of Object.values(outcomes)) by.set(o, (by.get(o) ?? 0) + 1);
  return [...by].map(([k, v]) => `${v} ${k}`).join(', ') || 'no guests';
};

/** An empty state.json and one file per seeded run under runs/, as the daemon writes them. */
function seedState(stateDir: string, runs: readonly RunSummary[]): void {
  mkdirSync(join(stateDir, 'runs'), { recursive: true, mode: 0o700 });
  const state: State = { version: 3, pending_holds: [], snapshots: [], reboots: [] };
  writeFileSync(join(stateDir, 'state.json'), `${JSON.stringify(state, null, 1)}\n`, { mode: 0o600 });
  for (const run of runs)
    writeFileSync(join(stateDir, 'runs', runFileName(run.id)), JSON.stringify(run), { mode: 0o600 });
}

export async function benchApiMemory(opts: ApiBenchOptions): Promise<ApiBenchResult> {
  const { log } = opts;
  const vmids = Array.from({ length: opts.guests }, (_, i) => 10_000 + i);
  const apiOnlyGuests: SimGuest[] = vmids.map((vmid, i) => ({
    vmid,
    type: 'qemu',
    node: i % 2 ? 'pve2' : 'pve1',
    name: `vm${vmid}`,
    status: 'running',
    ostype: 'l26',
    tags: i % 3 ? ['web'] : ['db'],
    config: { agent: '1' },
  }));
  const seeded = seedRuns(opts.seededRuns, vmids);
  const env = await startEnv({
    guests: [],
    apiOnlyGuests,
    daemonProcess: true,
    ...(opts.bundle ? { bundle: opts.bundle } : {}),
    beforeDaemon: async ({ stateDir }) => {
      seedState(stateDir, seeded);
    },
  });
  const socket = join(env.dir, 'run', 'api.sock');
  try {
    const pid = env.proc!.pid;
    if (!existsSync(`/proc/${pid}/status`) || env.proc!.child.exitCode !== null)
      throw new Error(`the daemon did not start:\n${env.daemonLog.join('\n')}`);
    // idle: started and left alone (start-up work done, the watchdog pinging)
    await sleep(IDLE_SETTLE_MS);
    const idle = sampler(pid);
    await sleep(IDLE_SAMPLE_MS);
    const idleSamples = idle.stop();
    log(`api bench: idle RSS ${median(idleSamples).toFixed(1)} MiB (${idleSamples.length} samples)`);

    const api = new ApiClient(socket);
    const runsKeptAtStart = (await api.page<RunRow>('/runs', { limit: 1 })).total;
    const mid = seeded[Math.floor(seeded.length / 2)]!.id;
    const latencies: Latency[] = [];
    const n = opts.requests;
    latencies.push(
      await measure(
        `GET /runs (${runsKeptAtStart} runs stored)`,
        n,
        'the first page: the newest 50 runs',
        (c) => c.get('/runs'),
        socket,
        '/runs',
      ),
    );
    log(`api bench: ${latencies.at(-1)!.what}: p99 ${latencies.at(-1)!.p99.toFixed(1)} ms`);
    latencies.push(
      await measure(
        `GET /runs?start=${Math.floor(runsKeptAtStart / 2)}&limit=50 (${runsKeptAtStart} runs stored)`,
        n,
        'a page from the middle of the history',
        (c) => c.get('/runs', { start: Math.floor(runsKeptAtStart / 2), limit: 50 }),
        socket,
        '/runs',
      ),
    );
    latencies.push(
      await measure(
        `GET /runs/<id> (${runsKeptAtStart} runs stored)`,
        n,
        'a run from the middle of the list',
        (c) => c.get(`/runs/${encodeURIComponent(mid)}`),
        socket,
        '/runs/:id',
      ),
    );

    // plans cached for every guest, then the overview
    let t = performance.now();
    const plans = await api.post<{ vmid: number; skip_reason: string | null }[]>('/plan', {
      selector: ['all'],
    });
    const planMs = performance.now() - t;
    // one line per kind of reason: the guest's node and vmid left out
    const kind = (why: string | null) =>
      (why ?? 'planned')
        .replace(/\/nodes\/[^/]+\/qemu\/\d+\//g, '/nodes/<node>/qemu/<vmid>/')
        .replace(/VM \d+/g, 'VM <vmid>');
    const reasons = count(Object.fromEntries(plans.map((p) => [p.vmid, kind(p.skip_reason)])));
    const planOutcome = `${plans.length} plans: ${reasons}`;
    log(`api bench: plan ${opts.guests} guests: ${planMs.toFixed(0)} ms, ${planOutcome}`);
    latencies.push(
      await measure(
        `GET /fleet (${opts.guests} guests, plans cached)`,
        n,
        'the guest list from the PVE API (simulator) at most 10 s old; last run per guest from the run index; one answer serves a caller and selector for 1 s unless plans or runs changed',
        (c) => c.get('/fleet'),
        socket,
        '/fleet',
      ),
    );
    log(`api bench: ${latencies.at(-1)!.what}: p99 ${latencies.at(-1)!.p99.toFixed(1)} ms`);

    // a run over every guest: peak memory
    const peak = sampler(pid);
    t = performance.now();
    const started = await api.post<RunSummary>('/runs', { selector: ['all'] });
    let run = started;
    while (run.state === 'running') {
      await sleep(500);
      run = (await api.get<RunSummary>(`/runs/${encodeURIComponent(started.id)}`))!;
    }
    const runMs = performance.now() - t;
    const peakSamples = peak.stop();
    const hwmMib = env.proc!.peakRssMib();
    const runOutcome = `${run.state}: ${count(run.guests)}`;
    log(`api bench: run ${opts.guests} guests: ${runMs.toFixed(0)} ms, ${runOutcome}`);

    const runsKeptAfterWrite = (await api.page<RunRow>('/runs', { limit: 1 })).total;
    latencies.push(
      await measure(
        `GET /runs/<id> (${runsKeptAfterWrite} runs stored; the ${opts.guests}-guest run)`,
        n,
        'the run just finished',
        (c) => c.get(`/runs/${encodeURIComponent(started.id)}`),
        socket,
        '/runs/:id',
      ),
    );
    latencies.push(
      await measure(
        `GET /fleet (${opts.guests} guests, after the run)`,
        n,
        'plans of patched or failed guests dropped; last run per guest',
        (c) => c.get('/fleet'),
        socket,
        '/fleet',
      ),
    );
    return {
      opts: { guests: opts.guests, seededRuns: opts.seededRuns, requests: opts.requests, bundle: opts.bundle },
      daemon: daemonForm(opts.bundle),
      runsKeptAtStart,
      runsKeptAfterWrite,
      latencies,
      planMs,
      planOutcome,
      runMs,
      runOutcome,
      idleRssMib: median(idleSamples),
      idleSamples: idleSamples.length,
      peakRssMib: Math.max(...peakSamples),
      peakSamples: peakSamples.length,
      hwmMib,
    };
  } finally {
    await env.close();
  }
}

const daemonForm = (bundle?: string) =>
  bundle
    ? 'a bundle built by scripts/build.mjs from the same sources (`BENCH_API_BUNDLE`), as installed'
    : 'the sources through tsx, as the tests run it';

/** Idle RSS of the daemon (sources through tsx, or a bundle) with the same seeded state and one guest. */
export async function idleRss(
  opts: ApiBenchOptions,
  bundle?: string,
  runs = opts.seededRuns,
): Promise<{ daemon: string; mib: number }> {
  const seeded = seedRuns(runs, [100]);
  const env = await startEnv({
    guests: [],
    apiOnlyGuests: [{ vmid: 100, type: 'qemu', node: 'pve1', name: 'vm100', status: 'running' }],
    daemonProcess: true,
    ...(bundle ? { bundle } : {}),
    beforeDaemon: async ({ stateDir }) => {
      seedState(stateDir, seeded);
    },
  });
  try {
    await sleep(IDLE_SETTLE_MS);
    const s = sampler(env.proc!.pid);
    await sleep(IDLE_SAMPLE_MS);
    return { daemon: daemonForm(bundle), mib: median(s.stop()) };
  } finally {
    await env.close();
  }
}

/**
 * BENCH_API_GUESTS=1000 BENCH_API_RUNS=10000 BENCH_API_REQUESTS=500; BENCH_API_BUNDLE=<path of a
 * bundle built from the same sources> runs the daemon from it (default: the sources through tsx).
 */
export function apiOptions(log: (line: string) => void): ApiBenchOptions {
  const env = process.env;
  return {
    guests: Number(env.BENCH_API_GUESTS ?? 1000),
    seededRuns: Number(env.BENCH_API_RUNS ?? 10_000),
    requests: Number(env.BENCH_API_REQUESTS ?? 500),
    ...(env.BENCH_API_BUNDLE ? { bundle: env.BENCH_API_BUNDLE } : {}),
    log,
  };
}

const f1 = (x: number) => x.toFixed(1);
const verdict = (ok: boolean) => (ok ? '**met**' : '**missed**');

export const API_SECTION = '## API and memory';

/** The section of docs/bench.md, with the issue's targets stated as met or missed. */
export function apiMarkdown(r: ApiBenchResult, machine: string): string {
  const rows = r.latencies.map(
    (l) =>
      `| ${l.what} | ${l.n} | ${f1(l.p50)} ms | ${f1(l.p99)} ms | ${f1(l.mean)} ms | ${f1(l.max)} ms | ${f1(l.serverMean)} ms | ${(l.bytes / 1024).toFixed(0)} KiB | ${l.note} |`,
  );
  const worst = r.latencies.reduce((a, b) => (b.p99 > a.p99 ? b : a));
  const misses = r.latencies.filter((l) => l.p99 > TARGET_P99_MS).map((l) => `${l.what}: ${f1(l.p99)} ms`);
  const targets = [
    `- API p99 ≤ ${TARGET_P99_MS} ms for run listing, run status and the fleet overview: ${verdict(misses.length === 0)} — worst ${f1(worst.p99)} ms (${worst.what})${misses.length ? `; over the target: ${misses.join('; ')}` : ''}.`,
    `- Daemon RSS idle ≤ ${TARGET_IDLE_MIB} MB: ${verdict(r.idleRssMib <= TARGET_IDLE_MIB)} — ${f1(r.idleRssMib)} MiB (median of ${r.idleSamples} samples ${IDLE_SETTLE_MS / 1000}–${(IDLE_SETTLE_MS + IDLE_SAMPLE_MS) / 1000} s after it listens, ${r.opts.seededRuns} runs stored)${r.emptyIdleMib === undefined ? '' : `; ${f1(r.emptyIdleMib)} MiB with an empty state`}${r.otherIdle ? `; ${f1(r.otherIdle.mib)} MiB with ${r.otherIdle.daemon} (${r.opts.seededRuns} runs)` : ''}.`,
    `- Daemon RSS peak during a run over ${r.opts.guests} guests ≤ ${TARGET_PEAK_MIB} MB: ${verdict(r.peakRssMib <= TARGET_PEAK_MIB)} — ${f1(r.peakRssMib)} MiB (max of ${r.peakSamples} samples; VmHWM ${f1(r.hwmMib)} MiB).`,
  ].join('\n');
  return `${API_SECTION}

Written by \`BENCH=api npm run bench\` (test/bench/api.ts) on ${new Date().toISOString().slice(0, 10)}: ${machine}.
The daemon runs in its own process (${r.daemon}, with the node options of systemd/pvepatchd.service's ExecStart: ${unitNodeFlags().join(' ')}); the PVE API simulator and the client run in the
benchmark's process. The simulator knows ${r.opts.guests} running qemu VMs over the nodes pve1 and pve2 (the
harness's two), agent enabled and no lab root behind them: the daemon lists them, pings each agent and
asks it to run its first command, which the simulator refuses, so each guest costs real API round trips
and a failed-guest record but no apt. The run store (\`<state_dir>/runs/\`, one file per run) is seeded with
${r.opts.seededRuns} finished runs (20 guests each) before the daemon starts; it served ${r.runsKeptAtStart} runs after start and
${r.runsKeptAfterWrite} after the run (\`runs_keep\`, default 10000, bounds them). In memory the daemon keeps one
small row per run (for the pages), each guest's last run, last success and last reboot status (for the fleet
overview and the metrics) and the running runs; a finished run is read from its file when asked for.

Each row is ${r.opts.requests} sequential requests (after one warm-up) through the unix socket with a fresh
\`ApiClient\` (a new connection per request), timed in the client. "mean in the daemon" is from the daemon's own request histogram (\`/metrics\`: from
the request's arrival to the answer's end); the rest is the client's connection and JSON parse. "answer" is the
size of the last JSON answer.

| request | n | p50 (median) | p99 | mean | max | mean in the daemon | answer | note |
|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

\`POST /plan\` over all ${r.opts.guests} guests (which caches the plans \`GET /fleet\` shows) took ${(r.planMs / 1000).toFixed(1)} s: ${r.planOutcome}.
The run over all ${r.opts.guests} guests (concurrency 2, the default) took ${(r.runMs / 1000).toFixed(1)} s: ${r.runOutcome}.

### Targets

${targets}
`;
}

/** Replaces the section in docs/bench.md (or appends it), leaving the others as they are. */
export function spliceSection(md: string, section: string): string {
  const start = md.indexOf(`\n${API_SECTION}\n`);
  if (start < 0) return `${md.trimEnd()}\n\n${section}`;
  const next = md.indexOf('\n## ', start + 1);
  return `${md.slice(0, start + 1)}${section}${next < 0 ? '' : `\n${md.slice(next + 1)}`}`;
}
