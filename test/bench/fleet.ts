/**
 * pvepatch against the shell loop admins run today, on the same lab of real Debian containers.
 *
 * The loop (labelled "shell loop" in docs/bench.md) is a re-implementation of the most used
 * community updater's core: for each container in turn, `pct exec <id> -- apt-get update`, then
 * `pct exec <id> -- env DEBIAN_FRONTEND=noninteractive apt-get -y dist-upgrade`; no snapshot, no
 * gate, no check. Every measurement starts from the same state: each guest is rolled back (by the
 * lab, outside any timing) to a baseline taken once, with stale package lists and 5 demo packages
 * at 1.0 while 1.1 is in the repository. The lab's pct shim can model real pct's start-up cost.
 */
import { performance } from 'node:perf_hooks';
import type { GuestResult, RunReport } from '../../daemon/engine/types.js';
import { startEnv } from '../e2e/harness.js';
import type { Lab } from '../guests/lab.js';
import { run } from '../guests/run.js';

const BASE = 'bench-base';
/** The loop, as admins write it; container ids are its arguments, nothing is interpolated. */
const SHELL_LOOP = [
  'for id in "$@"; do',
  '  "$PCT" exec "$id" -- apt-get update >/dev/null || exit 1',
  '  "$PCT" exec "$id" -- env DEBIAN_FRONTEND=noninteractive apt-get -y dist-upgrade >/dev/null || exit 1',
  'done',
].join('\n');

export interface FleetRow {
  guests: number;
  delay: number;
  who: string;
  /** Median wall time over the repetitions, ms. */
  wallMs: number;
  runs: number[];
  tripsPerGuest?: number;
  /** Round trips per guest for `pvepatch plan` (max over guests), measured once per lab. */
  planTrips?: number;
  commandsPerGuest?: number;
  /** Share of the guests' time spent outside guest commands (tasks + pvepatch's own), median run. */
  outsideShare?: number;
  /** Share of the guests' time that is neither a guest command nor a Proxmox task. */
  overheadShare?: number;
}

export interface FleetOptions {
  sizes: number[];
  repeat: number;
  /** Seconds of modelled `pct exec` start-up for the second pass (0: none). */
  delay: number;
  log: (line: string) => void;
}

interface Config {
  who: string;
  protection?: 'snapshot' | 'none';
  concurrency?: number;
  /**
   * The headline rows (the loop and the default concurrency 2) are the median of `repeat` runs, with
   * and without the start-up delay; the concurrency sweep (1 and 4) is one run without it, which
   * keeps the whole bench near twenty minutes on this machine kind.
   */
  sweep?: boolean;
}

export const LOOP = 'shell loop';
/** The loop enters each guest twice: `pct exec … apt-get update`, `pct exec … dist-upgrade`. */
const LOOP_EXECS = 2;
const CONFIGS: Config[] = [
  { who: LOOP },
  ...[2, 1, 4].flatMap((c): Config[] => [
    { who: `pvepatch, snapshot, concurrency ${c}`, protection: 'snapshot', concurrency: c, sweep: c !== 2 },
    { who: `pvepatch, protection none, concurrency ${c}`, protection: 'none', concurrency: c, sweep: c !== 2 },
  ]),
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchFleet(opts: FleetOptions): Promise<FleetRow[]> {
  const rows: FleetRow[] = [];
  for (const n of opts.sizes) {
    const vmids = Array.from({ length: n }, (_, i) => 400 + i);
    // the daemon in its own process, as on a node: the simulated API (in this process) does not
    // share its event loop, so API latency is not counted as pvepatch's own time
    const env = await startEnv({
      guests: vmids.map((vmid) => ({ vmid })),
      config: { snapshot_keep: '100' },
      daemonProcess: true,
    });
    try {
      for (const vmid of vmids) await env.lab.snapshotBackend.create(vmid, BASE);
      for (const delay of opts.delay > 0 ? [0, opts.delay] : [0]) {
        await env.lab.setPctExecDelay(delay);
        for (const cfg of CONFIGS) {
          if (delay > 0 && cfg.sweep) continue;
          if (cfg.protection) {
            await env.restartDaemon({ protection: cfg.protection, concurrency: String(cfg.concurrency) });
          }
          const samples: { ms: number; report?: RunReport }[] = [];
          for (let i = 0; i < (cfg.sweep ? 1 : opts.repeat); i++) {
            await reset(env.lab, vmids);
            samples.push(cfg.protection ? await pvepatchRun(env.cli, n) : await shellLoop(env.lab, vmids));
          }
          const row = summarise(n, delay, cfg.who, samples);
          if (cfg.protection === 'snapshot' && cfg.concurrency === 2 && delay === 0) {
            await reset(env.lab, vmids);
            row.planTrips = await planTrips(env.cli);
          }
          rows.push(row);
          opts.log(`${n} guests, pct delay ${delay}s, ${cfg.who}: ${row.wallMs.toFixed(0)} ms`);
        }
      }
    } finally {
      await env.lab.setPctExecDelay(0);
      await env.close();
    }
  }
  return rows;
}

/** Back to the baseline: the lab's own rollback (stop, restore the overlay, start), untimed. */
async function reset(lab: Lab, vmids: number[]): Promise<void> {
  for (const vmid of vmids) await lab.snapshotBackend.rollback(vmid, BASE);
}

async function shellLoop(lab: Lab, vmids: number[]): Promise<{ ms: number }> {
  const t = performance.now();
  const res = await run(['bash', '-c', SHELL_LOOP, 'shell-loop', ...vmids.map(String)], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PCT: lab.pctPath },
    timeoutMs: 3_600_000,
  });
  const ms = performance.now() - t;
  if (res.exitCode !== 0) throw new Error(`shell loop failed: ${res.stderr.slice(-2000)}`);
  return { ms };
}

