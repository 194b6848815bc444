// `npm run bench`: speed and memory of the main paths, written to docs/bench.md. Never asserted in tests.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ProxmoxClient } from '../../daemon/proxmox/client.js';
import { listGuests, parseResources } from '../../daemon/proxmox/inventory.js';
import { parseSelector, selectGuests } from '../../daemon/proxmox/selectors.js';
import { parserModules } from '../adversarial/parser-modules.js';
import { runCorpus } from '../adversarial/run-corpus.js';
import { startEnv } from '../e2e/harness.js';
import { startSim } from '../sim/server.js';
import type { SimGuest } from '../sim/types.js';
import { apiMarkdown, apiOptions, benchApiMemory, idleRss, spliceSection } from './api.js';
import { benchFleet, type FleetRow, fleetMarkdown } from './fleet.js';

const rows: string[][] = [];
const record = (what: string, value: string, note = '') => {
  rows.push([what, value, note]);
  process.stdout.write(`${what}: ${value} ${note}\n`);
};
const ms = (n: number) => `${n.toFixed(1)} ms`;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

/** Inventory parsing and selection on a large synthetic cluster (pure CPU). */
function benchInventory(): void {
  const resources = Array.from({ length: 10_000 }, (_, i) => ({
    id: `lxc/${1000 + i}`,
    type: i % 3 === 0 ? 'qemu' : 'lxc',
    vmid: 1000 + i,
    node: `pve${i % 16}`,
    name: `g${i}`,
    status: 'running',
    tags: i % 2 ? 'web;prod' : 'db',
    template: 0,
  }));
  const t = performance.now();
  const guests = parseResources(resources);
  const picked = selectGuests(parseSelector('all -tag:db -node:pve3 1000-5000'), guests);
  record('parse + select 10,000 resources', ms(performance.now() - t), `${picked.length} selected`);
}

/** The API client against the HTTPS simulator: sequential GETs of /cluster/resources. */
async function benchApi(): Promise<void> {
  const secret = randomUUID();
  const guests: SimGuest[] = Array.from({ length: 1000 }, (_, i) => ({
    vmid: 1000 + i,
    type: 'lxc',
    node: 'pve1',
    name: `g${i}`,
    status: 'running',
  }));
  const sim = await startSim({ guests, tokens: [{ id: 'bench@pve!bench', secret }] });
  const client = new ProxmoxClient({ url: sim.url, token: `bench@pve!bench=${secret}`, fingerprint: sim.fingerprint });
  try {
    await listGuests(client);
    const n = 100;
    const [, t] = await timed(async () => {
      for (let i = 0; i < n; i++) await listGuests(client);
    });
    record('GET /cluster/resources (1,000 guests) over TLS with a pinned fingerprint', ms(t / n), `mean of ${n}`);
  } finally {
    await client.close();
    await sim.close();
  }
}

/** The whole job on real guests: plan and run with concurrency 1 and 2, and the process's memory. */
async function benchLab(guestCount: number, concurrency: number): Promise<void> {
  const [env, setup] = await timed(() =>
    startEnv({
      guests: Array.from({ length: guestCount }, (_, i) => ({ vmid: 300 + i })),
      config: { concurrency: String(concurrency) },
    }),
  );
  try {
    record(`lab of ${guestCount} guests ready (cached base root)`, ms(setup));
    const [, plan] = await timed(() => env.cli('plan', 'all'));
    record(`plan ${guestCount} guests, concurrency ${concurrency}`, ms(plan), 'refresh + simulate in each guest');
    const [r, run] = await timed(() => env.cli('run', '--quiet', 'all'));
    if (r.code !== 0) throw new Error(`run failed: ${r.err || r.out}`);
    record(
      `run ${guestCount} guests (5 packages each), concurrency ${concurrency}`,
      ms(run),
      'snapshot + upgrade + report',
    );
    const [, noop] = await timed(() => env.cli('run', '--quiet', 'all'));
    record(`no-op run ${guestCount} guests, concurrency ${concurrency}`, ms(noop));
  } finally {
    await env.close();
  }
}

/** Every guest-text parser over the adversarial corpus of test/adversarial (its slowest input). */
async function benchParsers(): Promise<string> {
  const run = await runCorpus(parserModules(), { fixtureSize: 128 * 1024, bombSize: 1024 * 1024, runs: 12 }, 900_000);
  if (run.hung.length > 0) throw new Error(`parser did not finish: ${run.hung.join(', ')}`);
  const sorted = [...run.results].sort((a, b) => b.worstMs - a.worstMs);
  const worst = sorted[0]!;
  const inputs = sorted.reduce((n, r) => n + r.inputs, 0);
  record(
    'worst-case parse time over the adversarial corpus (all parsers)',
    ms(worst.worstMs),
    `${worst.parser.replace(/^daemon\/drivers\//, '')} on ${worst.worstInput}; ${sorted.length} parsers, ${inputs} parses of up to 1 MiB; per parser below`,
  );
  const lines = sorted.map(
    (r) =>
      `| ${r.parser.replace(/^daemon\//, '')} | ${ms(r.worstMs)} | ${r.worstInput.replaceAll('|', '\\|')} | ${r.inputs} |`,
  );
  return ['| parser | worst time | on input | inputs |', '|---|---|---|---|', ...lines].join('\n');
}

