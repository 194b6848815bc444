import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { ConfigSchema } from '../../daemon/config/schema.js';
import { PvepatchError, UnreachableError } from '../../daemon/core/errors.js';
import type { ProxmoxClient } from '../../daemon/proxmox/client.js';
import { clusterSshArgv, remoteCommandLine } from '../../daemon/transports/cluster-ssh/command.js';
import { sshFailure } from '../../daemon/transports/cluster-ssh/errors.js';
import { clusterSsh } from '../../daemon/transports/cluster-ssh/index.js';
import { nodeAddress } from '../../daemon/transports/cluster-ssh/node-address.js';
import { transportFor } from '../../daemon/transports/index.js';
import { pctExecArgv } from '../../daemon/transports/pct/commands.js';
import type { GuestRef, TransportEnv } from '../../daemon/transports/types.js';

const HOSTILE = [
  "a'b",
  "'",
  "''",
  '$(reboot)',
  '`reboot`',
  '; reboot',
  ';',
  '&&',
  '|',
  'a\nb',
  '\n',
  '',
  ' ',
  '*',
  '~',
  '$HOME',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, sent as a plain word
  '${IFS}',
  '"',
  '\\',
  "\\'",
  '--',
  '-oProxyCommand=reboot',
  '#',
  'é ü 日本',
  '\t',
];

/** What a POSIX sh makes of the line: the argv the program it runs receives. */
function throughShell(line: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', line], { encoding: 'utf8' });
  return JSON.parse(out) as string[];
}
/** node printing its arguments; a first plain word keeps node from taking a later `--` as its own. */
const dumpArgv = [process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(2)))', 'argv:'];

describe('cluster-ssh remote command line', () => {
  it('single-quotes every word and escapes a quote as quote-backslash-quote-quote', () => {
    assert.equal(remoteCommandLine(["a'b", '', '$(reboot)']), `'a'\\''b' '' '$(reboot)'`);
    assert.equal(remoteCommandLine(['/usr/sbin/pct', 'exec', '301']), `'/usr/sbin/pct' 'exec' '301'`);
  });

  it('reaches the program through a real /bin/sh as exactly the words it was, hostile or not', () => {
    assert.deepEqual(throughShell(remoteCommandLine([...dumpArgv, ...HOSTILE])), HOSTILE);
    for (const w of HOSTILE)
      assert.deepEqual(throughShell(remoteCommandLine([...dumpArgv, w])), [w], JSON.stringify(w));
  });

  it('keeps the pct exec argv (env included) word for word', () => {
    const words = pctExecArgv('/usr/sbin/pct', 301, ['sh', '-c', 'echo $HOME; rm -rf /'], { LC_ALL: "C'x" });
    const line = remoteCommandLine(words);
    assert.equal(
      line,
      `'/usr/sbin/pct' 'exec' '301' '--keep-env' '0' '--' 'env' 'LC_ALL=C'\\''x' 'sh' '-c' 'echo $HOME; rm -rf /'`,
    );
  });

  it('refuses a NUL and an empty argv', () => {
    assert.throws(
      () => remoteCommandLine(['echo', 'a\0b']),
      (e: unknown) => e instanceof PvepatchError,
    );
    assert.throws(
      () => remoteCommandLine([]),
      (e: unknown) => e instanceof PvepatchError,
    );
    assert.throws(
      () => remoteCommandLine(['']),
      (e: unknown) => e instanceof PvepatchError,
    );
  });
});

describe('cluster-ssh argv', () => {
  const target = { node: 'pve2', ip: '10.0.0.2', knownHosts: '/etc/pve/priv/known_hosts', connectTimeout: 10 };

  it("is PVE's own way to another node: no escape char, batch mode, the node's name as host key alias, strict checking", () => {
    const command = remoteCommandLine(pctExecArgv('/usr/sbin/pct', 301, ['/bin/sh', '-s']));
    assert.deepEqual(clusterSshArgv(target, command), [
      'ssh',
      '-e',
      'none',
      '-o',
      'BatchMode=yes',
      '-o',
      'HostKeyAlias=pve2',
      '-o',
      'UserKnownHostsFile=/etc/pve/priv/known_hosts',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'ConnectTimeout=10',
      'root@10.0.0.2',
      '--',
      `'/usr/sbin/pct' 'exec' '301' '--keep-env' '0' '--' '/bin/sh' '-s'`,
    ]);
    assert.equal(clusterSshArgv({ ...target, ip: 'fd00::2' }, 'x').at(-3), 'root@fd00::2');
  });

  it('takes only an IP address as the destination', () => {
    for (const ip of ['-oProxyCommand=reboot', 'pve2', '10.0.0.2 -p 1', ''])
      assert.throws(() => clusterSshArgv({ ...target, ip }, 'x'), /is not an IP address/);
  });
});

