import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

const run = promisify(execFile);

export const CHROMIUM = '/usr/bin/chromium';

/** The ExtJS / PVE globals the helpers touch inside the page (typed loosely on purpose). */
// biome-ignore lint/suspicious/noExplicitAny: the page's ExtJS API is untyped
type Any = any;
declare const Ext: Any;
declare const Proxmox: Any;

export interface LaunchOptions {
  /** PEM CA certificates Chromium trusts for TLS servers (NSS db of the throwaway HOME, trust `C,,`). */
  trust?: string[];
  /** Extra Chromium arguments. */
  args?: string[];
}

export interface TestBrowser {
  browser: Browser;
  /** A page in a fresh browser context (own cookies and localStorage, as the kit README asks for). */
  newPage(): Promise<Page>;
  /** Closes Chromium and removes its HOME and profile. */
  close(): Promise<void>;
}

/**
 * Launches Debian's Chromium headless (`--no-sandbox`: tests run as root) with a fresh profile and a throwaway
 * HOME, both in one temporary directory removed on close. Chromium on Linux takes user-added trust anchors from
 * the NSS database `$HOME/.pki/nssdb`; each `trust` CA is added there with `certutil -A -t C,,` (a trusted CA
 * for server certificates), so certificates of any other CA stay untrusted.
 */
export async function launchBrowser(opts: LaunchOptions = {}): Promise<TestBrowser> {
  const root = await mkdtemp(join(tmpdir(), 'pvepatch-ui-browser-'));
  try {
    const home = join(root, 'home');
    const nssdb = join(home, '.pki', 'nssdb');
    await mkdir(nssdb, { recursive: true });
    await run('certutil', ['-N', '-d', `sql:${nssdb}`, '--empty-password']);
    for (const [i, pem] of (opts.trust ?? []).entries()) {
      const file = join(root, `ca-${i}.pem`);
      await writeFile(file, pem);
      await run('certutil', ['-A', '-d', `sql:${nssdb}`, '-n', `pvepatch-test-ca-${i}`, '-t', 'C,,', '-i', file]);
    }
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: join(root, 'profile'),
      env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache') },
      args: [
        '--no-sandbox',
        '--disable-dev-shm-usage',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--window-size=1400,900',
        ...(opts.args ?? []),
      ],
      defaultViewport: { width: 1400, height: 900 },
    });
    return {
      browser,
      newPage: async () => (await browser.createBrowserContext()).newPage(),
      close: async () => {
        try {
          await browser.close();
        } finally {
          await rm(root, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}

export interface PageWatch {
  page: Page;
  /** Console messages of level error (`console.error`, and Chromium's own, e.g. "Failed to load resource"). */
  consoleErrors: string[];
  /** Uncaught exceptions in the page. */
  pageErrors: string[];
  /** Requests that got no answer (`net::ERR_…`). */
  failedRequests: string[];
  /** Answers with status >= 400. */
  badResponses: string[];
  /** Forgets everything collected so far. */
  reset(): void;
}

/** Collects everything that counts as "not clean" on a page, from now on. */
export function watchPage(page: Page): PageWatch {
  const w: PageWatch = {
    page,
    consoleErrors: [],
    pageErrors: [],
    failedRequests: [],
    badResponses: [],
    reset() {
      for (const list of [w.consoleErrors, w.pageErrors, w.failedRequests, w.badResponses]) list.length = 0;
    },
  };
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = msg.location()?.url;
    w.consoleErrors.push(`console.error: ${msg.text()}${where ? ` (${where})` : ''}`);
  });
  page.on('pageerror', (err) => {
    w.pageErrors.push(`pageerror: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  });
  page.on('requestfailed', (req) => {
    w.failedRequests.push(`requestfailed: ${req.method()} ${req.url()} ${req.failure()?.errorText ?? ''}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) {
      w.badResponses.push(`response: ${res.status()} ${res.statusText()} ${res.request().method()} ${res.url()}`);
    }
  });
  return w;
}

/**
 * Visible error dialogs: any visible Ext window titled "Error", and the `Ext.Msg` singleton when it shows
 * (alerts, confirmations). Each as `title: text`.
 */
export async function visibleErrorWindows(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    if (typeof Ext === 'undefined' || !Ext.ComponentQuery) return [];
    const out: string[] = [];
    for (const win of Ext.ComponentQuery.query('window')) {
      if (!win.isVisible()) continue;
      const title = String(win.getTitle?.() ?? win.title ?? '');
      if (win === Ext.Msg || win.isMessageBox || title === 'Error') {
        const body = win.msgEl?.getEl?.()?.dom?.textContent ?? win.body?.dom?.textContent ?? '';
        out.push(`${title}: ${String(body).trim()}`);
      }
    }
    return out;
  });
}

export interface CleanOptions {
  /** Entries matching any of these are expected (each must say why where it is used). */
  allow?: RegExp[];
}

/** Fails listing every unexpected console error, page error, failed request, bad response and error window. */
export async function assertClean(watch: PageWatch, opts: CleanOptions = {}): Promise<void> {
  const windows = (await visibleErrorWindows(watch.page)).map((t) => `error window: ${t}`);
  const all = [...watch.pageErrors, ...watch.consoleErrors, ...watch.failedRequests, ...watch.badResponses, ...windows];
  const unexpected = all.filter((e) => !(opts.allow ?? []).some((re) => re.test(e)));
  assert.deepEqual(unexpected, [], `the page is not clean:\n${unexpected.join('\n')}`);
}

