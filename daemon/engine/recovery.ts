import { errorMessage } from '../core/errors.js';
import { getDriver } from '../drivers/index.js';
import type { Guest } from '../proxmox/inventory.js';
import { finalState, RunLog, readRunLog } from '../store/run-log.js';
import { createTransport } from '../transports/index.js';
import type { EngineServices } from './types.js';

/**
 * After a crash: runs still marked running are marked interrupted (never re-run), their logs get
 * a final line, and holds an interrupted run added inside guests are removed.
 */
export async function recoverAtStart(svc: EngineServices, log: (line: string) => void): Promise<void> {
  for (const run of svc.store.data.runs.filter((r) => r.state === 'running')) {
    run.state = 'interrupted';
    run.ended_at = new Date().toISOString();
    run.error = 'daemon stopped while the run was in progress';
    try {
      if (!finalState(readRunLog(svc.config.log_dir, run.id).lines)) {
        const rl = new RunLog(svc.config.log_dir, run.id);
        rl.open();
        rl.finish('TASK ERROR: interrupted - the daemon stopped while this run was in progress');
      }
    } catch (err) {
      log(`unable to close log of run ${run.id} - ${errorMessage(err)}`);
    }
    await svc.store.upsertRun(run);
    log(`run ${run.id} marked interrupted`);
  }
  for (const entry of [...svc.store.data.pending_holds]) {
    const driver = getDriver(entry.driver);
    const guest: Guest = {
      vmid: entry.vmid,
      node: entry.node,
      type: 'lxc',
      name: '',
      status: 'running',
      template: false,
      tags: [],
    };
    try {
      if (!driver) throw new Error(`unknown driver '${entry.driver}'`);
      const transport = createTransport('pct', guest, {
        pctPath: svc.config.pct,
        localNode: svc.node,
        defaultTimeoutMs: svc.config.exec_timeout * 1000,
      });
      await driver.releaseHolds({ transport, lockTimeoutMs: svc.config.lock_timeout * 1000 }, entry.holds);
      await svc.store.setPendingHolds({ ...entry, holds: [] });
      log(`released holds ${entry.holds.join(', ')} left in CT ${entry.vmid} by run ${entry.run_id}`);
    } catch (err) {
      log(
        `unable to release holds ${entry.holds.join(', ')} in CT ${entry.vmid} - ${errorMessage(err)}; will retry at next start`,
      );
    }
  }
}
