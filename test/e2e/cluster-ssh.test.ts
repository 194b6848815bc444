/**
 * cluster_ssh: pve2's daemon is stopped, and pve1 patches pve2's container itself through the
 * cluster's SSH (`ssh … -o HostKeyAlias=pve2 -o UserKnownHostsFile=<cluster_dir>/priv/known_hosts
 * root@<pve2's ip> -- '<pve2's pct>' 'exec' '301' …`), as PVE's migrations reach another node.
 *
 * "pve2's sshd" is a real OpenSSH sshd on 127.0.0.1 whose root sessions run on this machine
 * (test/guests/sshd.ts, `onHost`). The daemon's ssh argv has no port and no key, as in production;
 * the daemons run with an ssh_config bind-mounted over /etc/ssh/ssh_config in their own mount
 * namespace (the harness's `sshConfig`) that gives the port and the key, as an admin's ssh_config
 * could. The host key check is the production one: `pve2 <key>` in <cluster_dir>/priv/known_hosts.
 */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GuestPlan, RunReport } from '../../daemon/engine/types.js';
import { DEMO_PACKAGE_NAMES } from '../guests/demo-packages.js';
import { Sshd } from '../guests/sshd.js';
import { type Cluster, type ClusterNode, startCluster, waitFor } from './cluster-harness.js';
import { versions } from './harness.js';

const CT = 301;
const all = (v: string) => Object.fromEntries(DEMO_PACKAGE_NAMES.map((p) => [p, v]));

