import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { proxmoxPbsAvailable, proxmoxPbsChannel } from '../../daemon/notify/channels/proxmox-pbs.js';
import { fixture, outgoing, tempDir } from './helpers.js';

const dir = tempDir('pbs');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('channel proxmox-pbs (the PBS notification spool)', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("queues proxmox-notify's Notification as <uuid>.json, nothing else left behind", async () => {
    const spool = join(dir, 'spool1');
    mkdirSync(spool);
    const done = await proxmoxPbsChannel.send(
      { name: 'p', kind: 'proxmox-pbs', spool_dir: spool },
      outgoing('rollout-halted'),
    );
    const files = readdirSync(spool);
    assert.equal(files.length, 1);
    const id = files[0]!.replace(/\.json$/, '');
    assert.match(id, UUID);
    assert.equal(done, `queued as ${join(spool, files[0]!)}`);
    assert.deepEqual(JSON.parse(readFileSync(join(spool, files[0]!), 'utf8')), {
      content: { template: { 'template-name': 'pvepatch-rollout-halted', data: fixture('rollout-halted') } },
      metadata: {
        severity: 'error',
        timestamp: 1_796_608_800,
        'additional-fields': { type: 'pvepatch', hostname: 'pve1', 'job-id': 'nightly' },
      },
      id,
    });
    assert.equal(statSync(join(spool, files[0]!)).mode & 0o777, 0o640);
  });

  it('never writes into a .json name: the complete file is renamed into place', async () => {
    const spool = join(dir, 'spool2');
    mkdirSync(spool);
    const seen: { event: string; name: string }[] = [];
    const watcher = watch(spool, (event, name) => seen.push({ event, name: String(name) }));
    try {
      await proxmoxPbsChannel.send({ name: 'p', kind: 'proxmox-pbs', spool_dir: spool }, outgoing('test'));
      const final = readdirSync(spool)[0]!;
      // inotify events arrive asynchronously: wait until the rename into the final name was seen
      while (!seen.some((s) => s.name === final)) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      watcher.close();
    }
    const json = seen.filter((s) => s.name.endsWith('.json'));
    assert.deepEqual(
      json,
      [{ event: 'rename', name: readdirSync(spool)[0] }],
      'only the rename touches the .json name',
    );
    const tmp = seen.filter((s) => !s.name.endsWith('.json'));
    assert.ok(tmp.length >= 2 && tmp.every((s) => /^\.pvepatch-[0-9a-f-]{36}\.tmp$/.test(s.name)), JSON.stringify(tmp));
    assert.ok(
      tmp.some((s) => s.event === 'change'),
      'the content was written under the temporary name',
    );
  });

  it('fails with what to do when the spool cannot be written, leaving nothing behind', async () => {
    const missing = join(dir, 'absent');
    await assert.rejects(
      proxmoxPbsChannel.send({ name: 'p', kind: 'proxmox-pbs', spool_dir: missing }, outgoing('test')),
      {
        code: 'proxmox-error',
        message: new RegExp(
          `^unable to queue notification in PBS spool '${missing}' - ENOENT.*; check that the directory exists and pvepatch runs as root$`,
        ),
      },
    );
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    await assert.rejects(
      proxmoxPbsChannel.send({ name: 'p', kind: 'proxmox-pbs', spool_dir: file }, outgoing('test')),
      /unable to queue notification in PBS spool '.*a-file' - ENOTDIR/,
    );
  });

  it('is available when the spool directory exists', () => {
    assert.equal(proxmoxPbsAvailable(dir), true);
    assert.equal(proxmoxPbsAvailable(join(dir, 'absent')), false);
  });
});
