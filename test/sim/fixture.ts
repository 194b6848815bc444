import type { TestContext } from 'node:test';
import { startSim } from './server.js';
import { TOKEN } from './test-client.js';
import type { Sim, SimGuest, SimOptions, SnapshotBackend } from './types.js';

/** A small two-node cluster used by the simulator's own tests. */
export const GUESTS: SimGuest[] = [
  { vmid: 101, type: 'lxc', node: 'pve1', name: 'web', status: 'running', tags: ['prod', 'web'], pool: 'prod' },
  { vmid: 102, type: 'lxc', node: 'pve1', name: 'db', status: 'stopped', ostype: 'alpine' },
  { vmid: 103, type: 'lxc', node: 'pve2', name: 'far', status: 'running' },
  { vmid: 200, type: 'qemu', node: 'pve1', name: 'vm', status: 'running', config: { agent: '1' } },
  { vmid: 900, type: 'lxc', node: 'pve1', name: 'tmpl', status: 'stopped', template: true },
];

export interface FakeBackend extends SnapshotBackend {
  /** `create 101 name`, … in call order, with the guest's lock at the time of the call. */
  calls: Array<{ op: string; vmid: number; name: string; lock: string | undefined }>;
  /** op → error text the next calls of that op reject with. */
  failures: Map<string, string>;
}

/** An in-memory backend that records calls and the guest's lock while it runs. */
export function fakeBackend(sim: () => Sim): FakeBackend {
  const calls: FakeBackend['calls'] = [];
  const failures = new Map<string, string>();
  const op = (name: string) => async (vmid: number, snap: string) => {
    calls.push({ op: name, vmid, name: snap, lock: sim().guest(vmid).lock });
    const failure = failures.get(name);
    if (failure !== undefined) throw new Error(failure);
  };
  return { calls, failures, create: op('create'), rollback: op('rollback'), remove: op('remove') };
}

/** Starts a simulator for one test and closes it after; `backend` is a FakeBackend. */
export async function simFor(
  t: TestContext,
  opts: Partial<SimOptions> = {},
): Promise<{ sim: Sim; backend: FakeBackend }> {
  let sim: Sim | undefined;
  const backend = fakeBackend(() => sim!);
  sim = await startSim({
    nodes: ['pve1', 'pve2'],
    guests: GUESTS,
    tokens: [TOKEN],
    backend,
    taskDelayMs: 30,
    ...opts,
  });
  const started = sim;
  t.after(() => started.close());
  return { sim, backend };
}

/** Every request the simulator got was well-formed (what the client tests assert about pvepatch). */
export function allValid(sim: Sim): boolean {
  return sim.requests.every((r) => r.status !== 400 && r.status !== 501);
}