/** Until the UI is logged in and the resource tree has its first children. */
export async function waitReady(page: Page, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction(
    () =>
      typeof Proxmox !== 'undefined' &&
      Boolean(Proxmox.UserName) &&
      (Ext.ComponentQuery.query('pveResourceTree')[0]?.getStore().getRoot().childNodes.length ?? 0) > 0,
    { timeout: timeoutMs, polling: 100 },
  );
}

/**
 * The login window as a user fills it in: `user` without or with its realm (`root` or `root@pam`), the realm
 * picked in the Realm combobox once /access/domains has loaded, then Enter. Resolves when the UI is ready.
 */
export async function loginWithForm(page: Page, url: string, user: string, password: string, realm: string) {
  await page.goto(url);
  await page.waitForSelector('input[name=username]', { visible: true });
  await page.waitForFunction(
    (r: string) => {
      const combo = Ext.ComponentQuery.query('pmxRealmComboBox')[0];
      const store = combo?.getStore();
      return Boolean(store && !store.isLoading() && store.findExact('realm', r) >= 0);
    },
    { polling: 100 },
    realm,
  );
  await page.type('input[name=username]', user.replace(/@[^@]*$/, ''));
  await page.type('input[name=password]', password);
  await page.evaluate((r: string) => Ext.ComponentQuery.query('pmxRealmComboBox')[0].setValue(r), realm);
  await page.focus('input[name=password]');
  await page.keyboard.press('Enter');
  await waitReady(page);
}

/**
 * The kit README's method A: a ticket from `POST /api2/extjs/access/ticket` (asked from inside the page, so the
 * browser's TLS trust applies), set as `PVEAuthCookie`, then the index is loaded logged in. `user` with realm.
 */
export async function loginWithTicket(page: Page, url: string, user: string, password: string): Promise<void> {
  await page.goto(url);
  const data = await page.evaluate(
    async (u: string, p: string) => {
      const r = await fetch('/api2/extjs/access/ticket', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username: u, password: p }).toString(),
      });
      return (await r.json()) as { success: number; message?: string; data: { ticket?: string } | null };
    },
    user,
    password,
  );
  if (!data.success || !data.data?.ticket) throw new Error(`login of ${user} failed: ${data.message ?? 'no ticket'}`);
  const { hostname } = new URL(url);
  await page.setCookie({
    name: 'PVEAuthCookie',
    value: data.data.ticket,
    domain: hostname,
    path: '/',
    secure: url.startsWith('https:'),
    sameSite: 'Strict',
  });
  await page.goto(url);
  await waitReady(page);
}

/** Selects a resource tree node ('root', 'node/pve1', 'lxc/101', 'qemu/201') and waits for its config panel. */
export async function selectResource(page: Page, id: string, timeoutMs = 15_000): Promise<void> {
  await page.waitForFunction(
    (nodeId: string) =>
      Boolean(Ext.ComponentQuery.query('pveStdWorkspace')[0].down('pveResourceTree').selectById(nodeId)),
    { timeout: timeoutMs, polling: 200 },
    id,
  );
  await page.waitForFunction(
    (nodeId: string) => {
      const panel = Ext.ComponentQuery.query('pveStdWorkspace')[0].down('#content').items.getAt(0);
      const sel = panel?.pveSelNode?.data?.id ?? (panel?.pveSelNode ? 'root' : undefined);
      return panel?.rendered && (sel === nodeId || (nodeId === 'root' && panel.xtype === 'pveDcConfig'));
    },
    { timeout: timeoutMs, polling: 100 },
    id,
  );
}

/** Selects a tab (menu itemId) of the current config panel and waits until it is the active card. */
export async function selectTab(page: Page, itemId: string, timeoutMs = 15_000): Promise<void> {
  const found = await page.evaluate((tab: string) => {
    const panel = Ext.ComponentQuery.query('pveStdWorkspace')[0].down('#content').items.getAt(0);
    return panel.selectById(tab) as string;
  }, itemId);
  if (!found) throw new Error(`selectTab: the current config panel has no tab '${itemId}'`);
  await page.waitForFunction(
    (tab: string) => {
      const panel = Ext.ComponentQuery.query('pveStdWorkspace')[0].down('#content').items.getAt(0);
      const active = panel.getLayout().getActiveItem();
      return active?.itemId === tab && active.rendered;
    },
    { timeout: timeoutMs, polling: 100 },
    itemId,
  );
}

/** Activates a tab of the bottom panel: `tasks` (Tasks) or `clog` (Cluster log). */
export async function selectLogTab(page: Page, itemId: 'tasks' | 'clog', timeoutMs = 15_000): Promise<void> {
  await page.evaluate((tab: string) => Ext.ComponentQuery.query('pveStatusPanel')[0].setActiveTab(tab), itemId);
  await page.waitForFunction(
    (tab: string) => Ext.ComponentQuery.query('pveStatusPanel')[0].getActiveTab()?.itemId === tab,
    { timeout: timeoutMs, polling: 100 },
    itemId,
  );
}

/** A PNG of the viewport (directories are created). */
export async function screenshot(page: Page, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await page.screenshot({ path: path as `${string}.png` });
}
