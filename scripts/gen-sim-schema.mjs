#!/usr/bin/env node
// Writes test/sim/schema/pve-api-subset.json: the endpoints the PVE API simulator serves, cut from the
// official API schema (pve-docs api-viewer/apidata.js as JSON). The output is committed, so a plain clone
// tests against the same schema without ../shared.
//
// usage: node scripts/gen-sim-schema.mjs [schema.json] [out.json]
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url);
const source = process.argv[2] ?? fileURLToPath(new URL('../shared/pve-api/pve-api-schema.json', root));
const target = process.argv[3] ?? fileURLToPath(new URL('test/sim/schema/pve-api-subset.json', root));

/** path template → methods the simulator implements (keep in sync with test/sim/routes.ts; a test checks). */
const WANTED = {
  '/version': ['GET'],
  '/access/ticket': ['POST'],
  '/access/permissions': ['GET'],
  '/cluster/resources': ['GET'],
  '/cluster/tasks': ['GET'],
  '/nodes': ['GET'],
  '/nodes/{node}/status': ['GET'],
  '/nodes/{node}/tasks': ['GET'],
  '/nodes/{node}/tasks/{upid}': ['GET', 'DELETE'],
  '/nodes/{node}/tasks/{upid}/status': ['GET'],
  '/nodes/{node}/tasks/{upid}/log': ['GET'],
};
for (const type of ['lxc', 'qemu']) {
  const vm = `/nodes/{node}/${type}/{vmid}`;
  WANTED[`/nodes/{node}/${type}`] = ['GET'];
  WANTED[`${vm}/config`] = ['GET'];
  WANTED[`${vm}/status/current`] = ['GET'];
  WANTED[`${vm}/snapshot`] = ['GET', 'POST'];
  WANTED[`${vm}/snapshot/{snapname}`] = ['GET', 'DELETE'];
  WANTED[`${vm}/snapshot/{snapname}/rollback`] = ['POST'];
  WANTED[`${vm}/status/reboot`] = ['POST'];
}
WANTED['/nodes/{node}/qemu/{vmid}/config'] = ['GET', 'PUT'];
WANTED['/nodes/{node}/vzdump'] = ['POST'];
WANTED['/nodes/{node}/qemu/{vmid}/agent/ping'] = ['POST'];
WANTED['/nodes/{node}/qemu/{vmid}/agent/exec'] = ['POST'];
WANTED['/nodes/{node}/qemu/{vmid}/agent/exec-status'] = ['GET'];
WANTED['/nodes/{node}/qemu/{vmid}/agent/get-osinfo'] = ['GET'];
// HA resources and the HA manager's status (test/sim/ha.ts)
WANTED['/cluster/ha/resources'] = ['GET'];
WANTED['/cluster/ha/resources/{sid}'] = ['GET'];
WANTED['/cluster/ha/status/current'] = ['GET'];
// what the web UI reads (test/ui): page load, Datacenter, node and guest Summary pages
WANTED['/access/domains'] = ['GET'];
WANTED['/cluster/options'] = ['GET'];
WANTED['/cluster/status'] = ['GET'];
WANTED['/cluster/log'] = ['GET'];
WANTED['/nodes/{node}/subscription'] = ['GET'];
WANTED['/nodes/{node}/ceph/status'] = ['GET'];
WANTED['/nodes/{node}/rrddata'] = ['GET'];
WANTED['/nodes/{node}/apt/repositories'] = ['GET'];
WANTED['/nodes/{node}/lxc/{vmid}/rrddata'] = ['GET'];
WANTED['/nodes/{node}/qemu/{vmid}/rrddata'] = ['GET'];
WANTED['/nodes/{node}/lxc/{vmid}/interfaces'] = ['GET'];
WANTED['/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces'] = ['GET'];

/**
 * Named formats test/sim/schema-validate.ts verifies (also with `-list`/`-opt`). Other named formats are
 * kept as `formatUnchecked` (the value is taken as it is); property-string formats (a hash of keys) become
 * `propertyString` with the keys' types, enums, aliases and default key.
 */
