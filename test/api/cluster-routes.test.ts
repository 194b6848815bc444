import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, get as httpGet, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import express, { type Request } from 'express';
import { createApp } from '../../daemon/api/app.js';
import type { ClusterRouting } from '../../daemon/api/cluster-routes.js';
import { FORWARDED_BY, HttpsPeerClient } from '../../daemon/cluster/peer-client.js';
import type { ForwardAuth, Peer } from '../../daemon/cluster/types.js';
import { ConfigSchema } from '../../daemon/config/schema.js';
import { formatRunId } from '../../daemon/core/run-id.js';
import { Engine } from '../../daemon/engine/engine.js';
import type { EngineServices } from '../../daemon/engine/types.js';
import { ProxmoxClient } from '../../daemon/proxmox/client.js';
import { StateStore } from '../../daemon/store/state.js';
import { makeCert } from '../sim/cert.js';
import { startSim } from '../sim/server.js';
import { TOKEN } from '../sim/test-client.js';
import type { Sim } from '../sim/types.js';

/**
 * The forwarding decisions of the API of node pve2 in a three-node cluster: pve1's daemon is a real
 * HTTPS server standing in for it (it records what it got), pve3 has no running daemon. Requests
 * about pve1's runs and guests go to pve1 with the caller's credentials, pve2's are served here, a
 * run over several nodes is refused, plans and the fleet are merged (pve3's guests unreachable).
 */

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

const TICKET = 'PVE:alice@pve:66A0B1C2::c2lnbmF0dXJlLW9mLXRoZS10aWNrZXQ=';
const CALLER = {
  cookie: `other=1; PVEAuthCookie=${encodeURIComponent(TICKET)}`,
  csrfpreventiontoken: '66A0B1C2:Y3NyZg==',
};
const runId = (node: string) =>
  formatRunId({ node, start: 0x66a0b1c2, nonce: 0x1234, type: 'run', vmid: '101', trigger: 'api', user: 'alice@pve' });

const listen = (server: Server) =>
  new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );

/** What the ClusterService hands over: the caller's own credentials, passed on. */
function forwardAuth(req: Request): ForwardAuth {
  const headers: { cookie?: string; authorization?: string; csrfpreventiontoken?: string } = {};
  for (const k of ['cookie', 'authorization', 'csrfpreventiontoken'] as const) {
    const v = req.get(k);
    if (v) headers[k] = v;
  }
  return { kind: 'caller', headers };
}

