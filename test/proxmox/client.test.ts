import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ProxmoxClient } from '../../daemon/proxmox/client.js';
import { ProxmoxApiError } from '../../daemon/proxmox/errors.js';
import { listGuests } from '../../daemon/proxmox/inventory.js';
import { createSnapshot, pruneSnapshots } from '../../daemon/proxmox/snapshots.js';
import { FAST_POLL_MS, MAX_POLL_MS, nextPollMs, waitForTask } from '../../daemon/proxmox/tasks.js';
import { makeCert } from '../sim/cert.js';
import { startSim } from '../sim/server.js';
import type { Sim } from '../sim/types.js';

const ID = 'pvepatch@pve!test';
const SECRET = randomUUID();
// a valid certificate that did not sign the simulator's
const OTHER_CA = (await makeCert('other')).certPem;
const guest = { node: 'pve1', type: 'lxc' as const, vmid: 101 };

describe('Proxmox client against the simulator', () => {
  let sim: Sim;
  const client = (over: Partial<ConstructorParameters<typeof ProxmoxClient>[0]> = {}) =>
    new ProxmoxClient({
      url: sim.url,
      token: `${ID}=${SECRET}`,
      fingerprint: sim.fingerprint,
      timeoutMs: 2000,
      ...over,
    });

  before(async () => {
    sim = await startSim({
      guests: [{ vmid: 101, type: 'lxc', node: 'pve1', name: 'ct', status: 'running' }],
      tokens: [{ id: ID, secret: SECRET }],
    });
  });
  after(() => sim?.close());

  it('keeps one TLS connection alive for a run of requests', async () => {
    const c = client();
    const first = sim.tlsHandshakes();
    for (let i = 0; i < 20; i++) await listGuests(c);
    // undici opens a second pooled connection once; without keep-alive it would be 20
    assert.ok(sim.tlsHandshakes() - first <= 2, `${sim.tlsHandshakes() - first} handshakes for 20 requests`);
    await c.close();
  });

  it('polls a task every 50 ms for its first two seconds, then backs off to one second', () => {
    const waits: number[] = [];
    let elapsed = 0;
    let last = FAST_POLL_MS;
    while (elapsed < 10_000) {
      last = nextPollMs(elapsed, last);
      waits.push(last);
      elapsed += last;
    }
    assert.deepEqual(new Set(waits.filter((_, i) => i < 2000 / FAST_POLL_MS)), new Set([FAST_POLL_MS]));
    assert.ok(
      waits.slice(1).every((w, i) => w >= waits[i]!),
      'never faster again',
    );
    assert.equal(waits.at(-1), MAX_POLL_MS);
  });

  it('notices a task that ends soon after a few fast polls', async () => {
    const upid = sim.startTask({ node: 'pve1', type: 'vzsnapshot', id: '101' });
    setTimeout(() => sim.finishTask(upid, 'OK'), 300);
    const before = sim.requests.length;
    const outcome = await waitForTask(client(), upid, { what: 'snapshot' });
    const polls = sim.requests.slice(before).filter((r) => r.path.endsWith('/status')).length;
    assert.equal(outcome.exitstatus, 'OK');
    // 300 ms at 50 ms apart: about six polls; a fixed 250 ms interval would have made two
    assert.ok(polls >= 4 && polls <= 12, `${polls} polls`);
  });

  it('reads guests with a pinned fingerprint or a pinned CA', async () => {
    assert.deepEqual(
      (await listGuests(client())).map((g) => g.vmid),
      [101],
    );
    const viaCa = client({ fingerprint: undefined, caPem: sim.caPem });
    assert.deepEqual(
      (await listGuests(viaCa)).map((g) => g.vmid),
      [101],
    );
  });

  it('refuses a server whose certificate does not match, before sending the token', async () => {
    const before = sim.requests.length;
    await assert.rejects(listGuests(client({ fingerprint: '00'.repeat(32) })), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'tls-failed');
      assert.match(e.message, /fingerprint mismatch - server presented [0-9A-F:]+, expected 00:00/);
      return true;
    });
    assert.throws(() => client({ fingerprint: undefined, caPem: undefined }), /no TLS trust configured/);
    await assert.rejects(
      listGuests(client({ fingerprint: undefined, caPem: OTHER_CA })),
      (e: Error & { code?: string }) => e.code === 'tls-failed',
    );
    assert.equal(sim.requests.length, before, 'nothing reached the server');
  });

  it('turns 401 and 500 into typed errors with Proxmox status and message', async () => {
    const wrong = client({ token: `${ID}=${randomUUID()}` });
    await assert.rejects(
      listGuests(wrong),
      (e: unknown) => e instanceof ProxmoxApiError && e.status === 401 && e.code === 'auth-failed',
    );
    sim.inject({ method: 'GET', path: '/cluster/resources', status: 500, message: 'cfs-lock timeout', times: 1 });
    await assert.rejects(
      listGuests(client()),
      (e: unknown) => e instanceof ProxmoxApiError && e.status === 500 && /cfs-lock timeout/.test(e.message),
    );
  });

  it('never sends a POST twice, even when the answer never comes', async () => {
    const countPosts = () => sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/snapshot')).length;
    const before = countPosts();
    sim.inject({ method: 'POST', path: /\/snapshot$/, delayMs: 4000, times: 1 });
    await assert.rejects(
      client({ timeoutMs: 1000 }).request('POST', '/nodes/pve1/lxc/101/snapshot', { snapname: 'slow' }),
      (e: Error & { code?: string }) => e.code === 'timeout',
    );
    sim.inject({ method: 'POST', path: /\/snapshot$/, drop: true, times: 1 });
    await assert.rejects(
      client().request('POST', '/nodes/pve1/lxc/101/snapshot', { snapname: 'dropped' }),
      (e: Error & { code?: string }) => e.code === 'unreachable',
    );
    await new Promise((r) => setTimeout(r, 3500)); // the delayed request is still handled by the server
    assert.equal(countPosts(), before + 2, 'exactly one POST per call');
  });

  it('retries a GET once when the connection drops', async () => {
    const count = () => sim.requests.filter((r) => r.path === '/version').length;
    const before = count();
    sim.inject({ method: 'GET', path: '/version', drop: true, times: 1 });
    const v = await client().get<{ version: string }>('/version');
    assert.ok(v.version);
    assert.equal(count(), before + 2);
  });

  it('creates, confirms and prunes snapshots through tasks', async () => {
    const names = ['pvepatch-20250101-000000', 'pvepatch-20260101-000001', 'pvepatch-20260101-000002', 'admin-keep'];
    for (const name of names) await createSnapshot(client(), guest, name);
    // pvepatch recorded only these two; the older one with its name pattern is an admin's
    const ours = new Set(['pvepatch-20260101-000001', 'pvepatch-20260101-000002']);
    const hooks: string[] = [];
    const pruned = await pruneSnapshots(client(), guest, 1, ours, {
      deleting: async (n) => void hooks.push(`deleting ${n}`),
      deleted: async (n) => void hooks.push(`deleted ${n}`),
    });
    assert.deepEqual(pruned, ['pvepatch-20260101-000001']);
    assert.deepEqual(hooks, ['deleting pvepatch-20260101-000001', 'deleted pvepatch-20260101-000001']);
    // 'slow' is the POST whose answer never arrived in time: the server still carried it out, once
    assert.deepEqual(
      sim
        .guest(101)
        .snapshots.map((s) => s.name)
        .sort(),
      ['admin-keep', 'pvepatch-20250101-000000', 'pvepatch-20260101-000002', 'slow'],
    );
    sim.failSnapshots(101, 'snapshot feature is not available');
    await assert.rejects(
      createSnapshot(client(), guest, 'pvepatch-x'),
      (e: Error & { code?: string }) =>
        e.code === 'protection-failed' && /snapshot feature is not available/.test(e.message),
    );
    sim.failSnapshots(101, null);
    await assert.rejects(createSnapshot(client(), guest, 'admin-keep'), /snapshot name 'admin-keep' already used/);
  });

  it('reports a failed or overrunning task', async () => {
    const upid = sim.startTask({ node: 'pve1', type: 'vzdump', id: '101' });
    await assert.rejects(
      waitForTask(client(), upid, { timeoutMs: 300, pollMs: 50, what: 'wait' }),
      (e: Error & { code?: string }) => e.code === 'timeout',
    );
    sim.finishTask(upid, 'job errors');
    await assert.rejects(
      waitForTask(client(), upid, { what: 'back up CT 101' }),
      /unable to back up CT 101 - job errors/,
    );
  });
});