describe('cluster_ssh: a node without a running daemon is patched through the cluster SSH', () => {
  let sshd: Sshd;
  let c: Cluster;
  const node = (name: string): ClusterNode => c.nodes[name]!;
  const knownHosts = () => join(c.clusterDir, 'priv', 'known_hosts');
  const json = async <T>(n: ClusterNode, ...argv: string[]): Promise<{ code: number; data: T; err: string }> => {
    const r = await n.cli('--output-format', 'json', ...argv);
    let data: T;
    try {
      data = JSON.parse(r.out) as T;
    } catch {
      throw new Error(`${argv.join(' ')}: exit ${r.code}, not JSON: ${r.out.slice(0, 500)} ${r.err}`);
    }
    return { code: r.code, data, err: r.err };
  };

  before(async () => {
    sshd = await Sshd.start({ onHost: true });
    c = await startCluster({
      nodes: {
        pve1: [{ vmid: 201, hostname: 'ct201' }],
        pve2: [
          { vmid: CT, hostname: `ct${CT}` },
          { vmid: 302, hostname: 'ct302' },
        ],
      },
      config: { cluster_ssh: '1' },
      sshConfig: [
        'Host 127.0.0.1',
        `  Port ${sshd.port}`,
        `  IdentityFile ${sshd.clientKey}`,
        '  IdentitiesOnly yes',
        '  GlobalKnownHostsFile /dev/null',
        '',
      ].join('\n'),
    });
    await waitFor(
      () => existsSync(join(c.clusterDir, 'nodes', 'pve2', 'pvepatch', 'status.json')),
      15_000,
      'pve2 to publish its status',
    );
    await node('pve2').stop();
    // the pct "on pve2" (known once the cluster exists): pve1 is restarted with it
    await node('pve1').stop();
    appendFileSync(node('pve1').configPath, `cluster_ssh_pct: ${node('pve2').pctPath}\n`);
    await node('pve1').start();
  });
  after(async () => {
    await c?.close();
    await sshd?.destroy();
  });

  it('refuses the CT when the known host key for pve2 is another one, and changes nothing', async () => {
    // a valid ed25519 key, but not the one pve2's sshd has
    writeFileSync(
      knownHosts(),
      `pve2 ${readFileSync(`${sshd.clientKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`,
    );
    const before = c.sim.requests.length;
    const r = await json<RunReport>(node('pve1'), 'run', String(CT));
    assert.equal(r.code, 5, `${r.err} ${JSON.stringify(r.data).slice(0, 1500)}`);
    const g = r.data.guests[0]!;
    assert.equal(g.vmid, CT);
    assert.equal(g.outcome, 'refused', g.reason);
    assert.match(g.reason ?? '', /unable to reach node 'pve2' at 127\.0\.0\.1 over the cluster's SSH - the host key/);
    assert.match(g.reason ?? '', /pvecm updatecerts/);
    const snapshots = c.sim.requests.slice(before).filter((q) => q.method === 'POST' && q.path.endsWith('/snapshot'));
    assert.equal(snapshots.length, 0, 'nothing snapshotted');
    assert.deepEqual(await versions(c.lab, CT, DEMO_PACKAGE_NAMES), all('1.0'));
  });

  it("plans and patches pve2's CT from pve1 through ssh and pve2's pct; the fleet shows it reachable", async () => {
    const hostKey = readFileSync(join(sshd.dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    writeFileSync(knownHosts(), `pve2 ${hostKey}\n`);

    const plan = await json<(GuestPlan & { unreachable?: string })[]>(node('pve1'), 'plan', String(CT));
    assert.equal(plan.code, 0, `${plan.err} ${JSON.stringify(plan.data).slice(0, 1500)}`);
    assert.equal(plan.data.length, 1);
    assert.equal(plan.data[0]!.unreachable, undefined);
    assert.equal(plan.data[0]!.transport, 'cluster-ssh');
    assert.equal(plan.data[0]!.skip_reason, null);

    const r = await json<RunReport>(node('pve1'), 'run', String(CT));
    assert.equal(r.code, 0, `${r.err} ${JSON.stringify(r.data).slice(0, 2000)}`);
    const g = r.data.guests[0]!;
    assert.equal(g.outcome, 'updated', g.reason);
    assert.equal(g.transport, 'cluster-ssh');
    assert.equal(g.exec?.round_trips, 2, 'one ssh session (one /bin/sh -s through pct) per stage: plan and patch');
    assert.deepEqual(await versions(c.lab, CT, DEMO_PACKAGE_NAMES), all('1.1'));
    const runLog = readFileSync(
      join(node('pve1').logDir, `${r.data.id.replace(/[^A-Za-z0-9:._-]/g, '_')}.log`),
      'utf8',
    );
    assert.match(runLog, /cluster-ssh/);
    // the sessions really went through the sshd as root with the key
    assert.match(sshd.log, /Accepted publickey for root from 127\.0\.0\.1/);

    const fleet = await json<{ vmid: number; transport: string | null; unreachable?: string }[]>(
      node('pve1'),
      'status',
      String(CT),
    );
    assert.equal(fleet.code, 0, fleet.err);
    const row = fleet.data.find((x) => x.vmid === CT);
    assert.ok(row, 'CT 301 in the fleet');
    assert.equal(row.unreachable, undefined);
    assert.equal(row.transport, 'cluster-ssh');
    const guests = await json<{ vmid: number; transport: string | null; unreachable?: string }[]>(
      node('pve1'),
      'guests',
    );
    const listed = guests.data.find((x) => x.vmid === CT);
    assert.equal(listed?.unreachable, undefined);
    assert.equal(listed?.transport, 'cluster-ssh');
  });

  it("a rollout from pve1 patches pve2's containers through ssh from the leader while pve2 has no daemon", async () => {
    await waitFor(
      () =>
        node('pve1')
          .log()
          .some((l) => l.includes("node 'pve1' leads pvepatch")),
      20_000,
      'pve1 to lead',
    );
    const start = await node('pve1').cli('rollout', 'start', '201', '302', '--batch', '1');
    assert.equal(start.code, 0, `${start.out}\n${start.err}\n${node('pve1').log().slice(-30).join('\n')}`);
    const id = /rollout-\d{8}-[0-9a-f]{6}/.exec(start.out)?.[0];
    assert.ok(id, start.out);
    const shared = JSON.parse(readFileSync(join(c.clusterDir, 'pvepatch', 'rollouts.json'), 'utf8')) as {
      rollouts: {
        id: string;
        state: string;
        guests: { vmid: number; node: string; via?: string; outcome?: string }[];
      }[];
    };
    const r = shared.rollouts.find((x) => x.id === id)!;
    assert.equal(r.state, 'completed', JSON.stringify(r));
    const g302 = r.guests.find((g) => g.vmid === 302)!;
    assert.deepEqual(
      { node: g302.node, via: g302.via, outcome: g302.outcome },
      { node: 'pve2', via: 'pve1', outcome: 'updated' },
    );
    assert.equal(r.guests.find((g) => g.vmid === 201)?.outcome, 'updated');
    assert.deepEqual(await versions(c.lab, 302, DEMO_PACKAGE_NAMES), all('1.1'));
    assert.deepEqual(await versions(c.lab, 201, DEMO_PACKAGE_NAMES), all('1.1'));
  });
});
