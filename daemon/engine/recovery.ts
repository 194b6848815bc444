/**
 * After a crash or a hard stop: runs still marked running are marked interrupted (never re-run)
 * before the daemon serves anything; then, in the background, holds an interrupted run added inside
 * guests are removed and snapshot records are settled — retried until they succeed.
 */
import { errorMessage } from '../core/errors.js';
import { getDriver } from '../drivers/index.js';
import { GuestExec } from '../drivers/shared/guest-exec.js';
import { loadPolicy } from '../policy/load.js';
import { resolvePolicy } from '../policy/resolve.js';
import { listGuests } from '../proxmox/inventory.js';
import { finalState, RunLog, readRunLog } from '../store/run-log.js';
import type { PendingHolds, RunSummary } from '../store/state.js';
import { createTransport } from '../transports/index.js';
import { sshOf } from './run-policy.js';
import type { EngineServices } from './types.js';

/**
 * Settles every run still 'running': local, fast, before READY. A run whose log already ends in its
 * final line finished before the daemon stopped (only the state write was lost) and takes its state
 * from that line, as a Proxmox task log does; any other is marked interrupted and its log closed.
 */
export async function markInterrupted(svc: EngineServices, log: (line: string) => void): Promise<void> {
  for (const run of svc.store.runs.running()) {
    let final: string | undefined;
    try {
      final = finalState(readRunLog(svc.config.log_dir, run.id).lines);
      if (!final) {
        const rl = new RunLog(svc.config.log_dir, run.id);
        rl.open();
        rl.finish(INTERRUPTED);
      }
    } catch (err) {
      log(`unable to close log of run ${run.id} - ${errorMessage(err)}`);
    }
    Object.assign(run, fromFinalLine(final ?? INTERRUPTED));
    run.ended_at ??= new Date().toISOString();
    await svc.store.upsertRun(run);
    log(
      final
        ? `run ${run.id} had ended (${final}); its state is taken from its log`
        : `run ${run.id} marked interrupted`,
    );
  }
}

const INTERRUPTED = 'TASK ERROR: interrupted - the daemon stopped while this run was in progress';

/** The run state a final log line stands for. */
function fromFinalLine(final: string): Pick<RunSummary, 'state'> & { error?: string } {
  if (final === 'TASK OK') return { state: 'ok' };
  if (final.startsWith('TASK WARNINGS')) return { state: 'warnings' };
  const error = final.slice('TASK ERROR: '.length);
  return { state: error.startsWith('interrupted') ? 'interrupted' : 'error', error };
}

/** Takes a guest for recovery work; null when a run holds it now (try again later). */
export type Reserve = (vmid: number) => (() => void) | null;

/** Releases every recorded hold it can; returns how many records remain. Each attempt is logged. */
export async function releasePendingHolds(
  svc: EngineServices,
  reserve: Reserve,
  log: (line: string) => void,
): Promise<number> {
  for (const entry of [...svc.store.data.pending_holds]) {
    const release = reserve(entry.vmid);
    if (!release) {
      log(`holds ${entry.holds.join(', ')} in ${entry.vmid} (run ${entry.run_id}) wait - a run is using the guest`);
      continue;
    }
    try {
      await releaseOne(svc, entry, log);
      await svc.store.setPendingHolds({ ...entry, holds: [] });
      log(`released holds ${entry.holds.join(', ')} left in ${label(entry)} by run ${entry.run_id}`);
    } catch (err) {
      log(`unable to release holds ${entry.holds.join(', ')} in ${label(entry)} - ${errorMessage(err)}; will retry`);
    } finally {
      release();
    }
  }
  return svc.store.data.pending_holds.length;
}

function label(e: PendingHolds): string {
  return `${e.type === 'lxc' ? 'CT' : 'VM'} ${e.vmid}`;
}

async function releaseOne(svc: EngineServices, entry: PendingHolds, log: (line: string) => void): Promise<void> {
  const driver = getDriver(entry.driver);
  if (!driver) throw new Error(`unknown driver '${entry.driver}'`);
  const guest = { vmid: entry.vmid, node: entry.node, type: entry.type };
  const ssh = entry.transport === 'ssh' ? await sshSettingsOf(svc, entry) : undefined;
  const transport = createTransport(entry.transport, guest, {
    config: svc.config,
    node: svc.node,
    client: svc.client,
    ...(ssh ? { ssh } : {}),
  });
  const prefix = `${label(entry)}: `;
  const exec = new GuestExec(transport, {
    log: (t) => log(prefix + t),
    deadline: Date.now() + svc.config.exec_timeout * 1000,
    maxOutputBytes: svc.config.exec_output_max_mb * 1024 * 1024,
  });
  try {
    await exec.stage(() =>
      driver.releaseHolds(
        { exec, log: (t) => log(prefix + t), lockTimeoutMs: svc.config.lock_timeout * 1000 },
        entry.holds,
      ),
    );
  } finally {
    await transport.close?.();
  }
}

/** How to reach an SSH guest now: its policy, resolved with its current tags. */
async function sshSettingsOf(svc: EngineServices, entry: PendingHolds) {
  const guest = (await listGuests(svc.client)).find((g) => g.vmid === entry.vmid);
  if (!guest) throw new Error(`guest ${entry.vmid} no longer exists`);
  const ssh = sshOf(resolvePolicy(loadPolicy(svc.config.policy_file), guest, { reboot: svc.config.reboot }));
  if (!ssh) throw new Error(`the policy no longer says how to reach ${entry.vmid} over SSH`);
  return ssh;
}
