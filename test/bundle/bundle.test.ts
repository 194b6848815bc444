import assert from 'node:assert/strict';
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startSim } from '../sim/server.js';
import type { Sim } from '../sim/types.js';

const run = promisify(execFile);
// Node 18 is what PVE 8 / PBS 3 hosts run; .ci/run provides one in PVEPATCH_NODE18.
const runtimes = [process.execPath, process.env.PVEPATCH_NODE18].filter((p): p is string => !!p && existsSync(p));
const dir = mkdtempSync(join(tmpdir(), 'pvepatch-bundle-'));
const bundle = join(dir, 'pvepatch.mjs');

async function waitFor(path: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > end) throw new Error(`${path} did not appear within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the single-file bundle, outside the source tree (no node_modules)', () => {
  let sim: Sim;
  const secret = randomUUID();
  before(async () => {
    execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'ignore' });
    copyFileSync('dist/pvepatch.mjs', bundle);
    sim = await startSim({
      guests: [{ vmid: 101, type: 'lxc', node: 'pve1', name: 'web', status: 'running' }],
      tokens: [{ id: 'pvepatch@pve!daemon', secret }],
    });
  });
  after(async () => {
    await sim?.close();
    rmSync(dir, { recursive: true, force: true }); // the copied bundle, configs, sockets, state and logs
  });

  for (const node of runtimes) {
    const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
    it(`runs the daemon and the CLI on Node ${version}`, async () => {
      assert.equal(
        execFileSync(node, [bundle, '--version'], { encoding: 'utf8', cwd: dir }).trim(),
        JSON.parse(execFileSync('npm', ['pkg', 'get', 'version'], { encoding: 'utf8' })),
      );
      const socket = join(dir, `${version}.sock`);
      const config = join(dir, `${version}.conf`);
      writeFileSync(
        config,
        [
          `pve_url: ${sim.url}`,
          `pve_token: pvepatch@pve!daemon=${secret}`,
          `pve_fingerprint: ${sim.fingerprint}`,
          'node: pve1',
          `state_dir: ${dir}/state-${version}`,
          `log_dir: ${dir}/log-${version}`,
          `socket: ${socket}`,
          'api_port: 0',
        ].join('\n'),
        { mode: 0o600 },
      );
      const daemon: ChildProcess = spawn(node, [bundle, '--config', config, 'daemon'], {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let log = '';
      daemon.stdout?.on('data', (c: Buffer) => {
        log += c;
      });
      daemon.stderr?.on('data', (c: Buffer) => {
        log += c;
      });
      try {
        await waitFor(socket, 10_000);
        // asynchronously: the simulator answering the daemon lives in this process
        const { stdout: out } = await run(node, [bundle, '--config', config, '--output-format', 'json', 'guests'], {
          encoding: 'utf8',
          cwd: dir,
        });
        assert.deepEqual(
          JSON.parse(out).map((g: { vmid: number; transport: string }) => [g.vmid, g.transport]),
          [[101, 'pct']],
        );
        assert.match(log, /<6>connected to Proxmox VE/);
      } finally {
        const exited = new Promise<number | null>((resolve) => daemon.once('exit', (code) => resolve(code)));
        daemon.kill('SIGTERM');
        assert.equal(await exited, 0, `daemon exits cleanly on SIGTERM:\n${log}`);
      }
    });
  }
});
