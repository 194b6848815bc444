import { readFileSync } from 'node:fs';
import { paramError } from './errors.js';

/** One parameter of the subset schema (scripts/gen-sim-schema.mjs keeps only these keys). */
export interface ParamSchema {
  type?: string;
  enum?: string[];
  pattern?: string;
  format?: string;
  optional?: boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  default?: unknown;
}

export interface EndpointSchema {
  path: string;
  method: string;
  name: string;
  protected?: boolean;
  proxyto?: string;
  allowtoken?: boolean;
  returns: string;
  parameters: { additionalProperties: boolean; properties: Record<string, ParamSchema> };
}

export function loadSubset(): EndpointSchema[] {
  const file = new URL('./schema/pve-api-subset.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { endpoints: EndpointSchema[] }).endpoints;
}

const CONFIGID = /^[a-z][a-z0-9_-]+$/i;

/** Format verifiers of pve-common `JSONSchema.pm`; each throws the text its `die` carries. */
const FORMATS: Record<string, (value: string) => void> = {
  'pve-node': (v) => {
    if (!/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(v))
      throw new Error('value does not look like a valid node name\n');
  },
  'pve-vmid': (v) => {
    if (!/^[1-9][0-9]{2,8}$/.test(v)) throw new Error('value does not look like a valid VM ID\n');
  },
  'pve-configid': (v) => {
    if (!CONFIGID.test(v)) throw new Error(`invalid configuration ID '${v}'\n`);
  },
  'pve-task-status-type': (v) => {
    if (!/^(ok|error|warning|unknown)$/i.test(v)) throw new Error(`invalid status '${v}'\n`);
  },
};

/** pve-common `ParseUtils.pm` `split_list`. */
export function splitList(text: string): string[] {
  if (text.includes('\0')) return text.split('\0');
  return text
    .replace(/[,;]/g, ' ')
    .replace(/^\s+/, '')
    .split(/\s+/)
    .filter((s) => s !== '');
}

/** pve-common `JSONSchema.pm` `check_format` for named formats, with `-list` and `-opt` variants. */
function checkFormat(format: string, value: string): void {
  const m = /^(.*?)(?:-(list|opt))?$/.exec(format)!;
  const name = m[1]!;
  const verify = FORMATS[name];
  if (!verify) throw new Error(`undefined format '${format}'\n`);
  if (m[2] === 'list') for (const item of splitList(value)) verify(item);
  else if (m[2] !== 'opt' || value) verify(value);
}

const isInteger = (v: string) => /^[+-]?\d+$/.test(v);
const isNumber = (v: string) => /^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$/.test(v);

/** pve-common `JSONSchema.pm` `check_type` for a value that arrived over HTTP; null means it passed. */
function typeError(type: string | undefined, value: unknown): string | null {
  if (!type || type === 'any') return null;
  if (Array.isArray(value)) return `type check ('${type}') failed${type === 'array' ? '' : ' - got ARRAY'}`;
  if (typeof value === 'object') return `type check ('${type}') failed${type === 'object' ? '' : ' - got HASH'}`;
  if (typeof value === 'boolean')
    return type === 'boolean' ? null : `type check ('${type}') failed - got JSON::PP::Boolean`;
  const v = String(value);
  if (type === 'boolean' && v !== '0' && v !== '1') return `type check ('${type}') failed - got '${v}'`;
  if (type === 'integer' && !isInteger(v)) return `type check ('${type}') failed - got '${v}'`;
  if (type === 'number' && !isNumber(v)) return `type check ('${type}') failed - got '${v}'`;
  return null;
}

/** pve-common `JSONSchema.pm` `check_prop` for one scalar parameter; returns the error text or null. */
function checkProp(value: unknown, schema: ParamSchema): string | null {
  if (value === undefined || value === null) {
    return schema.optional ? null : 'property is missing and it is not optional';
  }
  const typeErr = typeError(schema.type, value);
  if (typeErr) return typeErr;
  const v = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
  if (schema.format) {
    try {
      checkFormat(schema.format, v);
    } catch (err) {
      return `invalid format - ${(err as Error).message}`;
    }
  }
  if (schema.pattern && !new RegExp(`^${schema.pattern}$`).test(v)) return 'value does not match the regex pattern';
  if (schema.maxLength !== undefined && v.length > schema.maxLength) {
    return `value may only be ${schema.maxLength} characters long`;
  }
  if (schema.minLength !== undefined && v.length < schema.minLength) {
    return `value must be at least ${schema.minLength} characters long`;
  }
  if (isNumber(v)) {
    if (schema.maximum !== undefined && Number(v) > schema.maximum)
      return `value must have a maximum value of ${schema.maximum}`;
    if (schema.minimum !== undefined && Number(v) < schema.minimum)
      return `value must have a minimum value of ${schema.minimum}`;
  }
  if (schema.enum && !schema.enum.includes(v)) {
    return `value '${v}' does not have a value in the enumeration '${schema.enum.join(', ')}'`;
  }
  return null;
}

/**
 * Validates request parameters as pve-common `JSONSchema.pm` `validate` does (schema properties first, then
 * unknown ones) and throws the 400 PVE sends. Returns the parameters as strings, booleans as `0`/`1`.
 */
export function validateParams(
  params: Record<string, unknown>,
  schema: EndpointSchema['parameters'],
): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const [name, prop] of Object.entries(schema.properties)) {
    const err = checkProp(params[name], prop);
    if (err) errors[name] = err;
  }
  for (const name of Object.keys(params)) {
    if (schema.properties[name] || schema.additionalProperties) continue;
    errors[name] = 'property is not defined in schema and the schema does not allow additional properties';
  }
  if (Object.keys(errors).length > 0) throw paramError(errors);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    out[name] = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
  }
  return out;
}
