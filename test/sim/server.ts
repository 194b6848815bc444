import { createServer } from 'node:https';
import { type AddressInfo, isIP, type Socket } from 'node:net';
import { SimAccess } from './access.js';
import { makeCert } from './cert.js';
import { SimControl } from './control.js';
import { Injections } from './injections.js';
import { handleRequest, type PipelineDeps } from './pipeline.js';
import { Router } from './router.js';
import { loadSubset } from './schema-validate.js';
import { SimState } from './state.js';
import type { Sim, SimOptions, SimRequest } from './types.js';
import { writeAnswer } from './wire.js';

export { csrfSecret, csrfToken, verifyCsrfToken } from './access.js';
export { RebootTimeout } from './power.js';
export type {
  AgentBackend,
  AgentExecResult,
  AgentProcess,
  PowerBackend,
  Sim,
  SimAcl,
  SimGuest,
  SimHaResource,
  SimOptions,
  SnapshotBackend,
} from './types.js';

const NODE_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;

/**
 * Starts the Proxmox VE API simulator on HTTPS with a fresh self-signed certificate. It serves the
 * endpoints of schema/pve-api-subset.json under /api2/json, checks auth and parameters as PVE does,
 * and runs snapshot calls as tasks. See readme.md for what is and is not simulated.
 */
export async function startSim(opts: SimOptions): Promise<Sim> {
  const nodes = opts.nodes ?? ['pve1'];
  if (nodes.length === 0 || !nodes.every((n) => NODE_NAME.test(n))) throw new Error('sim: invalid node names');
  const state = new SimState(nodes, opts.guests, opts.backend, opts.taskDelayMs ?? 50);
  state.agentBackend = opts.agent;
  state.powerBackend = opts.power;
  state.agentTimeoutMs = opts.agentTimeoutMs ?? 100;
  state.agentMaxOutput = opts.agentMaxOutput ?? 16 * 1024 * 1024;
  state.agentBootDelayMs = opts.agentBootDelayMs ?? 0;
  state.vzdumpDurationMs = opts.vzdumpDurationMs ?? 200;
  state.subscription = opts.subscription ?? 'active';
  for (const [node, ip] of Object.entries(opts.nodeIps ?? {})) {
    if (!nodes.includes(node)) throw new Error(`sim: nodeIps names unknown node '${node}'`);
    if (!isIP(ip)) throw new Error(`sim: nodeIps.${node} is not an IP address: '${ip}'`);
  }
  state.nodeIps = { ...opts.nodeIps };
  const access = new SimAccess(opts.tokens, () => {
    const pools = new Map<string, number[]>();
    for (const g of state.guests.values()) if (g.pool) pools.set(g.pool, [...(pools.get(g.pool) ?? []), g.vmid]);
    return pools;
  });
  state.access = access;
  const cert = await makeCert(nodes[0]!);
  const requests: SimRequest[] = [];
  const injections = new Injections();
  const deps: PipelineDeps = {
    state,
    router: new Router(loadSubset()),
    tokens: new Map(opts.tokens.map((t) => [t.id, t.secret])),
    fingerprint: cert.fingerprint,
    requests,
    injections,
    authFailDelayMs: opts.authFailDelayMs ?? 0,
  };
  const server = createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
    handleRequest(deps, req, res).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) return;
      writeAnswer(res, { status: 500, message: `sim: ${String(err)}`, body: String(err) }, 'Internal Server Error');
    });
  });
  // every raw socket, including ones a client dropped mid-handshake (a pinned-fingerprint
  // refusal), which closeAllConnections() does not know and which would keep the process alive
  const sockets = new Set<Socket>();
  let handshakes = 0;
  server.on('secureConnection', () => handshakes++);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  const control = new SimControl(state);
  return {
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    caPem: cert.certPem,
    fingerprint: cert.fingerprint,
    nodes: [...nodes],
    requests,
    tlsHandshakes: () => handshakes,
    close: async () => {
      state.close();
      access.close();
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    startVzdump: (o) => control.startVzdump(o),
    startTask: (o) => control.startTask(o),
    finishTask: (upid, exitstatus) => control.finishTask(upid, exitstatus),
    failSnapshots: (vmid, message) => control.failSnapshots(vmid, message),
    inject: (i) => injections.add(i),
    clearInjections: () => injections.clear(),
    setGuest: (vmid, patch) => control.setGuest(vmid, patch),
    guest: (vmid) => control.guest(vmid),
    tasks: () => control.tasks(),
    waitTask: (upid, timeoutMs) => control.waitTask(upid, timeoutMs),
    hangAgent: (vmid, on) => control.hangAgent(vmid, on),
    restartAgent: (vmid, o) => control.restartAgent(vmid, o),
    rebootNeverReturns: (vmid, on) => control.rebootNeverReturns(vmid, on),
    setAgentBootDelay: (ms) => control.setAgentBootDelay(ms),
    setHaResource: (sid, r) => control.setHaResource(sid, r),
    setQuorate: (q) => control.setQuorate(q),
    removeHaResource: (sid) => control.removeHaResource(sid),
    wwwKeyPath: access.wwwKeyPath,
    addUser: (userid, o) => access.addUser(userid, o),
    addRole: (name, privs) => access.addRole(name, privs),
    setAcl: (acl) => access.setAcl(acl),
    ticketFor: (userid, o) => {
      const time = Date.now() / 1000 - (o?.ageSeconds ?? 0);
      return { ticket: access.ticket(userid, time), csrf: access.csrf(userid, time) };
    },
    permissions: (authid, path) => access.permissions(authid, path),
  };
}
