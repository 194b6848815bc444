import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs';
import { errorMessage } from '../core/errors.js';
import { escapeControls } from '../core/escape.js';
import { whereInRun, whyNot } from './answer.js';
import type { PvepatchApi } from './https-client.js';
import type { PbsPlusConfig } from './pbsplus-config.js';
import { guestOfJob, jobId, jobResult } from './pbsplus-env.js';

export const PBS_EXIT = { allow: 0, veto: 1 } as const;

export interface PbsPlusDeps {
  env: NodeJS.ProcessEnv;
  configPath: string;
  loadConfig: () => PbsPlusConfig;
  api: (cfg: PbsPlusConfig) => PvepatchApi;
  /** stdout: only `KEY=VALUE` overrides go here (PBS Plus's README reads them from stdout). */
  out: (line: string) => void;
  /** stderr: what a human reads in the PBS Plus job log. */
  err: (line: string) => void;
  now: () => Date;
}

/**
 * PBS Plus PreScript (`<interpreter> <script> <envfile>`): refuses the job (exit 1) when its guest
 * is being patched; otherwise allows it and, when `namespace-before-patch` is set, emits
 * `PBS_PLUS__NAMESPACE=<ns>` on stdout and into the env file PBS Plus reads back. A config that
 * cannot be read or an API that cannot be asked lets the backup go ahead, saying why.
 */
export async function pbsPlusPre(envFile: string | undefined, deps: PbsPlusDeps): Promise<number> {
  let cfg: PbsPlusConfig;
  try {
    cfg = deps.loadConfig();
  } catch (err) {
    deps.err(`pvepatch: ${escapeControls(errorMessage(err))} - backup allowed`);
    return PBS_EXIT.allow;
  }
  const job = escapeControls(jobId(deps.env) ?? '?');
  const guest = guestOfJob(deps.env, cfg);
  if (!guest) {
    deps.err(
      `pvepatch: job ${job}: its target maps to no guest (add 'target-map <target name> <vmid>' or 'job-map ${job} <vmid>' to ${deps.configPath}) - backup allowed`,
    );
    return allow(cfg, envFile, deps);
  }
  const api = deps.api(cfg);
  try {
    const a = await api.patching(guest.vmid);
    if (a.kind !== 'ok') {
      deps.err(`pvepatch: pvepatch API not reachable (${whyNot(a)}) - backup allowed`);
    } else if (a.value.patching) {
      deps.err(
        `pvepatch: guest ${guest.vmid} is being patched (${whereInRun(a.value)}) - PBS Plus job ${job} not started; it runs again at its next schedule`,
      );
      return PBS_EXIT.veto;
    } else {
      deps.err(`pvepatch: guest ${guest.vmid} is not being patched - backup allowed`);
    }
  } finally {
    await api.close();
  }
  return allow(cfg, envFile, deps);
}

function allow(cfg: PbsPlusConfig, envFile: string | undefined, deps: PbsPlusDeps): number {
  if (!cfg.namespace) return PBS_EXIT.allow;
  const line = `PBS_PLUS__NAMESPACE=${cfg.namespace}`;
  deps.out(line);
  const why = envFile ? appendOverride(envFile, `${line}\n`) : 'no env file argument';
  if (why) deps.err(`pvepatch: namespace override not written to the env file (${why}); printed on stdout only`);
  return PBS_EXIT.allow;
}

/**
 * Appends to the env file PBS Plus made (a temporary file it reads after the script): only an
 * existing regular file, never through a symlink, never blocking on a FIFO. Returns why not.
 */
export function appendOverride(path: string, text: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return escapeControls(errorMessage(err));
  }
  try {
    if (!fstatSync(fd).isFile()) return 'not a regular file';
    writeSync(fd, text);
    return undefined;
  } catch (err) {
    return escapeControls(errorMessage(err));
  } finally {
    closeSync(fd);
  }
}

/**
 * PBS Plus PostScript: reports the job's result (`POST /api/v1/backups/result`). It never fails
 * the job (PBS Plus ignores a PostScript's exit anyway): every outcome is exit 0 and a line.
 */
export async function pbsPlusPost(_envFile: string | undefined, deps: PbsPlusDeps): Promise<number> {
  let cfg: PbsPlusConfig;
  try {
    cfg = deps.loadConfig();
  } catch (err) {
    deps.err(`pvepatch: ${escapeControls(errorMessage(err))} - backup result not recorded`);
    return PBS_EXIT.allow;
  }
  const guest = guestOfJob(deps.env, cfg);
  const { success, warnings } = jobResult(deps.env);
  const api = deps.api(cfg);
  try {
    const a = await api.postBackupResult({
      target: guest?.target ?? null,
      vmid: guest?.vmid ?? null,
      job_id: jobId(deps.env) ?? null,
      success,
      warnings,
      at: deps.now().toISOString(),
    });
    const what = `backup result of ${guest ? `guest ${guest.vmid}` : 'an unmapped job'} (${success ? 'success' : 'failed'}, ${warnings} warnings)`;
    if (a.kind === 'ok') deps.err(`pvepatch: ${what} recorded`);
    else if (a.kind === 'refused' && a.status === 404)
      deps.err(`pvepatch: the pvepatch API does not record backup results yet (${whyNot(a)}) - ${what} not recorded`);
    else if (a.kind === 'refused') deps.err(`pvepatch: ${what} refused (${whyNot(a)})`);
    else deps.err(`pvepatch: pvepatch API not reachable (${whyNot(a)}) - ${what} not recorded`);
  } finally {
    await api.close();
  }
  return PBS_EXIT.allow;
}
