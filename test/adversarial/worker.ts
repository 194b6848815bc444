/**
 * Runs every text parser of some modules over the adversarial corpus in a worker thread, so a
 * parser that hangs can be terminated from outside. Posts `{start}` before each call (so a hang
 * names the culprit) and `{done, results}` at the end.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { PvepatchError } from '../../daemon/core/errors.js';
import { fixtureInputs, fragments, genericInputs, grow, type Input, MIB } from './corpus.js';
import { fixtureDirsFor, loadParsers, type Parser } from './parser-modules.js';

export interface WorkerJob {
  modules: string[];
  /** Size of fixture-grown inputs; generic bombs are 1 MiB. */
  fixtureSize: number;
  /** Size of the cut-and-repeated line bombs. */
  bombSize: number;
  /** fast-check runs per parser (small random texts, and random fragments grown to fixtureSize). */
  runs: number;
}

export interface ParseResult {
  parser: string;
  /** The slowest input and its time. */
  worstInput: string;
  worstMs: number;
  inputs: number;
  /** Anything thrown that is not a PvepatchError: an unclean failure. */
  unclean: string[];
}

const job = workerData as WorkerJob;
const post = (m: unknown) => parentPort!.postMessage(m);

function runOne(p: Parser, input: Input, r: ParseResult): void {
  post({ start: `${p.id} on ${input.name}` });
  const t0 = performance.now();
  try {
    p.fn(input.text, input.text);
  } catch (err) {
    if (!(err instanceof PvepatchError)) r.unclean.push(`${input.name}: ${(err as Error)?.stack ?? String(err)}`);
  }
  const ms = performance.now() - t0;
  r.inputs++;
  if (ms > r.worstMs) Object.assign(r, { worstMs: ms, worstInput: input.name });
}

const parsers = await loadParsers(job.modules);
const generic = genericInputs(MIB);
const results: ParseResult[] = [];
for (const p of parsers) {
  const dirs = fixtureDirsFor(p.module);
  const r: ParseResult = { parser: p.id, worstInput: '', worstMs: 0, inputs: 0, unclean: [] };
  for (const input of generic) runOne(p, input, r);
  for (const input of fixtureInputs(dirs, job.fixtureSize, job.bombSize)) runOne(p, input, r);
  const text = fc.array(fc.constantFrom(...fragments(dirs)), { maxLength: 400 }).map((a) => a.join(''));
  fc.assert(
    fc.property(text, (t) => {
      runOne(p, { name: `generated ${JSON.stringify(t.slice(0, 60))}`, text: t }, r);
      runOne(p, { name: `generated ${JSON.stringify(t.slice(0, 60))} grown`, text: grow(t, job.fixtureSize) }, r);
    }),
    { numRuns: job.runs, seed: 4711 },
  );
  results.push(r);
}
post({ done: true, results });
