import { die, texts } from './errors.js';
import { agentEnabled, renderConfig } from './guest-views.js';
import type { Handler, HandlerContext } from './router.js';
import type { AgentExecRecord, AgentState, GuestState, SimState } from './state.js';

/**
 * QEMU guest agent endpoints as qemu-server `API2/Qemu/Agent.pm` serves them: every call first runs
 * `assert_agent_available` (`QemuServer/Agent.pm`), then the qemu-ga command (QEMU `qga/commands.c`).
 */

/** Whether the agent of a running VM answers a `guest-ping` now (scenario controls, then the backend). */
export async function agentAnswers(state: SimState, g: GuestState): Promise<boolean> {
  const a = state.agent(g.vmid);
  const now = Date.now();
  if (a.hung || now < a.downUntil || now < g.startedAt + state.agentBootDelayMs) return false;
  return state.agentBackend ? state.agentBackend.alive(g.vmid) : true;
}

/**
 * `assert_agent_available` with its three texts, in its order. The failed ping costs the wait of
 * `qga_check_running` (3 s in PVE, `agentTimeoutMs` here).
 */
export async function assertAgent(ctx: HandlerContext): Promise<{ g: GuestState; a: AgentState }> {
  const vmid = Number(ctx.params.vmid);
  const g = ctx.state.loadGuest(ctx.node, 'qemu', vmid);
  if (!agentEnabled(renderConfig(g).agent)) die(texts.agentNotConfigured);
  if (g.status !== 'running') die(texts.vmNotRunningAgent(vmid));
  if (!(await agentAnswers(ctx.state, g))) {
    await ctx.state.sleep(ctx.state.agentTimeoutMs);
    die(texts.agentNotRunning);
  }
  return { g, a: ctx.state.agent(vmid) };
}

/** POST …/agent/ping */
export const agentPing: Handler = async (ctx) => {
  await assertAgent(ctx);
  return { result: {} };
};

/** POST …/agent/exec: `{pid}` at once; the process runs on (qemu-ga `qmp_guest_exec`). */
export const agentExec: Handler = async (ctx) => {
  const { a, g } = await assertAgent(ctx);
  const argv = ctx.lists.command ?? [];
  const backend = ctx.state.agentBackend;
  if (!backend) die('sim: no agent backend to run agent/exec');
  const input = ctx.params['input-data'];
  const opts = {
    maxOutput: ctx.state.agentMaxOutput,
    ...(input !== undefined ? { inputData: Buffer.from(input) } : {}),
  };
  let proc: Awaited<ReturnType<typeof backend.exec>>;
  try {
    proc = await backend.exec(g.vmid, argv, opts);
  } catch (err) {
    die(texts.agentError(err instanceof Error ? err.message : String(err)));
  }
  const record: AgentExecRecord = { proc };
  a.execs.set(proc.pid, record);
  proc.done.then(
    (result) => {
      record.result = result;
    },
    () => {},
  );
  return { pid: proc.pid };
};

/**
 * GET …/agent/exec-status: `exited: 0` while it runs; once it reported `exited: 1` qemu-ga frees the
 * record, so asking again fails (`PID <n> does not exist`).
 */
export const agentExecStatus: Handler = async (ctx) => {
  const { a } = await assertAgent(ctx);
  const pid = Number(ctx.params.pid);
  const record = a.execs.get(pid);
  if (!record) die(texts.agentError(texts.agentNoPid(pid)));
  const r = record.result;
  if (!r) return { exited: 0 };
  a.execs.delete(pid);
  const out: Record<string, unknown> = { exited: 1 };
  if (r.signal !== undefined) out.signal = r.signal;
  else out.exitcode = r.exitcode ?? 0;
  if (r.out.length > 0) {
    out['out-data'] = r.out.toString('utf8');
    out['out-truncated'] = r.outTruncated ? 1 : 0;
  }
  if (r.err.length > 0) {
    out['err-data'] = r.err.toString('utf8');
    out['err-truncated'] = r.errTruncated ? 1 : 0;
  }
  return out;
};

/** GET …/agent/get-osinfo (QGA `guest-get-osinfo`). */
export const agentOsinfo: Handler = async (ctx) => {
  const { g } = await assertAgent(ctx);
  const backend = ctx.state.agentBackend;
  if (!backend?.osinfo) return { result: {} };
  return { result: await backend.osinfo(g.vmid) };
};
