/**
 * Datacenter → Patching in cluster mode, in the real PVE web UI (headless Chromium) against the real
 * daemon's HTTPS API: the Guests toolbar says who leads, whether the cluster is quorate and on how many
 * nodes pvepatchd runs (the simulator's pve2 has none: named, with the reason as a tooltip), a guest
 * on pve2 is marked in the grid, and quorum lost turns the line into the no-quorum warning.
 *
 * One daemon (pve1) with a plain directory as its cluster_dir: it takes the leader lock by itself.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'puppeteer-core';
import { type Env, startEnv } from '../e2e/harness.js';
import {
  assertClean,
  launchBrowser,
  loginWithForm,
  selectResource,
  selectTab,
  type TestBrowser,
  watchPage,
} from './browser.js';
import { makeCa, makeLeaf } from './certs.js';
import { type InstalledPage, startInstalledPage } from './installed-page.js';
import { type Kit, startKit } from './kit.js';

// biome-ignore lint/suspicious/noExplicitAny: ExtJS has no types here
type Any = any;
declare const Ext: Any;

const ROOT = new URL('../../', import.meta.url).pathname;
const ROOT_PW = 'root-secret';

describe('the Patching panel in cluster mode', { timeout: 300_000 }, () => {
  let env: Env;
  let kit: Kit;
  let site: InstalledPage;
  let browser: TestBrowser;
  let tmp: string;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'pvepatch-ui-cluster-'));
    execFileSync(process.execPath, [join(ROOT, 'scripts/build-ui.mjs'), join(tmp, 'pvepatch-ui.js')], { cwd: ROOT });
    env = await startEnv({
      guests: [],
      apiOnlyGuests: [
        { vmid: 200, type: 'qemu', node: 'pve1', name: 'db', status: 'stopped' },
        { vmid: 300, type: 'qemu', node: 'pve2', name: 'far', status: 'stopped' },
      ],
    });
    env.sim.addUser('root@pam', { password: ROOT_PW });
    const ca = await makeCa();
    const [kitLeaf, apiLeaf] = [await makeLeaf(ca), await makeLeaf(ca)];
    kit = await startKit({
      api: env.sim.url,
      apiCa: env.sim.caPem,
      cert: kitLeaf.certPem,
      key: kitLeaf.keyPem,
      inject: [join(tmp, 'pvepatch-ui.js')],
    });
    const port = await freePort();
    site = await startInstalledPage({
      kitUrl: kit.url,
      kitCa: ca.certPem,
      cert: kitLeaf.certPem,
      key: kitLeaf.keyPem,
      version: '0.1.0',
      apiPort: port,
    });
    writeFileSync(join(tmp, 'api.pem'), apiLeaf.certPem);
    writeFileSync(join(tmp, 'api.key'), apiLeaf.keyPem, { mode: 0o600 });
    const clusterDir = join(env.dir, 'pve');
    mkdirSync(clusterDir);
    await env.restartDaemon({
      api_port: String(port),
      api_host: '127.0.0.1',
      api_cert: join(tmp, 'api.pem'),
      api_key: join(tmp, 'api.key'),
      pve_www_key: env.sim.wwwKeyPath,
      api_origins: new URL(site.url).origin,
      cluster_dir: clusterDir,
      cluster_refresh: '1',
    });
    browser = await launchBrowser({ trust: [ca.certPem] });
  });

  after(async () => {
    env?.sim.setQuorate(true);
    await browser?.close();
    await site?.close();
    await kit?.close();
    await env?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** The cluster line's text once `ok` holds for it (the grid reloads every 10 s). */
  async function clusterLine(page: Page, ok: (text: string) => boolean, what: string): Promise<string> {
    const t0 = Date.now();
    let text = '';
    while (Date.now() - t0 < 60_000) {
      text = await page.evaluate(() => {
        const c = Ext.ComponentQuery.query('pvepatchFleet #cluster')[0];
        return c?.isVisible() ? c.getEl().dom.textContent.trim() : '';
      });
      if (ok(text)) return text;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.fail(`cluster line: ${what} - not within 60 s; it says: '${text}'`);
  }

  it('shows the leader, quorum and the nodes without pvepatchd; marks their guests; warns without quorum', async () => {
    const page = await browser.newPage();
    await page.setViewport({ width: 1920, height: 900 });
    const watch = watchPage(page);
    await loginWithForm(page, site.url, 'root', ROOT_PW, 'pam');
    await selectResource(page, 'root');
    await selectTab(page, 'pvepatch');

    const line = await clusterLine(page, (t) => t.includes('leader pve1'), 'pve1 leads');
    assert.equal(line, 'Cluster: leader pve1 · quorum OK · pvepatchd on 1/2 nodes · not running on pve2');
    const tip = await page.evaluate(
      () =>
        Ext.ComponentQuery.query('pvepatchFleet #cluster')[0].getEl().dom.querySelector('[data-qtip]')?.dataset.qtip,
    );
    // the tooltip is HTML (QuickTips): the daemon's reason comes HTML-encoded
    assert.equal(tip, 'no pvepatch daemon has run on node &#39;pve2&#39;');

    // the guest on pve2: no plan, its reason in the note column, with the warning icon
    const far = await page.evaluate(() => {
      const grid = Ext.ComponentQuery.query('pvepatchFleet')[0];
      const rec = grid.getStore().getById(300);
      const node = rec && grid.getView().getNode(rec);
      return rec
        ? {
            unreachable: rec.data.unreachable,
            icon: !!node?.querySelector('.fa-exclamation-triangle.warning'),
            text: node?.textContent,
          }
        : null;
    });
    assert.ok(far?.unreachable, JSON.stringify(far));
    assert.equal(far.icon, true);
    assert.ok(far.text.includes(far.unreachable), far.text);
    const near = await page.evaluate(() => {
      const grid = Ext.ComponentQuery.query('pvepatchFleet')[0];
      return !!grid.getView().getNode(grid.getStore().getById(200))?.querySelector('.fa-exclamation-triangle');
    });
    assert.equal(near, false, "pve1's guest is not marked");

    env.sim.setQuorate(false);
    await clusterLine(page, (t) => t.includes('No quorum'), 'the no-quorum warning');
    const warned = await page.evaluate(() => {
      const el = Ext.ComponentQuery.query('pvepatchFleet #cluster')[0].getEl().dom;
      return { text: el.textContent.trim(), icon: !!el.querySelector('i.fa-exclamation-triangle.warning') };
    });
    assert.equal(warned.text, 'Cluster: No quorum - nothing new starts until it returns');
    assert.equal(warned.icon, true);

    env.sim.setQuorate(true);
    await clusterLine(page, (t) => t.includes('quorum OK'), 'quorum back');

    await assertClean(watch);
    await page.close();
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}
