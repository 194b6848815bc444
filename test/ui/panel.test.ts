/**
 * The Patching panel in the real PVE 9 web UI (../shared/pve-ui-kit), in headless Chromium, against
 * the real daemon's HTTPS API and the API simulator, patching real Debian containers: the fleet with
 * its pending and security counts, "Plan", "Patch" on two guests with live progress, the guest
 * Updates tab with the run's task log, a VM.Audit-only user without Patch, and an unreachable API.
 *
 * The page gets the panel's <script> line exactly as `pvepatch ui install` writes it (with the
 * daemon's port): the kit's injected line is replaced in the rendered page by daemon/ui-install's
 * own function. Screenshots go to a temporary directory, or to docs/ with PVEPATCH_UI_SCREENSHOTS=docs.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'puppeteer-core';
import { type Env, startEnv, versions } from '../e2e/harness.js';
import { DEMO_PACKAGE_NAMES } from '../guests/demo-packages.js';
import {
  assertClean,
  launchBrowser,
  loginWithForm,
  loginWithTicket,
  screenshot,
  selectResource,
  selectTab,
  type TestBrowser,
  watchPage,
} from './browser.js';
import { type CertPair, makeCa, makeLeaf } from './certs.js';
import { type InstalledPage, startInstalledPage } from './installed-page.js';
import { type Kit, startKit } from './kit.js';

// the page's globals, inside page.evaluate
// biome-ignore lint/suspicious/noExplicitAny: ExtJS has no types here
type Any = any;
declare const Ext: Any;
declare const Proxmox: Any;

const ROOT = new URL('../../', import.meta.url).pathname;
const ROOT_PW = 'root-secret';
const AUDITOR = 'auditor@pve';
const AUDITOR_PW = 'audit-secret';
const GUESTS = [101, 102, 103];
const PENDING = DEMO_PACKAGE_NAMES.length;
const all = (v: string) => Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, v]));

interface FleetRow {
  vmid: number;
  updates_available: number | null;
  security_updates: number | null;
  last_run: { outcome: string } | null;
  next_schedule: { id: string; mode: string; at: string } | null;
  may_run: boolean;
}

describe('the Patching panel in the real PVE web UI', { timeout: 600_000 }, () => {
  let env: Env;
  let kit: Kit;
  let site: InstalledPage;
  let browser: TestBrowser;
  let ca: CertPair;
  let port: number;
  let tmp: string;
  let shots: string;
  const watches = new Map<Page, ReturnType<typeof watchPage>>();

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'pvepatch-ui-'));
    shots = process.env.PVEPATCH_UI_SCREENSHOTS === 'docs' ? join(ROOT, 'docs') : tmp;
    execFileSync(process.execPath, [join(ROOT, 'scripts/build-ui.mjs'), join(tmp, 'pvepatch-ui.js')], { cwd: ROOT });
    env = await startEnv({
      guests: GUESTS.map((vmid) => ({ vmid, hostname: `web${vmid}` })),
      apiOnlyGuests: [{ vmid: 200, type: 'qemu', node: 'pve1', name: 'db', status: 'stopped' }],
    });
    env.sim.addUser('root@pam', { password: ROOT_PW });
    env.sim.addUser(AUDITOR, { password: AUDITOR_PW });
    env.sim.addRole('GuestAuditOnly', ['VM.Audit']);
    env.sim.setAcl({ path: '/vms', roles: ['GuestAuditOnly'], users: [AUDITOR] });

    ca = await makeCa();
    const [kitLeaf, apiLeaf] = [await makeLeaf(ca), await makeLeaf(ca)];
    kit = await startKit({
      api: env.sim.url,
      apiCa: env.sim.caPem,
      cert: kitLeaf.certPem,
      key: kitLeaf.keyPem,
      inject: [join(tmp, 'pvepatch-ui.js')],
    });
    port = await freePort();
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
    await env.restartDaemon({
      api_port: String(port),
      api_host: '127.0.0.1',
      api_cert: join(tmp, 'api.pem'),
      api_key: join(tmp, 'api.key'),
      pve_www_key: env.sim.wwwKeyPath,
      api_origins: new URL(site.url).origin,
    });
    const sched = await env.cli('schedule', 'add', 'nightly', '101-102', '--cron', '0 3 * * *', '--window', '60');
    assert.equal(sched.code, 0, sched.err);
    browser = await launchBrowser({ trust: [ca.certPem] });
  });

  after(async () => {
    await browser?.close();
    await site?.close();
    await kit?.close();
    await env?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** A page whose panel line names `apiPort` (the page as pveproxy serves it after `pvepatch ui install`). */
  async function newPage(apiPort: number): Promise<{ page: Page; watch: ReturnType<typeof watchPage> }> {
    site.setApiPort(apiPort);
    const page = await browser.newPage();
    await page.setViewport({ width: 1920, height: 900 });
    const watch = watchPage(page);
    watches.set(page, watch);
    if (process.env.PVEPATCH_UI_DEBUG) {
      await page.evaluateOnNewDocument(() =>
        window.addEventListener('unhandledrejection', (e) =>
          console.log('UNHANDLED', JSON.stringify(e.reason), e.reason?.stack),
        ),
      );
      page.on('console', (m) => console.log('PAGE', Date.now() % 100000, m.type(), m.text()));
      const cdp = await page.createCDPSession();
      await cdp.send('Runtime.enable');
      cdp.on('Runtime.exceptionThrown', (e) => console.log('EXC', JSON.stringify(e.exceptionDetails).slice(0, 3000)));
    }
    return { page, watch };
  }

  async function openPatching(page: Page): Promise<void> {
    await selectResource(page, 'root');
    await selectTab(page, 'pvepatch');
  }

  const fleet = (page: Page) =>
    page.evaluate(() =>
      Ext.ComponentQuery.query('pvepatchFleet')[0]
        .getStore()
        .getRange()
        .map((r: { data: unknown }) => r.data),
    ) as Promise<FleetRow[]>;

  async function waitFleet(page: Page, ok: (rows: FleetRow[]) => boolean, what: string, timeoutMs = 60_000) {
    const t0 = Date.now();
    let rows: FleetRow[] = [];
    while (Date.now() - t0 < timeoutMs) {
      rows = await fleet(page);
      if (ok(rows)) return rows;
      await new Promise((r) => setTimeout(r, 250));
    }
    const notice = await page.evaluate(
      () => Ext.ComponentQuery.query('pvepatchFleet #notice')[0]?.getEl()?.dom.textContent,
    );
    assert.fail(
      `fleet grid: ${what} - not within ${timeoutMs} ms; rows: ${JSON.stringify(rows)}; notice: ${notice}; page: ${[...(watches.get(page)?.consoleErrors ?? []), ...(watches.get(page)?.failedRequests ?? [])].join('; ')}`,
    );
  }

  /** Clicks an Ext button (a component query) with the mouse, as a user would. */
  async function click(page: Page, query: string): Promise<void> {
    if (process.env.PVEPATCH_UI_DEBUG) console.log('CLICK', Date.now() % 100000, query);
    const id = await page.waitForFunction(
      (q: string) => {
        const c = Ext.ComponentQuery.query(q).find(
          (x: { isVisible(): boolean; isDisabled(): boolean }) => x.isVisible() && !x.isDisabled(),
        );
        return c ? c.getId() : false;
      },
      { timeout: 15_000, polling: 100 },
      query,
    );
    await page.click(`#${await id.jsonValue()}`);
  }

  async function selectRows(page: Page, vmids: number[]): Promise<void> {
    await page.evaluate((ids: number[]) => {
      const grid = Ext.ComponentQuery.query('pvepatchFleet')[0];
      grid.getSelectionModel().select(ids.map((id) => grid.getStore().getById(id)));
    }, vmids);
  }

  it('root patches two containers from the fleet: counts, plan preview, live progress, new versions, the task log', async () => {
    const { page, watch } = await newPage(port);
    await loginWithForm(page, site.url, 'root', ROOT_PW, 'pam');
    await openPatching(page);
    await waitFleet(page, (rows) => rows.length === 4, 'the four guests');

    // "Check for updates" plans every guest; the grid then shows the real pending and security counts
    await click(page, 'pvepatchFleet #refresh');
    let rows = await waitFleet(
      page,
      (r) => GUESTS.every((v) => r.find((x) => x.vmid === v)?.updates_available === PENDING),
      'pending counts after the check',
    );
    for (const v of GUESTS) {
      const row = rows.find((x) => x.vmid === v)!;
      assert.equal(row.security_updates, 1, `guest ${v}`);
      assert.equal(row.may_run, true);
      assert.equal(row.next_schedule?.id, v === 103 ? undefined : 'nightly', `guest ${v}`);
    }
    assert.match(rows[0]!.next_schedule!.at, /T\d\d:00:00/);
    const rowText = await page.evaluate(() => {
      const grid = Ext.ComponentQuery.query('pvepatchFleet')[0];
      return grid.getView().getNode(grid.getStore().getById(101)).textContent;
    });
    assert.match(rowText, new RegExp(`101 \\(web101\\).*pve1.*lxc.*apt.*pct${PENDING}1`));

    // Plan: packages current → new with the security flag, and the snapshot/reboot plan
    await selectRows(page, [101]);
    await click(page, 'pvepatchFleet #plan');
    const plan = (await (
      await page.waitForFunction(
        () => {
          const w = Ext.ComponentQuery.query('pvepatchPlanWindow')[0];
          const recs = w?.down('#packages').getStore().getRange() ?? [];
          return recs.length > 0 && !w.isMasked() ? recs.map((r: { data: unknown }) => r.data) : false;
        },
        { timeout: 60_000, polling: 200 },
      )
    ).jsonValue()) as {
      package: string;
      current_version: string;
      new_version: string;
      security?: boolean;
      header: string;
    }[];
    assert.deepEqual(
      plan.map((p) => [p.package, p.current_version, p.new_version, p.security === true]).sort(),
      DEMO_PACKAGE_NAMES.map((n) => [n, '1.0', '1.1', n === 'demo-sec']).sort(),
    );
    assert.match(
      plan[0]!.header,
      /101 \(web101\).*5 updates, .*1 security.*Snapshot: before the upgrade.*Reboot: never/,
    );
    await screenshot(page, join(shots, 'ui-plan.png'));
    await page.evaluate(() => Ext.ComponentQuery.query('pvepatchPlanWindow')[0].close());

    // Patch 101 and 102: a rollout whose viewer follows the event stream
    await selectRows(page, [101, 102]);
    await click(page, 'pvepatchFleet #patch');
    await click(page, 'pvepatchPatchWindow #start');
    await page.waitForFunction(() => Ext.ComponentQuery.query('pvepatchRolloutViewer').length === 1, {
      timeout: 30_000,
    });
    await page.evaluate(() => {
      const w = window as unknown as { stagesSeen: string[] };
      w.stagesSeen = [];
      Ext.ComponentQuery.query('pvepatchRolloutViewer')[0].guestStore.on(
        'update',
        (_s: unknown, rec: { data: { vmid: number; stage: string } }) => {
          if (rec.data.stage) w.stagesSeen.push(`${rec.data.vmid}:${rec.data.stage}`);
        },
      );
    });
    await page.waitForFunction(
      () => Ext.ComponentQuery.query('pvepatchRolloutViewer')[0].rollout.state === 'completed',
      {
        timeout: 240_000,
        polling: 250,
      },
    );
    const viewer = await page.evaluate(() => {
      const w = Ext.ComponentQuery.query('pvepatchRolloutViewer')[0];
      return {
        guests: w.guestStore.getRange().map((r: { data: unknown }) => r.data),
        rows: Array.from(w.guestGrid.getView().getNodes()).map((n) => (n as HTMLElement).textContent),
        log: w.logText.getText(),
        progress: w.progress.getText ? w.progress.getText() : w.progress.text,
        stages: (window as unknown as { stagesSeen: string[] }).stagesSeen,
      };
    });
    assert.deepEqual(
      viewer.guests.map((g: { vmid: number; outcome: string }) => [g.vmid, g.outcome]),
      [
        [101, 'updated'],
        [102, 'updated'],
      ],
    );
    for (const text of viewer.rows)
      for (const p of DEMO_PACKAGE_NAMES) assert.ok(text.includes(`${p} 1.0 → 1.1`), text);
    assert.ok(
      viewer.stages.some((s: string) => s.endsWith(':patch')),
      `live stages: ${viewer.stages.join(' ')}`,
    );
    assert.match(viewer.log, /demo-sec/);
    assert.match(viewer.progress, /completed - 2\/2 guests/);
    await screenshot(page, join(shots, 'ui-rollout.png'));
    await page.evaluate(() => Ext.ComponentQuery.query('pvepatchRolloutViewer')[0].close());

    // the fleet checks the patched guests again: nothing pending, last run updated; 103 untouched
    rows = await waitFleet(
      page,
      (r) => [101, 102].every((v) => r.find((x) => x.vmid === v)?.updates_available === 0),
      'patched guests re-checked',
    );
    for (const v of [101, 102]) assert.equal(rows.find((x) => x.vmid === v)?.last_run?.outcome, 'updated');
    assert.equal(rows.find((x) => x.vmid === 103)?.updates_available, PENDING);
    for (const v of [101, 102])
      assert.deepEqual(await versions(env.lab, v, DEMO_PACKAGE_NAMES), all('1.1'), `guest ${v}`);
    assert.deepEqual(await versions(env.lab, 103, DEMO_PACKAGE_NAMES), all('1.0'));
    await page.evaluate(() => Ext.ComponentQuery.query('pvepatchFleet')[0].getSelectionModel().deselectAll());
    await screenshot(page, join(shots, 'ui-patching.png'));

    // the guest's Updates tab: its run, and the run's task log
    await selectResource(page, 'lxc/101');
    await selectTab(page, 'pvepatch');
    const runs = (await (
      await page.waitForFunction(
        () => {
          const recs = Ext.ComponentQuery.query('pvepatchGuestUpdates #runs')[0]?.getStore().getRange() ?? [];
          return recs.length > 0 ? recs.map((r: { data: unknown }) => r.data) : false;
        },
        { timeout: 30_000, polling: 200 },
      )
    ).jsonValue()) as { id: string; outcome: string }[];
    assert.deepEqual(
      runs.map((r) => r.outcome),
      ['updated'],
    );
    await page.evaluate(() => {
      const grid = Ext.ComponentQuery.query('pvepatchGuestUpdates #runs')[0];
      grid.fireEvent('itemdblclick', grid.getView(), grid.getStore().getAt(0));
    });
    const log = (await (
      await page.waitForFunction(
        () => {
          const text = Ext.ComponentQuery.query('pvepatchRunViewer')[0]?.logText.getText() ?? '';
          return /finished|ended|state/i.test(text) && text.includes('demo-sec') ? text : false;
        },
        { timeout: 30_000, polling: 200 },
      )
    ).jsonValue()) as string;
    assert.match(log, new RegExp(runs[0]!.id.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    await screenshot(page, join(shots, 'ui-guest-updates.png'));
    await page.evaluate(() => Ext.ComponentQuery.query('pvepatchRunViewer')[0].close());

    // the tab is on VMs too (this one is stopped: nothing pending, no error)
    await selectResource(page, 'qemu/200');
    await selectTab(page, 'pvepatch');
    await page.waitForFunction(() => Ext.ComponentQuery.query('pvepatchGuestUpdates')[0]?.down('#notice').isHidden(), {
      timeout: 15_000,
    });
    await new Promise((r) => setTimeout(r, 1500));
    // closing a viewer closes its event streams; one still open is aborted by the browser (no console error)
    await assertClean(watch, {
      allow: [
        /^requestfailed: GET https:\/\/127\.0\.0\.1:\d+\/api\/v1\/(runs|rollouts)\/[^ ]+\/events net::ERR_ABORTED$/,
      ],
    });
    await page.close();
  });

  it('a user with only VM.Audit sees the fleet but no Plan or Patch, and the API refuses that user a run', async () => {
    const { page, watch } = await newPage(port);
    await loginWithTicket(page, site.url, AUDITOR, AUDITOR_PW);
    await openPatching(page);
    const rows = await waitFleet(page, (r) => r.length === 4, 'the four guests');
    assert.deepEqual(
      rows.map((r) => [r.vmid, r.may_run]),
      [
        [101, false],
        [102, false],
        [103, false],
        [200, false],
      ],
    );
    // (and no cluster line: this daemon is standalone)
    const hidden = await page.evaluate(() =>
      ['#plan', '#patch', '#refresh', '#cluster'].map((q) =>
        Ext.ComponentQuery.query(`pvepatchFleet ${q}`)[0].isHidden(),
      ),
    );
    assert.deepEqual(hidden, [true, true, true, true]);
    const refused = await page.evaluate(async (apiPort: number) => {
      const r = await fetch(`https://127.0.0.1:${apiPort}/api/v1/runs`, {
        method: 'POST',
        credentials: 'include',
        headers: { 'Content-Type': 'application/json', CSRFPreventionToken: Proxmox.CSRFPreventionToken },
        body: JSON.stringify({ selector: ['103'] }),
      });
      return { status: r.status, body: await r.json() };
    }, port);
    assert.equal(refused.status, 403);
    assert.match(refused.body.error.message, /VM 103: missing VM\.Snapshot, VM\.PowerMgmt on \/vms\/103/);
    await selectResource(page, 'lxc/103');
    await selectTab(page, 'pvepatch');
    await page.waitForFunction(() => Ext.ComponentQuery.query('pvepatchGuestUpdates #runs')[0]?.rendered, {
      timeout: 15_000,
    });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(
      await page.evaluate(() => Ext.ComponentQuery.query('pvepatchGuestUpdates #patchNow')[0].isHidden()),
      true,
    );
    // the one refusal the test asked for
    await assertClean(watch, {
      allow: [
        new RegExp(`response: 403 .* POST https://127\\.0\\.0\\.1:${port}/api/v1/runs$`),
        new RegExp(`status of 403 \\(Forbidden\\) \\(https://127\\.0\\.0\\.1:${port}/api/v1/runs\\)$`),
      ],
    });
    await page.close();
  });

  it('says why when the API cannot be reached: the daemon down, or its certificate not trusted', async () => {
    const other = await makeCa('another CA');
    const leaf = await makeLeaf(other);
    const untrusted = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => res.end('{}'));
    await new Promise<void>((r) => untrusted.listen(0, '127.0.0.1', r));
    const closed = await freePort();
    try {
      for (const apiPort of [closed, (untrusted.address() as AddressInfo).port]) {
        const { page, watch } = await newPage(apiPort);
        await loginWithForm(page, site.url, 'root', ROOT_PW, 'pam');
        await openPatching(page);
        const notice = (await (
          await page.waitForFunction(
            () => {
              const n = Ext.ComponentQuery.query('pvepatchFleet #notice')[0];
              return n && !n.isHidden() ? n.getEl().dom.textContent : false;
            },
            { timeout: 30_000, polling: 200 },
          )
        ).jsonValue()) as string;
        assert.match(notice, /pvepatch is not reachable/);
        assert.ok(notice.includes(`https://127.0.0.1:${apiPort}/`), notice);
        assert.match(notice, /systemctl status pvepatchd/);
        assert.match(notice, /trust its certificate/);
        assert.equal((await fleet(page)).length, 0);
        if (apiPort === closed) await screenshot(page, join(tmp, 'ui-unreachable.png'));
        await assertClean(watch, {
          allow: [
            new RegExp(`127\\.0\\.0\\.1:${apiPort}/api/v1/.*(ERR_CONNECTION_REFUSED|ERR_CERT_AUTHORITY_INVALID)`),
            /Failed to load resource: net::ERR_(CONNECTION_REFUSED|CERT_AUTHORITY_INVALID)/,
          ],
        });
        await page.close();
      }
    } finally {
      untrusted.close();
    }
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
