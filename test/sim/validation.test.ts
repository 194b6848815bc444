import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allValid, simFor } from './fixture.js';
import { call, type SimResponse } from './test-client.js';

function paramFailure(res: SimResponse, errors: Record<string, string>): void {
  assert.equal(res.status, 400, res.text);
  assert.equal(res.statusText, 'Parameter verification failed.');
  assert.deepEqual(res.json, { data: null, errors, message: 'Parameter verification failed.\n' });
}

test('an unknown path, or a known path with another method, is 501 Method … not implemented', async (t) => {
  const { sim } = await simFor(t);
  const unknown = await call(sim, 'GET', '/nodes/pve1/foo');
  assert.equal(unknown.status, 501);
  assert.equal(unknown.statusText, "Method 'GET /nodes/pve1/foo' not implemented");
  assert.deepEqual(unknown.json, { data: null, message: "Method 'GET /nodes/pve1/foo' not implemented" });
  const wrongMethod = await call(sim, 'PUT', '/nodes/pve1/lxc/101/snapshot', { form: { snapname: 'x1' } });
  assert.equal(wrongMethod.statusText, "Method 'PUT /nodes/pve1/lxc/101/snapshot' not implemented");
  const trailing = await call(sim, 'GET', '/version/');
  assert.equal(trailing.status, 200, 'empty segments are skipped as RESTHandler does');
  assert.equal(allValid(sim), false);
  assert.equal(sim.requests[0]?.status, 501);
});

test('paths outside /api2/<format> and other formats are refused as pve-http-server does', async (t) => {
  const { sim } = await simFor(t);
  const noFormat = await call(sim, 'GET', '/api2/');
  assert.equal(noFormat.status, 501);
  assert.equal(noFormat.statusText, 'no such uri');
  const xml = await call(sim, 'GET', '/api2/xml/version');
  assert.equal(xml.statusText, 'no formatter for uri /version, xml');
});

test('an unknown parameter is 400 with the per-parameter text', async (t) => {
  const { sim } = await simFor(t);
  const res = await call(sim, 'GET', '/cluster/resources', { query: { type: 'vm', full: 1 } });
  paramFailure(res, { full: 'property is not defined in schema and the schema does not allow additional properties' });
});

test('missing, mistyped, out-of-format and out-of-enum values get PVE JSONSchema texts', async (t) => {
  const { sim } = await simFor(t);
  paramFailure(await call(sim, 'POST', '/nodes/pve1/lxc/101/snapshot', { form: { description: 'x' } }), {
    snapname: 'property is missing and it is not optional',
  });
  paramFailure(await call(sim, 'POST', '/nodes/pve1/lxc/101/snapshot', { form: { snapname: 'pre patch' } }), {
    snapname: "invalid format - invalid configuration ID 'pre patch'\n",
  });
  paramFailure(await call(sim, 'POST', '/nodes/pve1/lxc/101/snapshot', { form: { snapname: `a${'b'.repeat(40)}` } }), {
    snapname: 'value may only be 40 characters long',
  });
  paramFailure(await call(sim, 'GET', '/nodes/pve1/lxc/abc/config'), {
    vmid: "type check ('integer') failed - got 'abc'",
  });
  paramFailure(await call(sim, 'GET', '/nodes/pve1/lxc/99/config'), {
    vmid: 'invalid format - value does not look like a valid VM ID\n',
  });
  paramFailure(await call(sim, 'GET', '/cluster/resources', { query: { type: 'pool' } }), {
    type: "value 'pool' does not have a value in the enumeration 'vm, storage, node, sdn'",
  });
  paramFailure(await call(sim, 'POST', '/nodes/pve1/lxc/101/snapshot/s1/rollback', { form: { start: 'true' } }), {
    start: "type check ('boolean') failed - got 'true'",
  });
  paramFailure(await call(sim, 'GET', '/nodes/pve1/tasks', { query: { limit: -1, statusfilter: 'ok,bad' } }), {
    limit: 'value must have a minimum value of 0',
    statusfilter: "invalid format - invalid status 'bad'\n",
  });
});

test('a repeated key is an array and fails the string type; a conflicting URI parameter is refused', async (t) => {
  const { sim } = await simFor(t);
  const dup = await call(sim, 'POST', '/nodes/pve1/lxc/101/snapshot', {
    body: 'snapname=a1&snapname=a2',
    headers: form,
  });
  paramFailure(dup, { snapname: "type check ('string') failed - got ARRAY" });
  const conflict = await call(sim, 'GET', '/nodes/pve1/lxc/101/config', { query: { vmid: 102 } });
  paramFailure(conflict, { vmid: 'duplicate parameter (already defined in URI) with conflicting values!' });
});

const form = { 'Content-Type': 'application/x-www-form-urlencoded' };

test('POST parameters are read from a form or a JSON body, booleans also as JSON booleans', async (t) => {
  const { sim } = await simFor(t);
  const viaJson = await call(sim, 'POST', '/nodes/pve1/qemu/200/snapshot', { json: { snapname: 'j1', vmstate: true } });
  assert.equal(viaJson.status, 200, viaJson.text);
  assert.deepEqual(sim.requests[0]?.body, { snapname: 'j1', vmstate: true });
  const badJson = await call(sim, 'POST', '/nodes/pve1/qemu/200/snapshot', {
    json: { snapname: 'j2', vmstate: 'yes' },
  });
  assert.equal(badJson.json?.errors?.vmstate, "type check ('boolean') failed - got 'yes'");
});

test('a body on GET or DELETE is refused before routing, as pve-http-server does', async (t) => {
  const { sim } = await simFor(t);
  const res = await call(sim, 'DELETE', '/nodes/pve1/lxc/101/snapshot/s1', { body: 'force=1', headers: form });
  assert.equal(res.status, 501);
  assert.equal(res.statusText, "Unexpected content for method 'DELETE'");
  assert.equal(res.text, "Unexpected content for method 'DELETE'");
});

test('a node that is not in the cluster fails the proxy step with PVE’s lookup error', async (t) => {
  const { sim } = await simFor(t);
  const res = await call(sim, 'GET', '/nodes/pve9/lxc');
  assert.equal(res.status, 500);
  assert.equal(
    res.statusText,
    "hostname lookup 'pve9' failed - failed to get address info for: pve9: Name or service not known",
  );
  const local = await call(sim, 'GET', '/nodes/localhost/lxc');
  assert.equal(local.status, 200, 'localhost is the node the API is reached on');
  assert.deepEqual(((local.json?.data ?? []) as Array<{ vmid: number }>).map((g) => g.vmid).sort(), [101, 102, 900]);
});

test('a UPID that does not parse, or names no task, is a parameter error', async (t) => {
  const { sim } = await simFor(t);
  paramFailure(await call(sim, 'GET', '/nodes/pve1/tasks/UPID%3Anonsense/status'), {
    upid: 'unable to parse worker upid',
  });
  const unknown = encodeURIComponent('UPID:pve1:0000FFFF:0000FFFF:60000000:vzsnapshot:101:root@pam:');
  paramFailure(await call(sim, 'GET', `/nodes/pve1/tasks/${unknown}/status`), { upid: 'no such task' });
  paramFailure(await call(sim, 'DELETE', `/nodes/pve1/tasks/${unknown}`), { upid: 'no such task' });
  const log = await call(sim, 'GET', `/nodes/pve1/tasks/${unknown}/log`);
  assert.deepEqual(log.json, { data: [{ n: 1, t: 'unable to open file - No such file or directory' }], total: 1 });
});
