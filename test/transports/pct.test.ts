import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execArgv } from '../../daemon/core/exec.js';
import { PctTransport } from '../../daemon/transports/pct/index.js';
import { Lab } from '../guests/lab.js';

describe('pct transport on real containers', () => {
  let lab: Lab;
  const transport = (vmid: number, node = 'pve1') =>
    new PctTransport(
      { vmid, node, type: 'lxc' },
      { pctPath: lab.pctPath, localNode: 'pve1', defaultTimeoutMs: 10_000 },
    );
  before(async () => {
    lab = await Lab.create({
      dir: mkdtempSync(join(tmpdir(), 'pvepatch-pct-')),
      guests: [{ vmid: 501 }, { vmid: 502, status: 'stopped' }, { vmid: 503, kind: 'vm', packages: [] }],
    });
  });
  after(() => lab?.destroy());

  it('returns a non-zero exit as data, with both streams and streamed chunks', async () => {
    const chunks: string[] = [];
    const r = await transport(501).exec(['sh', '-c', 'echo out; echo err >&2; exit 3'], {
      onOutput: (_s, c) => chunks.push(c),
    });
    assert.equal(r.exitCode, 3);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.ok(chunks.join('').includes('out'));
  });

  it('runs with a clean environment inside the guest and passes stdin', async () => {
    const env = await transport(501).exec(['env']);
    assert.doesNotMatch(env.stdout, /PVEPATCH|npm_|NODE_/);
    const cat = await transport(501).exec(['cat'], { input: 'hello; $(id)' });
    assert.equal(cat.stdout, 'hello; $(id)');
  });

  it('throws "could not reach" for a stopped container, another node, and a timeout', async () => {
    await assert.rejects(
      transport(502).exec(['true']),
      (e: Error & { code?: string }) => e.code === 'unreachable' && /container '502' not running!/.test(e.message),
    );
    await assert.rejects(transport(501, 'pve2').exec(['true']), /runs on node 'pve2'/);
    await assert.rejects(
      transport(501).exec(['sleep', '5'], { timeoutMs: 500 }),
      (e: Error & { code?: string }) => e.code === 'timeout',
    );
  });

  it('throws "could not reach" for a VM taken for a container, with pct\'s own refusal', async () => {
    // real pct on a QEMU VM: PVE::LXC::Config->load_config finds no nodes/<node>/lxc/<vmid>.conf (exit 255)
    const direct = await execArgv([lab.pctPath, 'exec', '503', '--keep-env', '0', '--', 'true']);
    assert.deepEqual(
      [direct.exitCode, direct.stderr],
      [255, "Configuration file 'nodes/pve1/lxc/503.conf' does not exist\n"],
    );
    await assert.rejects(
      transport(503).exec(['true']),
      (e: Error & { code?: string }) =>
        e.code === 'unreachable' &&
        e.message === "unable to enter CT 503 - Configuration file 'nodes/pve1/lxc/503.conf' does not exist",
    );
    const session = transport(503).openSession();
    try {
      await assert.rejects(
        session.run(['true'], { timeoutMs: 10_000 }),
        (e: Error & { code?: string }) => e.code === 'unreachable' && /503\.conf' does not exist/.test(e.message),
      );
    } finally {
      await session.close();
    }
    assert.equal(await lab.status(503), 'running', 'the VM itself is up: only pct cannot reach it');
  });
});
