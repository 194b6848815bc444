import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { type Sim, startSim } from '../sim/server.js';
import {
  assertClean,
  launchBrowser,
  loginWithForm,
  loginWithTicket,
  selectLogTab,
  selectResource,
  selectTab,
  type TestBrowser,
  watchPage,
} from './browser.js';
import { type CertPair, makeCa, makeLeaf } from './certs.js';
import { type Kit, startKit } from './kit.js';

/**
 * The real PVE 9 web UI (../shared/pve-ui-kit) in headless Chromium against the API simulator: every page the
 * Patching panel's tests build on loads with no console error, failed request or Error box.
 */

const ROOT_PW = 'root-secret';
const AUDITOR = 'auditor@pve';
const AUDITOR_PW = 'audit-secret';

/**
 * Real PVE answers the Datacenter Summary's Ceph probe on a node without Ceph with a 500 (`binary not installed:
 * /usr/bin/ceph-mon`); the UI copes (tries the next node, then stops, no Error box), but Chromium logs the HTTP
 * error. That, and only that, is expected.
 */
const NO_CEPH = /\/api2\/json\/nodes\/pve[12]\/ceph\/status\b/;

let sim: Sim;
let kit: Kit;
let browser: TestBrowser;
let ca: CertPair;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  sim = await startSim({
    nodes: ['pve1', 'pve2'],
    guests: [
      { vmid: 101, type: 'lxc', node: 'pve1', name: 'web', status: 'running', tags: ['prod'] },
      { vmid: 102, type: 'lxc', node: 'pve2', name: 'cache', status: 'stopped' },
      { vmid: 201, type: 'qemu', node: 'pve1', name: 'db', status: 'running', tags: ['prod'], config: { agent: '1' } },
      { vmid: 202, type: 'qemu', node: 'pve2', name: 'build', status: 'running' },
    ],
    tokens: [],
  });
  sim.addUser('root@pam', { password: ROOT_PW });
  sim.addUser(AUDITOR, { password: AUDITOR_PW });
  sim.addRole('GuestAuditOnly', ['VM.Audit']);
  sim.setAcl({ path: '/vms', roles: ['GuestAuditOnly'], users: [AUDITOR] });
  // the task panel lists finished tasks (no pid) and the cluster log their start/end lines
  await sim.waitTask(sim.startTask({ node: 'pve1', type: 'vzdump', id: '101', durationMs: 10 }));
  sim.finishTask(
    sim.startTask({ node: 'pve2', type: 'qmreboot', id: '202' }),
    'VM quit/powerdown failed - got timeout',
  );

  ca = await makeCa();
  const leaf = await makeLeaf(ca);
  kit = await startKit({ api: sim.url, apiCa: sim.caPem, cert: leaf.certPem, key: leaf.keyPem });
  browser = await launchBrowser({ trust: [ca.certPem] });
});

after(async () => {
  await browser?.close();
  await kit?.close();
  await sim?.close();
});