describe('cluster routes of node pve2', () => {
  let sim: Sim;
  let dir: string;
  let engine: Engine;
  let pve1: Server;
  let front: Server;
  let base: string;
  const client = new HttpsPeerClient({ node: 'pve2', timeoutMs: 3000 });
  const seen: Seen[] = [];
  let pve1Fails = false;
  let peers: Peer[] = [];
  let svcConfig: EngineServices['config'];

  before(async () => {
    sim = await startSim({
      nodes: ['pve1', 'pve2', 'pve3'],
      guests: [
        { vmid: 101, type: 'lxc', node: 'pve1', name: 'web', status: 'running', tags: ['web'] },
        { vmid: 102, type: 'lxc', node: 'pve1', name: 'db', status: 'running' },
        { vmid: 103, type: 'lxc', node: 'pve2', name: 'here', status: 'running', tags: ['web'] },
        { vmid: 104, type: 'lxc', node: 'pve2', name: 'off', status: 'stopped' },
        { vmid: 105, type: 'lxc', node: 'pve3', name: 'far', status: 'running', tags: ['web'] },
      ],
      tokens: [TOKEN],
      taskDelayMs: 10,
    });
    dir = mkdtempSync(join(tmpdir(), 'pvepatch-cluster-routes-'));
    const config = ConfigSchema.parse({
      node: 'pve2',
      state_dir: join(dir, 'state'),
      log_dir: join(dir, 'log'),
      policy_file: join(dir, 'guests.conf'),
      pct: join(dir, 'no-pct'),
    });
    const store = new StateStore(config.state_dir, { logDir: config.log_dir });
    await store.start();
    const pveClient = new ProxmoxClient({
      url: sim.url,
      token: `${TOKEN.id}=${TOKEN.secret}`,
      fingerprint: sim.fingerprint,
      timeoutMs: 3000,
    });
    const svc: EngineServices = { config, client: pveClient, store, node: 'pve2' };
    svcConfig = config;
    engine = new Engine(svc);
    await engine.start(() => {});

    // pve1's daemon: records what it got and answers like one
    const cert = await makeCert('pve1');
    const fake = express();
    fake.use(express.json());
    fake.use((req, _res, next) => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: req.body });
      next();
    });
    fake.use((_req, res, next) => {
      if (pve1Fails) res.status(500).json({ error: { code: 'internal', message: 'internal error - disk full' } });
      else next();
    });
    fake.get('/api/v1/runs/:id', (req, res) => {
      res.json({ data: { id: req.params.id, state: 'running' } });
    });
    fake.get('/api/v1/runs/:id/log', (req, res) => {
      res.json({ data: [`line from ${req.query.start}`], total: 1 });
    });
    fake.post('/api/v1/runs/:id/cancel', (req, res) => {
      res.json({ data: { id: req.params.id, state: 'cancelling' } });
    });
    fake.get('/api/v1/runs/:id/events', (_req, res) => {
      res.status(200).set({ 'content-type': 'text/event-stream' });
      res.write('id: 1\nevent: run-finished\ndata: {"from":"pve1"}\n\n');
      res.end();
    });
    fake.post('/api/v1/runs', (_req, res) => {
      res.status(202).json({ data: { id: runId('pve1'), state: 'running' } });
    });
    fake.post('/api/v1/plan', (req, res) => {
      const ids = (req.body.selector as string[]).flatMap((w) => w.split(',')).map(Number);
      res.json({ data: ids.map((vmid) => ({ vmid, node: 'pve1', updates_available: 3, skip_reason: null })) });
    });
    fake.get('/api/v1/fleet', (_req, res) => {
      res.json({ data: [102, 101].map((vmid) => ({ vmid, node: 'pve1', updates_available: 2, from: 'pve1' })) });
    });
    fake.get('/api/v1/guests', (_req, res) => {
      res.json({ data: [101, 102].map((vmid) => ({ vmid, node: 'pve1', transport: 'pct', skip_reason: null })) });
    });
    pve1 = createHttpsServer({ key: cert.keyPem, cert: cert.certPem }, fake);
    const pve1Port = await listen(pve1);
    const now = new Date().toISOString();
    peers = [
      {
        node: 'pve1',
        alive: true,
        ip: '127.0.0.1',
        status: {
          node: 'pve1',
          version: '0.1.0',
          pid: 1,
          api_port: pve1Port,
          api_fingerprint: cert.fingerprint,
          started_at: now,
          heartbeat_at: now,
          quorate: true,
          leader: true,
        },
      },
      { node: 'pve3', alive: false, reason: "no pvepatch daemon running on node 'pve3' (last status 12:01:05)" },
    ];
    const cluster: ClusterRouting = { node: 'pve2', peers: async () => peers, forwardAuth, client };
    front = createHttpServer(createApp(engine, svc, 'test', { cluster }));
    base = `http://127.0.0.1:${await listen(front)}/api/v1`;
  });
  after(async () => {
    await client.close();
    for (const s of [front, pve1]) {
      s?.closeAllConnections();
      s?.close();
    }
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    seen.length = 0;
    pve1Fails = false;
  });

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = CALLER) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    // biome-ignore lint/suspicious/noExplicitAny: test answers
    return { status: res.status, body: (await res.json()) as any };
  }

  it("forwards a pve1 run's routes to pve1 with the caller's ticket and CSRF token only", async () => {
    const id = runId('pve1');
    const run = await call('GET', `/runs/${encodeURIComponent(id)}`);
    assert.deepEqual(run, { status: 200, body: { data: { id, state: 'running' } } });
    const got = seen[0]!;
    assert.equal(got.url, `/api/v1/runs/${encodeURIComponent(id)}`);
    assert.equal(got.headers.cookie, `PVEAuthCookie=${encodeURIComponent(TICKET)}`);
    assert.equal(got.headers.csrfpreventiontoken, CALLER.csrfpreventiontoken);
    assert.equal(got.headers[FORWARDED_BY], 'pve2');

    const log = await call('GET', `/runs/${encodeURIComponent(id)}/log?start=5`);
    assert.deepEqual(log.body, { data: ['line from 5'], total: 1 });
    const cancel = await call('POST', `/runs/${encodeURIComponent(id)}/cancel`);
    assert.equal(cancel.body.data.state, 'cancelling');
    assert.equal(seen.at(-1)!.method, 'POST');

    const events = await new Promise<string>((resolve, reject) => {
      httpGet(`${base}/runs/${encodeURIComponent(id)}/events`, { headers: CALLER }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c;
        });
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    assert.match(events, /event: run-finished\ndata: \{"from":"pve1"\}/);
  });

  it("serves this node's runs and forwarded requests here; an unknown or dead node is a clear error", async () => {
    const mine = await call('GET', `/runs/${encodeURIComponent(runId('pve2'))}`);
    assert.equal(mine.status, 404);
    assert.match(mine.body.error.message, /no run 'PVEPATCH:pve2:/);
    const looped = await call('GET', `/runs/${encodeURIComponent(runId('pve1'))}`, undefined, {
      ...CALLER,
      [FORWARDED_BY]: 'pve1',
    });
    assert.equal(looped.status, 404, 'a forwarded request is never forwarded again');
    assert.equal(seen.length, 0);

    const dead = await call('GET', `/runs/${encodeURIComponent(runId('pve3'))}`);
    assert.equal(dead.status, 503);
    assert.equal(dead.body.error.code, 'daemon-unavailable');
    assert.match(dead.body.error.message, /node 'pve3'.*no pvepatch daemon running on node 'pve3'/);
    const stranger = await call('GET', `/runs/${encodeURIComponent(runId('pve9'))}`);
    assert.equal(stranger.status, 404);
    assert.match(stranger.body.error.message, /node 'pve9', which is not a node of this cluster/);
  });

  it("starts a run of pve1's guests on pve1, of pve2's here, and refuses one over several nodes", async () => {
    const far = await call('POST', '/runs', { selector: ['101'], dry_run: true });
    assert.deepEqual(far, { status: 202, body: { data: { id: runId('pve1'), state: 'running' } } });
    assert.deepEqual(seen[0]!.body, { selector: ['101'], exclude: [], dry_run: true, security_only: false });
    assert.equal(seen[0]!.headers.cookie, `PVEAuthCookie=${encodeURIComponent(TICKET)}`);

    // 104 is stopped: a local run that only skips it
    const here = await call('POST', '/runs', { selector: ['104'] });
    assert.equal(here.status, 202);
    assert.match(here.body.data.id, /^PVEPATCH:pve2:/);
    await engine.waitRun(here.body.data.id);
    assert.equal(seen.length, 1, 'not forwarded');

    const mixed = await call('POST', '/runs', { selector: ['tag:web'] });
    assert.equal(mixed.status, 400);
    assert.deepEqual(mixed.body.error, {
      code: 'input-invalid',
      message:
        "the selected guests run on nodes pve1, pve2, pve3 - a run patches one node's guests; use 'pvepatch rollout start tag:web' for guests on several nodes",
    });

    const toDead = await call('POST', '/runs', { selector: ['105'] });
    assert.equal(toDead.status, 503);
    assert.match(toDead.body.error.message, /unable to patch the guests on node 'pve3' - no pvepatch daemon running/);
  });

  it("plans pve2's guests here and merges a plan over several nodes", async () => {
    const here = await call('POST', '/plan', { selector: ['103', '104'] });
    assert.equal(here.status, 200);
    assert.deepEqual(
      here.body.data.map((p: { vmid: number }) => p.vmid),
      [103, 104],
    );
    assert.equal(seen.length, 0);

    const merged = await call('POST', '/plan', { selector: ['all'] });
    assert.equal(merged.status, 200);
    const plans = merged.body.data as Array<{
      vmid: number;
      node: string;
      skip_reason: string | null;
      unreachable?: string;
    }>;
    assert.deepEqual(
      plans.map((p) => p.vmid),
      [101, 102, 103, 104, 105],
    );
    assert.equal(seen.length, 1);
    assert.deepEqual((seen[0]!.body as { selector: string[] }).selector, ['101,102']);
    assert.equal(plans[0]!.skip_reason, null, "pve1's own plan");
    assert.match(plans[2]!.skip_reason ?? '', /pct|no-pct|ENOENT|not found/i, 'planned here (no pct in this test)');
    assert.match(plans[3]!.skip_reason ?? '', /stopped/);
    assert.match(plans[4]!.unreachable ?? '', /no pvepatch daemon running on node 'pve3'/);
    assert.equal(plans[4]!.skip_reason, plans[4]!.unreachable);
  });

  it('merges the fleet: pve1 from its daemon, pve2 from here, pve3 unreachable, in the selector order', async () => {
    const r = await call('GET', '/fleet?selector=105&selector=tag:web&selector=all');
    assert.equal(r.status, 200);
    const rows = r.body.data as Array<{ vmid: number; from?: string; unreachable?: string; node: string }>;
    assert.deepEqual(
      rows.map((x) => x.vmid),
      [105, 101, 103, 102, 104],
    );
    assert.equal(rows[1]!.from, 'pve1');
    assert.equal(rows[3]!.from, 'pve1');
    assert.equal(rows[2]!.unreachable, undefined);
    assert.match(rows[0]!.unreachable ?? '', /no pvepatch daemon running on node 'pve3'/);
    assert.equal(seen.length, 1);
    const asked = new URL(seen[0]!.url, 'https://x').searchParams.getAll('selector');
    assert.deepEqual(asked, ['105', 'tag:web', 'all', '-node:pve2', '-node:pve3']);
    assert.equal(seen[0]!.headers.cookie, `PVEAuthCookie=${encodeURIComponent(TICKET)}`);

    // pve1's daemon fails: its guests are listed from the inventory, marked unreachable (new caller: no cached answer)
    pve1Fails = true;
    const down = await call('GET', '/fleet?selector=all', undefined, {
      authorization: 'PVEAPIToken=alice@pve!ci=7d0e4a52-1c3b-4f7e-9a2d-5b6c7d8e9f01',
    });
    const downRows = down.body.data as Array<{
      vmid: number;
      unreachable?: string;
      name: string;
      updates_available: null;
    }>;
    assert.deepEqual(
      downRows.map((x) => x.vmid),
      [101, 102, 103, 104, 105],
    );
    assert.match(downRows[0]!.unreachable ?? '', /node 'pve1': internal error - disk full/);
    assert.equal(downRows[0]!.name, 'web');
    assert.equal(downRows[0]!.updates_available, null);
    assert.equal(seen.at(-1)!.headers.authorization, 'PVEAPIToken=alice@pve!ci=7d0e4a52-1c3b-4f7e-9a2d-5b6c7d8e9f01');
  });

  it("lists guests with pve1's own answer, and serves a selector of this node's guests without asking", async () => {
    const all = await call('GET', '/guests?selector=all');
    const rows = all.body.data as Array<{ vmid: number; transport: string | null; unreachable?: string }>;
    assert.deepEqual(
      rows.map((x) => x.vmid),
      [101, 102, 103, 104, 105],
    );
    assert.equal(rows[0]!.transport, 'pct', "pve1's daemon reaches its guests");
    assert.equal(rows[0]!.unreachable, undefined);
    assert.ok(rows[4]!.unreachable);
    seen.length = 0;
    const mine = await call('GET', '/fleet?selector=node:pve2');
    assert.deepEqual(
      mine.body.data.map((x: { vmid: number }) => x.vmid),
      [103, 104],
    );
    assert.equal(seen.length, 0);
  });

  it("with cluster_ssh, serves a dead node's guests here (run, plan, fleet) and still forwards to a live one", async () => {
    svcConfig.cluster_ssh = true;
    try {
      const plan = await call('POST', '/plan', { selector: ['105'] });
      assert.equal(plan.status, 200);
      assert.equal(plan.body.data.length, 1);
      assert.equal(plan.body.data[0].vmid, 105);
      assert.equal(plan.body.data[0].unreachable, undefined);
      assert.equal(plan.body.data[0].transport, 'cluster-ssh', 'planned here, entered through the cluster SSH');

      const merged = await call('POST', '/plan', { selector: ['101', '105'] });
      const byVmid = new Map((merged.body.data as { vmid: number; unreachable?: string }[]).map((p) => [p.vmid, p]));
      assert.equal(byVmid.get(105)?.unreachable, undefined);
      assert.equal(seen.length, 1, 'pve1 (alive) still plans its own');
      assert.deepEqual((seen[0]!.body as { selector: string[] }).selector, ['101']);

      const fleet = await call('GET', '/fleet?selector=105&selector=101', undefined, {
        authorization: 'PVEAPIToken=alice@pve!ssh=7d0e4a52-1c3b-4f7e-9a2d-5b6c7d8e9f02',
      });
      const rows = fleet.body.data as { vmid: number; unreachable?: string; transport: string | null; from?: string }[];
      assert.equal(rows[0]!.vmid, 105);
      assert.equal(rows[0]!.unreachable, undefined);
      assert.equal(rows[0]!.transport, 'cluster-ssh');
      assert.equal(rows.find((r) => r.vmid === 101)?.from, 'pve1', "pve1's rows still from its daemon");

      const run = await call('POST', '/runs', { selector: ['105'], dry_run: true });
      assert.equal(run.status, 202, JSON.stringify(run.body));
      assert.match(run.body.data.id, /^PVEPATCH:pve2:/, 'run here, not refused as daemon-unavailable');
      await engine.waitRun(run.body.data.id);
      // a run over this node's and the dead node's guests is this node's too; pve1's still are not
      const both = await call('POST', '/runs', { selector: ['103', '105'], dry_run: true });
      assert.equal(both.status, 202);
      await engine.waitRun(both.body.data.id);
      const mixed = await call('POST', '/runs', { selector: ['101', '105'] });
      assert.equal(mixed.status, 400);
      assert.match(mixed.body.error.message, /run on nodes pve1, pve3 - a run patches one node's guests/);
    } finally {
      svcConfig.cluster_ssh = false;
    }
  });
});