/** BENCH_SIZES=5,10,20 BENCH_REPEAT=3 BENCH_PCT_DELAY=0.4 (seconds; 0 skips the second pass). */
function fleetOptions() {
  const env = process.env;
  return {
    sizes: (env.BENCH_SIZES ?? '5,10,20').split(',').map(Number),
    repeat: Number(env.BENCH_REPEAT ?? 3),
    delay: Number(env.BENCH_PCT_DELAY ?? 0.4),
    log: (line: string) => process.stdout.write(`${line}\n`),
  };
}

const machine = () =>
  `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;

/** The daemon's API latency and memory (test/bench/api.ts), as the "API and memory" section. */
async function apiSection(): Promise<string> {
  const opts = apiOptions((line) => process.stdout.write(`${line}\n`));
  const result = await benchApiMemory(opts);
  // idle with an empty state, and (with a bundle) the sources through tsx, whose loader costs memory
  result.emptyIdleMib = (await idleRss(opts, opts.bundle, 0)).mib;
  if (opts.bundle) result.otherIdle = await idleRss(opts);
  return apiMarkdown(result, machine());
}

// BENCH=api: only the API and memory bench; its section of docs/bench.md is replaced, the rest kept
if (process.env.BENCH === 'api') {
  const section = await apiSection();
  const path = new URL('../../docs/bench.md', import.meta.url);
  writeFileSync(path, spliceSection(existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n', section));
  process.stdout.write('wrote the API and memory section of docs/bench.md\n');
  process.exit(0);
}

benchInventory();
await benchApi();
let fleet: FleetRow[] = [];
const fleetOpts = fleetOptions();
if (process.getuid?.() === 0) {
  await benchLab(6, 2);
  fleet = await benchFleet(fleetOpts);
} else throw new Error('the real-guest benchmarks need root (they mount overlay roots and enter namespaces)');
record(
  'peak RSS of the benchmark process (sim + daemon + CLI in one process)',
  `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
  'before the parser corpus, which runs in worker threads of the same process',
);
const parserTable = await benchParsers();
const apiMd = await apiSection();

const table = ['| what | result | note |', '|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const md = `# Benchmarks

Written by \`npm run bench\` (test/bench/bench.ts) on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} cores
(${cpus()[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}.
Wall-clock times vary about 2x with this machine's disk; the real-guest rows run real apt/dpkg in overlayfs roots.

${table}

## pvepatch against the shell loop admins run today

Fresh labs of ${fleetOpts.sizes.join(', ')} real Debian containers (5 packages to upgrade each, stale package
lists), all rolled back to the same baseline before every measurement. The **shell loop** re-implements
the most used community updater's core: for each container in turn \`pct exec <id> -- apt-get update\`,
then \`pct exec <id> -- env DEBIAN_FRONTEND=noninteractive apt-get -y dist-upgrade\` — no snapshot, no
backup gate, no check. pvepatch does its whole job: gate, planning (os-release, free space, dpkg audit,
lock probe, failed units, refresh, list), a snapshot unless \`protection: none\`, holds, the upgrade, post-state, verify and
report. "Outside guest commands" is the guests' time in Proxmox tasks and pvepatch itself; "orchestration"
leaves out the tasks. Headline rows are medians of ${fleetOpts.repeat}; concurrency 1 and 4 are one run each.

${fleetMarkdown(fleet, fleetOpts.delay)}

## Worst-case parse time per parser

Every function that reads guest text, over the adversarial corpus of \`test/adversarial\` (1 MiB lines,
10^5 elements, deep nesting, glob bombs, NUL/escape bytes, invalid UTF-8, real fixture lines cut and
repeated to 1 MiB or flooded with 40 000 brackets, fast-check generated texts). Before the linear
rewrite a 40 KB \`Inst a (1 [[[…\` line took 1.2 s in the apt parser, 16k \`<update>\` elements 0.75 s in the
zypper XML reader and the lock name \`*a*a*a*a*a*a*a*x\` 22 s in zypper's glob matching.

${parserTable}

${apiMd}`;
writeFileSync(new URL('../../docs/bench.md', import.meta.url), md);
process.stdout.write('wrote docs/bench.md\n');