describe('cluster-ssh failures', () => {
  const ctx = { node: 'pve2', ip: '10.0.0.2', knownHosts: '/etc/pve/priv/known_hosts' };
  const reason = (e: UnreachableError | undefined) => e?.details?.reason;

  it('names node, ip and the way out for what ssh says when it cannot connect (exit 255)', () => {
    const unknown = sshFailure(
      255,
      'No ED25519 host key is known for pve2 and you have requested strict checking.\r\nHost key verification failed.\r\n',
      ctx,
    );
    assert.ok(unknown instanceof UnreachableError);
    assert.equal(reason(unknown), 'host-key-unknown');
    assert.match(unknown.message, /^unable to reach node 'pve2' at 10\.0\.0\.2 over the cluster's SSH - /);
    assert.match(unknown.message, /pvecm updatecerts/);
    const changed = sshFailure(
      255,
      '@@@@@@@@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n@@@@@@@@@@@\r\nHost key verification failed.\r\n',
      ctx,
    );
    assert.equal(reason(changed), 'host-key-changed');
    assert.match(changed!.message, /not the one recorded for 'pve2' in \/etc\/pve\/priv\/known_hosts; nothing ran/);
    const denied = sshFailure(255, 'root@10.0.0.2: Permission denied (publickey).\r\n', ctx);
    assert.equal(reason(denied), 'auth-failed');
    assert.match(denied!.message, /\/etc\/pve\/priv\/authorized_keys/);
    const refused = sshFailure(255, 'ssh: connect to host 10.0.0.2 port 22: Connection refused\r\n', ctx);
    assert.equal(reason(refused), 'connection-refused');
    const timeout = sshFailure(255, 'ssh: connect to host 10.0.0.2 port 22: Connection timed out\r\n', ctx);
    assert.equal(reason(timeout), 'no-answer');
    assert.match(timeout!.message, /Connection timed out/);
    assert.equal(
      reason(sshFailure(255, 'kex_exchange_identification: read: Connection reset by peer\r\n', ctx)),
      'ssh-failed',
    );
  });

  it("leaves a command's own exit 255, a long stderr and other exit codes to the caller", () => {
    assert.equal(sshFailure(255, 'my tool failed\n', ctx), undefined);
    assert.equal(sshFailure(255, '', ctx), undefined);
    assert.equal(sshFailure(1, 'Host key verification failed.\n', ctx), undefined);
    assert.equal(sshFailure(255, `${'x'.repeat(5000)}\nHost key verification failed.\n`, ctx), undefined);
  });
});

describe('cluster-ssh node address', () => {
  const client = (answer: () => Promise<unknown>) => {
    let calls = 0;
    const c = {
      get: async () => {
        calls++;
        return answer();
      },
    } as unknown as ProxmoxClient;
    return { c, calls: () => calls };
  };
  const status = [
    { type: 'cluster', name: 'lab', quorate: 1 },
    { type: 'node', name: 'pve1', ip: '10.0.0.1' },
    { type: 'node', name: 'pve2', ip: '10.0.0.2' },
    { type: 'node', name: 'pve3', ip: 'not-an-ip' },
  ];

  it("is the node's /cluster/status ip, asked once for many lookups", async () => {
    const { c, calls } = client(async () => status);
    assert.equal(await nodeAddress(c, 'pve2'), '10.0.0.2');
    assert.equal(await nodeAddress(c, 'pve1'), '10.0.0.1');
    assert.equal(calls(), 1);
  });

  it('says so when the node has no usable address or the API fails (and asks again next time)', async () => {
    const { c } = client(async () => status);
    await assert.rejects(
      nodeAddress(c, 'pve9'),
      (e: unknown) => e instanceof UnreachableError && /no address/.test(e.message),
    );
    await assert.rejects(nodeAddress(c, 'pve3'), /no IP address \('not-an-ip'\)/);
    let fail = true;
    const flaky = client(async () => {
      if (fail) throw new Error('HTTP 500');
      return status;
    });
    await assert.rejects(
      nodeAddress(flaky.c, 'pve2'),
      /could not be read from the PVE API \(\/cluster\/status\): HTTP 500/,
    );
    fail = false;
    assert.equal(await nodeAddress(flaky.c, 'pve2'), '10.0.0.2');
  });
});

describe('cluster-ssh selection', () => {
  const env = (o: Record<string, string> = {}): TransportEnv => ({
    config: ConfigSchema.parse(o),
    node: 'pve1',
    client: {} as ProxmoxClient,
  });
  const ct = (node: string): GuestRef => ({ vmid: 301, node, type: 'lxc' });

  it('reaches a CT on another node through the cluster SSH only when cluster_ssh is on', () => {
    assert.deepEqual(transportFor(ct('pve2'), env({ cluster_ssh: '1' })), { name: 'cluster-ssh' });
    assert.deepEqual(transportFor(ct('pve1'), env({ cluster_ssh: '1' })), { name: 'pct' });
    assert.deepEqual(transportFor(ct('pve2'), env()), {
      skip: "CT runs on node 'pve2'; pct reaches only this node ('pve1')",
    });
    assert.deepEqual(transportFor({ vmid: 101, node: 'pve2', type: 'qemu' }, env({ cluster_ssh: '1' })), {
      name: 'qga',
    });
  });

  it("keeps a policy's transport: pct named by the policy still refuses another node", () => {
    assert.deepEqual(transportFor(ct('pve2'), env({ cluster_ssh: '1' }), 'pct'), {
      skip: "CT runs on node 'pve2'; pct reaches only this node ('pve1')",
    });
  });

  it('refuses when cluster_ssh is off or the CT is on this node', () => {
    assert.match(clusterSsh.refuses(ct('pve2'), env()) ?? '', /cluster_ssh is off/);
    assert.match(clusterSsh.refuses(ct('pve1'), env({ cluster_ssh: '1' })) ?? '', /runs on this node/);
    assert.equal(clusterSsh.refuses(ct('pve2'), env({ cluster_ssh: 'yes' })), null);
    assert.deepEqual(
      transportFor({ vmid: 101, node: 'pve2', type: 'qemu' }, env({ cluster_ssh: '1' }), 'cluster-ssh'),
      {
        skip: "transport 'cluster-ssh' cannot reach VMs",
      },
    );
  });
});
