/**
 * What must hold after any crash or fault, once the restarted daemon's recovery has run: no stray
 * temporary hold, every pvepatch snapshot on the (simulated) node recorded, every run with a final
 * state, dpkg consistent or reported, and a state file the daemon accepts.
 */
import { SNAPSHOT_NAME } from '../../daemon/proxmox/snapshots.js';
import { finalState, readRunLog } from '../../daemon/store/run-log.js';
import type { RunRow } from '../../daemon/store/runs.js';
import { type State, StateStore } from '../../daemon/store/state.js';
import type { Env } from '../e2e/harness.js';

export async function checkInvariants(env: Env, vmids: readonly number[]): Promise<string[]> {
  const problems: string[] = [];
  let state: State;
  let runs: readonly RunRow[];
  try {
    const store = new StateStore(env.stateDir);
    await store.start();
    state = store.data;
    runs = store.runs.all();
  } catch (err) {
    return [`state file invalid - ${(err as Error).message}`];
  }
  if (state.pending_holds.length > 0) problems.push(`hold records left: ${JSON.stringify(state.pending_holds)}`);
  for (const vmid of vmids) {
    const held = (await env.lab.execOk(vmid, ['apt-mark', 'showhold'])).stdout.trim();
    if (held !== '') problems.push(`CT ${vmid} still holds ${held.split('\n').join(', ')}`);
    const recorded = new Set(state.snapshots.filter((s) => s.vmid === vmid).map((s) => `${s.name}:${s.state}`));
    for (const snap of env.sim.guest(vmid).snapshots) {
      if (!SNAPSHOT_NAME.test(snap.name)) continue;
      if (!recorded.has(`${snap.name}:created`))
        problems.push(`CT ${vmid} snapshot ${snap.name} exists but is not recorded as created`);
    }
    const audit = (await env.lab.exec(vmid, ['dpkg', '--audit'])).stdout.trim();
    if (audit !== '' && !(await brokenStateReported(env, vmid)))
      problems.push(`CT ${vmid} dpkg is broken and the plan does not say so`);
  }
  for (const run of runs) {
    if (run.state === 'running') problems.push(`run ${run.id} still marked running`);
    try {
      if (!finalState(readRunLog(env.logDir, run.id).lines)) problems.push(`run ${run.id} log has no final line`);
    } catch (err) {
      problems.push(`run ${run.id} log unreadable - ${(err as Error).message}`);
    }
  }
  return problems;
}

async function brokenStateReported(env: Env, vmid: number): Promise<boolean> {
  const plan = await env.cli('--output-format', 'json', 'plan', String(vmid));
  if (plan.code !== 0 && plan.code !== 2) return false;
  const reason = (JSON.parse(plan.out) as { skip_reason: string | null }[])[0]?.skip_reason ?? '';
  return reason.includes('dpkg reports a broken package state');
}
