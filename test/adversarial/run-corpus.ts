/** Runs the adversarial corpus over parser modules in worker threads, with a hard limit per worker. */
import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ParseResult, WorkerJob } from './worker.js';

export interface CorpusRun {
  results: ParseResult[];
  /** "<parser> on <input>" that was still running when a worker hit its limit. */
  hung: string[];
}

function runWorker(job: WorkerJob, limitMs: number): Promise<CorpusRun> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData: job });
    let current = '';
    const timer = setTimeout(() => {
      void worker.terminate();
      resolve({ results: [], hung: [current || `${job.modules.join(', ')} (before the first parse)`] });
    }, limitMs);
    worker.on('message', (m: { start?: string; done?: boolean; results?: ParseResult[] }) => {
      if (m.start) current = m.start;
      if (m.done) {
        clearTimeout(timer);
        void worker.terminate();
        resolve({ results: m.results ?? [], hung: [] });
      }
    });
    worker.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Splits the modules over up to `cpus` workers; each worker gets `limitMs`. */
export async function runCorpus(
  modules: readonly string[],
  opts: Omit<WorkerJob, 'modules'>,
  limitMs: number,
): Promise<CorpusRun> {
  const n = Math.max(1, Math.min(cpus().length, modules.length));
  const groups: string[][] = Array.from({ length: n }, () => []);
  for (const [i, m] of modules.entries()) groups[i % n]!.push(m);
  const runs = await Promise.all(groups.map((g) => runWorker({ ...opts, modules: g }, limitMs)));
  return { results: runs.flatMap((r) => r.results), hung: runs.flatMap((r) => r.hung) };
}
