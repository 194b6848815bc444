import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Env, startEnv } from './harness.js';

/** A datagram socket standing in for systemd's notify socket: prints each message it gets. */
const RECEIVER = [
  'import socket, sys',
  's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
  's.bind(sys.argv[1])',
  'print("bound", flush=True)',
  'while True:',
  '    for m in s.recv(4096).decode().split("\\n"):',
  '        if m and not m.startswith("MAINPID=") and m != "BARRIER=1": print(m, flush=True)',
].join('\n');

/** sd_notify readiness, watchdog pings and SIGHUP reloads, with the daemon in its own process. */
describe('systemd: Type=notify, watchdog, reload', () => {
  let env: Env;
  let receiver: ChildProcess;
  const messages: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'pvepatch-notify-'));
  const until = async (what: string, test: () => boolean) => {
    for (let i = 0; i < 200 && !test(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(test(), `${what}\nnotify: ${messages.join(' | ')}\nlog: ${env.proc?.log.join('\n')}`);
  };

  before(async () => {
    const sock = join(dir, 'notify');
    receiver = spawn('python3', ['-c', RECEIVER, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    receiver.stdout!.setEncoding('utf8').on('data', (c: string) => messages.push(...c.split('\n').filter(Boolean)));
    for (let i = 0; i < 100 && !messages.includes('bound'); i++) await new Promise((r) => setTimeout(r, 50));
    env = await startEnv({
      guests: [],
      daemonProcess: true,
      daemonEnv: { NOTIFY_SOCKET: sock, WATCHDOG_USEC: '1000000' },
    });
  });
  after(async () => {
    await env?.close();
    receiver?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says READY=1 once it serves, then pings the watchdog', async () => {
    await until(
      'READY=1 and two WATCHDOG=1',
      () => messages.includes('READY=1') && messages.filter((m) => m === 'WATCHDOG=1').length >= 2,
    );
    assert.ok(messages.indexOf('READY=1') < messages.indexOf('WATCHDOG=1'));
  });

  it('re-reads its config on SIGHUP: applies what it can, names what needs a restart, keeps serving', async () => {
    const seen = messages.length;
    env.writeConfig('pvepatch.conf', { concurrency: '3', log_dir: join(dir, 'elsewhere') });
    env.proc!.signal('SIGHUP');
    await until('reload logged', () => env.proc!.log.some((l) => l.includes('config reloaded')));
    assert.ok(
      env.proc!.log.some((l) => /^<6>config reloaded: concurrency: 2 -> 3$/.test(l)),
      env.proc!.log.join('\n'),
    );
    assert.ok(env.proc!.log.some((l) => l === '<4>config keys that need a restart to change: log_dir'));
    await until(
      'RELOADING=1 then READY=1',
      () => messages.slice(seen).includes('RELOADING=1') && messages.slice(seen).includes('READY=1'),
    );
    const after = messages.slice(seen);
    assert.ok(after.indexOf('RELOADING=1') < after.lastIndexOf('READY=1'));
    assert.equal((await env.cli('runs')).code, 0, 'still serving');
  });

  it('refuses an invalid config on reload and keeps the running one', async () => {
    env.writeConfig('pvepatch.conf', { concurrency: 'many' });
    env.proc!.signal('SIGHUP');
    await until('refusal logged', () => env.proc!.log.some((l) => l.includes('config reload refused')));
    assert.ok(env.proc!.log.some((l) => /config reload refused, keeping the running config - .*concurrency/.test(l)));
    env.writeConfig('pvepatch.conf', {}); // the CLI reads the same file
    assert.equal((await env.cli('runs')).code, 0, 'still serving');
  });
});