async function pvepatchRun(
  cli: (...argv: string[]) => Promise<{ code: number; out: string; err: string }>,
  n: number,
): Promise<{ ms: number; report: RunReport }> {
  const t = performance.now();
  const r = await cli('--output-format', 'json', 'run', 'all');
  const ms = performance.now() - t;
  const report = JSON.parse(r.out) as RunReport;
  const updated = report.guests.filter((g) => g.outcome === 'updated').length;
  if (r.code !== 0 || updated !== n) throw new Error(`pvepatch run: ${updated}/${n} updated: ${r.err || r.out}`);
  return { ms, report };
}

async function planTrips(cli: (...argv: string[]) => Promise<{ code: number; out: string }>): Promise<number> {
  const r = await cli('--output-format', 'json', 'plan', 'all');
  const plans = JSON.parse(r.out) as { exec?: { round_trips: number } }[];
  return Math.max(...plans.map((p) => p.exec?.round_trips ?? Number.POSITIVE_INFINITY));
}

function summarise(n: number, delay: number, who: string, samples: { ms: number; report?: RunReport }[]): FleetRow {
  const runs = samples.map((s) => s.ms);
  const row: FleetRow = { guests: n, delay, who, wallMs: median(runs), runs };
  const mid = samples.find((s) => s.ms === row.wallMs)?.report;
  if (!mid) return { ...row, tripsPerGuest: LOOP_EXECS, commandsPerGuest: LOOP_EXECS };
  const sum = (f: (g: GuestResult) => number) => mid.guests.reduce((a, g) => a + f(g), 0);
  row.tripsPerGuest = sum((g) => g.exec?.round_trips ?? 0) / n;
  row.commandsPerGuest = sum((g) => g.exec?.commands ?? 0) / n;
  const busy = sum((g) => (g.timing ? g.timing.total_ms - g.timing.queued_ms : 0));
  row.outsideShare = sum((g) => (g.timing ? g.timing.tasks_ms + g.timing.other_ms : 0)) / busy;
  row.overheadShare = sum((g) => g.timing?.other_ms ?? 0) / busy;
  return row;
}

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(1)} %`);

/** The side-by-side table and the targets, each stated as met or missed. */
export function fleetMarkdown(rows: FleetRow[], delay: number): string {
  const loopOf = (r: FleetRow) => rows.find((x) => x.guests === r.guests && x.delay === r.delay && x.who === LOOP)!;
  const table = [
    '| guests | pct start-up | who | wall time (median) | runs | vs shell loop | round trips / guest | commands / guest | outside guest commands | orchestration |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const loop = loopOf(r);
      const ratio =
        r === loop
          ? '1.00×'
          : `${(r.wallMs / loop.wallMs).toFixed(2)}× the time (${(loop.wallMs / r.wallMs).toFixed(2)}× as fast)`;
      return `| ${r.guests} | ${r.delay} s | ${r.who} | ${(r.wallMs / 1000).toFixed(2)} s | ${r.runs.map((x) => (x / 1000).toFixed(2)).join(', ')} | ${ratio} | ${r.tripsPerGuest} | ${r.commandsPerGuest} | ${pct(r.outsideShare)} | ${pct(r.overheadShare)} |`;
    }),
  ].join('\n');
  const big = rows.filter((r) => r.guests >= 10);
  const pick = (who: string) => big.filter((r) => r.who === who);
  const verdict = (ok: boolean) => (ok ? '**met**' : '**missed**');
  const ratios = (who: string) => pick(who).map((r) => ({ r, x: r.wallMs / loopOf(r).wallMs }));
  const snap = ratios('pvepatch, snapshot, concurrency 2');
  const none = ratios('pvepatch, protection none, concurrency 2');
  const fmt = (xs: { r: FleetRow; x: number }[], inv = false) =>
    xs.map(({ r, x }) => `${r.guests} guests, ${r.delay} s: ${(inv ? 1 / x : x).toFixed(2)}×`).join('; ');
  const pv = rows.filter((r) => r.who !== LOOP);
  const maxTrips = Math.max(...pv.map((r) => r.tripsPerGuest ?? 0));
  const maxPlan = Math.max(...rows.map((r) => r.planTrips ?? 0));
  const maxOverhead = Math.max(...pv.map((r) => r.overheadShare ?? 0));
  const targets = [
    `- Snapshot before each guest, 10 and 20 guests, wall time ≤ 1.0× the shell loop's (concurrency 2): ${verdict(snap.every((s) => s.x <= 1))} — ${fmt(snap)}.`,
    `- \`protection: none\`, 10 and 20 guests, ≥ 1.8× as fast as the shell loop (concurrency 2): ${verdict(none.every((s) => 1 / s.x >= 1.8))} — ${fmt(none, true)}.`,
    `- At most 4 guest round trips per guest for a full apt run: ${verdict(maxTrips <= 4)} — ${maxTrips} (the planning stages and the patch stages, one shell session each); at most 2 for a plan: ${verdict(maxPlan <= 2)} — ${maxPlan}.`,
    `- Orchestration overhead (neither guest commands nor Proxmox tasks nor waiting for a pool slot) ≤ 5 % of the guests' time: ${verdict(maxOverhead <= 0.05)} — at most ${pct(maxOverhead)}.`,
  ].join('\n');
  return `${table}\n\n### Targets\n\n${targets}\n\nThe modelled \`pct exec\` start-up is ${delay} s (\`BENCH_PCT_DELAY\`), written to the lab's \`pct-exec-delay\` file; the shim sleeps that long before it enters the guest, as Proxmox's Perl \`pct\` spends loading before it attaches.`;
}