const KNOWN_FORMATS = new Set([
  'pve-node',
  'pve-vmid',
  'pve-configid',
  'pve-task-status-type',
  'pve-ha-resource-or-vm-id',
]);
const PROPERTY_KEYS = [
  'type',
  'enum',
  'optional',
  'default_key',
  'alias',
  'minimum',
  'maximum',
  'maxLength',
  'pattern',
];

/** Parameter keys the validator understands; everything else (descriptions, typetext…) is dropped. */
const PARAM_KEYS = [
  'type',
  'enum',
  'pattern',
  'format',
  'optional',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'default',
];

function indexByPath(nodes, index = new Map()) {
  for (const node of nodes) {
    index.set(node.path, node);
    if (node.children) indexByPath(node.children, index);
  }
  return index;
}

function knownFormat(format) {
  return KNOWN_FORMATS.has(format.replace(/-(list|opt)$/, ''));
}

function propertyString(name, format) {
  const out = {};
  for (const key of Object.keys(format).sort()) {
    const prop = {};
    for (const k of PROPERTY_KEYS) {
      if (format[key][k] === undefined) continue;
      prop[k] = k === 'optional' || k === 'default_key' ? Boolean(format[key][k]) : format[key][k];
    }
    if (format[key].format !== undefined && typeof format[key].format === 'string')
      prop.formatUnchecked = format[key].format;
    out[key] = prop;
  }
  if (Object.keys(out).length === 0) throw new Error(`parameter '${name}' has an empty property-string format`);
  return out;
}

function param(name, schema) {
  const out = {};
  for (const key of PARAM_KEYS) {
    if (schema[key] === undefined) continue;
    if (key === 'format' && typeof schema.format !== 'string') {
      out.propertyString = propertyString(name, schema.format);
      continue;
    }
    if (key === 'format' && !knownFormat(schema.format)) {
      out.formatUnchecked = schema.format;
      continue;
    }
    // Perl's `(?^:…)` (a regex stringified by Perl) is `(?:…)` in JavaScript
    if (key === 'pattern') out[key] = String(schema[key]).replace(/\(\?\^:/g, '(?:');
    else out[key] = key === 'optional' ? Boolean(schema[key]) : schema[key];
  }
  if (schema.type === 'array') out.items = { type: schema.items?.type ?? 'string' };
  return out;
}

function endpoint(path, method, info) {
  const props = info.parameters?.properties ?? {};
  const properties = {};
  for (const name of Object.keys(props).sort()) properties[name] = param(name, props[name]);
  const out = { path, method, name: info.name };
  if (info.protected) out.protected = true;
  if (info.proxyto) out.proxyto = info.proxyto;
  if (!info.allowtoken) out.allowtoken = false;
  out.returns = info.returns?.type ?? 'null';
  out.parameters = { additionalProperties: Boolean(info.parameters?.additionalProperties), properties };
  return out;
}

let tree;
try {
  tree = JSON.parse(readFileSync(source, 'utf8'));
} catch (err) {
  console.error(`gen-sim-schema: unable to read ${source} - ${err.message}`);
  process.exit(1);
}
const index = indexByPath(tree);
const endpoints = [];
for (const [path, methods] of Object.entries(WANTED).sort(([a], [b]) => a.localeCompare(b))) {
  const node = index.get(path);
  if (!node) throw new Error(`path ${path} is not in the official schema`);
  for (const method of methods) {
    const info = node.info?.[method];
    if (!info) throw new Error(`${method} ${path} is not in the official schema`);
    endpoints.push(endpoint(path, method, info));
  }
}
const out = {
  comment: 'generated by scripts/gen-sim-schema.mjs from the official PVE API schema - do not edit',
  endpoints,
};
writeFileSync(target, `${JSON.stringify(out, null, 1)}\n`);
console.log(`gen-sim-schema: wrote ${endpoints.length} endpoints to ${target}`);