test('root@pam logs in with the form and walks Datacenter, a node, a container and a VM without errors', async () => {
  assert.match(kit.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  const page = await browser.newPage();
  const watch = watchPage(page);
  const from = sim.requests.length;

  await loginWithForm(page, kit.url, 'root', ROOT_PW, 'pam');
  await selectResource(page, 'root'); // Datacenter, Search tab
  await selectTab(page, 'summary');
  await selectLogTab(page, 'clog');
  await pause(3500);
  await selectResource(page, 'node/pve1'); // Search tab
  await selectTab(page, 'summary');
  await pause(3500);
  await selectResource(page, 'lxc/101');
  await pause(3500);
  await selectResource(page, 'qemu/201');
  await selectLogTab(page, 'tasks');
  await pause(7000); // a few poll cycles of resources, tasks, status

  await assertClean(watch, { allow: [NO_CEPH] });
  const seen = sim.requests.slice(from);
  const bad = seen.filter((r) => (r.apiStatus ?? r.status) >= 400 && !(r.route === '/nodes/{node}/ceph/status'));
  assert.deepEqual(
    bad.map((r) => `${r.apiStatus} ${r.method} ${r.format} ${r.path} ${r.statusText}`),
    [],
  );
  assert.equal(seen.filter((r) => r.status === 501 || r.apiStatus === 501).length, 0);
  const ceph = seen.filter((r) => r.route === '/nodes/{node}/ceph/status');
  assert.ok(
    ceph.length > 0 &&
      ceph.every((r) => r.status === 500 && r.statusText === 'binary not installed: /usr/bin/ceph-mon'),
  );

  const routes = new Set(seen.map((r) => `${r.method} ${r.format} ${r.route}`));
  for (const expected of [
    'GET json /access/domains',
    'POST extjs /access/ticket',
    'GET extjs /version',
    'GET extjs /cluster/options',
    'GET extjs /nodes/{node}/subscription',
    'GET json /cluster/resources',
    'GET json /cluster/tasks',
    'GET json /cluster/status',
    'GET json /cluster/log',
    'GET json /nodes/{node}/status',
    'GET json /nodes/{node}/rrddata',
    'GET extjs /nodes/{node}/apt/repositories',
    'GET extjs /nodes/{node}/lxc/{vmid}/config',
    'GET json /nodes/{node}/lxc/{vmid}/status/current',
    'GET json /nodes/{node}/lxc/{vmid}/rrddata',
    'GET json /nodes/{node}/lxc/{vmid}/interfaces',
    'GET extjs /nodes/{node}/qemu/{vmid}/config',
    'GET json /nodes/{node}/qemu/{vmid}/status/current',
    'GET json /nodes/{node}/qemu/{vmid}/rrddata',
    'GET json /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces',
  ]) {
    assert.ok(routes.has(expected), `the UI did not call ${expected}; it called:\n${[...routes].sort().join('\n')}`);
  }
  await page.browserContext().close();
});

test('a user with only VM.Audit, logged in by ticket cookie, sees the guests in the resource tree', async () => {
  const page = await browser.newPage();
  const watch = watchPage(page);
  const from = sim.requests.length;

  await loginWithTicket(page, kit.url, AUDITOR, AUDITOR_PW);
  const ids = await page.evaluate(() => {
    const ids: string[] = [];
    // biome-ignore lint/suspicious/noExplicitAny: ExtJS in the page
    const Ext = (window as any).Ext;
    Ext.ComponentQuery.query('pveResourceTree')[0]
      .getStore()
      .getRoot()
      .cascade((n: { data: { id: string } }) => {
        ids.push(n.data.id);
      });
    return ids;
  });
  for (const id of ['lxc/101', 'lxc/102', 'qemu/201', 'qemu/202']) assert.ok(ids.includes(id), `${id} in ${ids}`);
  await selectResource(page, 'lxc/101');
  await pause(3500);

  await assertClean(watch);
  const seen = sim.requests.slice(from);
  assert.ok(seen.some((r) => r.authid === AUDITOR && r.route === '/cluster/resources'));
  assert.deepEqual(
    seen.filter((r) => (r.apiStatus ?? r.status) >= 400).map((r) => `${r.apiStatus} ${r.method} ${r.path}`),
    [],
  );
  await page.browserContext().close();
});

async function listen(cert: CertPair): Promise<{ server: Server; url: string }> {
  const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

test('Chromium trusts the test CA and no other one', async () => {
  const trusted = await listen(await makeLeaf(ca));
  const foreign = await listen(await makeLeaf(await makeCa('another CA')));
  const page = await browser.newPage();
  try {
    await page.goto(kit.url);
    const probe = (url: string) =>
      page.evaluate(async (u: string) => {
        try {
          return await (await fetch(u)).text();
        } catch (err) {
          return `failed: ${String(err)}`;
        }
      }, url);
    const failures: string[] = [];
    page.on('requestfailed', (r) => failures.push(`${r.url()} ${r.failure()?.errorText}`));
    assert.equal(await probe(trusted.url), 'ok');
    assert.match(await probe(foreign.url), /^failed: TypeError/);
    assert.deepEqual(failures, [`${foreign.url} net::ERR_CERT_AUTHORITY_INVALID`]);
  } finally {
    await page.browserContext().close();
    trusted.server.close();
    foreign.server.close();
  }
});
