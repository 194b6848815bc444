import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Router } from './router.js';
import { ROUTES } from './routes.js';
import { loadSubset } from './schema-validate.js';

test('every endpoint of the subset schema has a handler, and every handler an endpoint', () => {
  const fromSchema = loadSubset()
    .map((e) => `${e.method} ${e.path}`)
    .sort();
  assert.deepEqual(Object.keys(ROUTES).sort(), fromSchema);
});

test('the subset keeps what validation needs', () => {
  const snapshot = loadSubset().find((e) => e.method === 'POST' && e.path === '/nodes/{node}/lxc/{vmid}/snapshot')!;
  assert.equal(snapshot.protected, true);
  assert.equal(snapshot.proxyto, 'node');
  assert.equal(snapshot.returns, 'string');
  assert.deepEqual(snapshot.parameters.properties.snapname, { type: 'string', format: 'pve-configid', maxLength: 40 });
  assert.equal(snapshot.parameters.additionalProperties, false);
});

test('the router matches templates segment by segment, skipping empty segments', () => {
  const router = new Router(loadSubset());
  const m = router.match('//nodes/pve1/tasks/UPID:pve1:x:/log');
  assert.equal(m?.template, '/nodes/{node}/tasks/{upid}/log');
  assert.deepEqual(m?.uriParams, { node: 'pve1', upid: 'UPID:pve1:x:' });
  assert.equal(router.match('/nodes/pve1'), undefined, 'an index path the subset lacks');
  assert.equal(router.match('/nodes/pve 1/lxc'), undefined);
});

const schemaSource = fileURLToPath(new URL('../../../shared/pve-api/pve-api-schema.json', import.meta.url));

test('the committed subset is what scripts/gen-sim-schema.mjs generates', {
  skip: !existsSync(schemaSource),
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pvepatch-sim-schema-'));
  try {
    const out = join(dir, 'subset.json');
    const script = fileURLToPath(new URL('../../scripts/gen-sim-schema.mjs', import.meta.url));
    await promisify(execFile)(process.execPath, [script, schemaSource, out]);
    const committed = await readFile(new URL('./schema/pve-api-subset.json', import.meta.url), 'utf8');
    assert.equal(await readFile(out, 'utf8'), committed);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
