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
  /** A named format the validator does not verify (kept so the subset still says what PVE checks). */
  formatUnchecked?: string;
  /** A property-string format: key → its schema (`default_key`: the key of a bare value; `alias`). */
  propertyString?: Record<string, PropertySchema>;
  /** `type: array`: the schema of each item. */
  items?: { type?: string };
}

/** One key of a property-string format. */
export interface PropertySchema extends Omit<ParamSchema, 'propertyString' | 'items'> {
  default_key?: boolean;
  alias?: string;
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
  /** pve-ha-manager `HA/Tools.pm` `pve_verify_ha_resource_or_vm_id`. */
  'pve-ha-resource-or-vm-id': (v) => {
    if (!/^([a-z]+:\S+|\d+)$/.test(v)) throw new Error('value does not look like a valid ha resource id\n');
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
  if (type === 'array' && Array.isArray(value)) return null;
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
  if (schema.propertyString) {
    const errors = propertyStringErrors(v, schema.propertyString);
    if (errors.length > 0) return `invalid format - format error\n${errors.map(([k, e]) => `${k}: ${e}`).join('\n')}`;
  }
  return null;
}

/**
 * pve-common `JSONSchema.pm` `parse_property_string` (comma-separated `key=value`, a bare value for the
 * `default_key`, aliases resolved): the `[key, text]` errors it collects, keys prefixed by the
 * parameter name by the caller.
 */
export function parsePropertyString(
  value: string,
  format: Record<string, PropertySchema>,
): { values: Record<string, string>; errors: Array<[string, string]> } {
  const values: Record<string, string> = {};
  const errors: Array<[string, string]> = [];
  const defaultKey = Object.keys(format).find((k) => format[k]?.default_key);
  for (const part of value.split(',')) {
    if (part === '') continue;
    const m = /^([^=]+)=(.*)$/.exec(part);
    let key: string;
    let v: string;
    if (m) {
      key = m[1]!;
      v = m[2]!;
    } else if (defaultKey !== undefined) {
      key = defaultKey;
      v = part;
      if (values[key] !== undefined) {
        errors.push(['_', `duplicate key in comma-separated list property: ${key}`]);
        continue;
      }
    } else {
      errors.push(['_', 'value without key, but schema does not define a default key']);
      continue;
    }
    const alias = format[key]?.alias;
    if (alias !== undefined) key = alias;
    if (values[key] !== undefined) {
      errors.push(['_', `duplicate key in comma-separated list property: ${key}`]);
      continue;
    }
    values[key] = v;
  }
  for (const [key, prop] of Object.entries(format)) {
    if (prop.alias !== undefined) continue;
    const err = checkProp(values[key], prop);
    if (err) errors.push([key, err]);
  }
  for (const key of Object.keys(values)) {
    if (!format[key])
      errors.push([key, 'property is not defined in schema and the schema does not allow additional properties']);
  }
  return { values, errors };
}

function propertyStringErrors(value: string, format: Record<string, PropertySchema>): Array<[string, string]> {
  return parsePropertyString(value, format).errors;
}

/** The schema of a parameter: by name, or an indexed one (`net0` → `net[n]`). */
export function paramSchema(properties: Record<string, ParamSchema>, name: string): ParamSchema | undefined {
  if (Object.hasOwn(properties, name)) return properties[name];
  const m = /^([a-z]+)(\d+)$/.exec(name);
  return m ? properties[`${m[1]}[n]`] : undefined;
}

/**
 * Validates request parameters as pve-common `JSONSchema.pm` `validate` does (schema properties first, then
 * unknown ones) and throws the 400 PVE sends. Returns the parameters as strings, booleans as `0`/`1`.
 */
export function validateParams(
  params: Record<string, unknown>,
  schema: EndpointSchema['parameters'],
): { params: Record<string, string>; lists: Record<string, string[]> } {
  const errors: Record<string, string> = {};
  for (const [name, prop] of Object.entries(schema.properties)) {
    if (name.endsWith('[n]')) continue;
    const err = checkParam(params[name], prop);
    if (err) errors[name] = err;
  }
  for (const name of Object.keys(params)) {
    if (Object.hasOwn(schema.properties, name)) continue;
    const indexed = paramSchema(schema.properties, name);
    if (indexed) {
      const err = checkParam(params[name], indexed);
      if (err) errors[name] = err;
      continue;
    }
    if (schema.additionalProperties) continue;
    errors[name] = 'property is not defined in schema and the schema does not allow additional properties';
  }
  if (Object.keys(errors).length > 0) throw paramError(errors);
  const out: Record<string, string> = {};
  const lists: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (paramSchema(schema.properties, name)?.type === 'array') {
      lists[name] = (Array.isArray(value) ? value : [value]).map(String);
      continue;
    }
    out[name] = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
  }
  return { params: out, lists };
}

/**
 * check_prop for one parameter. An array parameter given once (a single form key) is coerced to a
 * one-element list first (pve-common `RESTHandler.pm` `normalize_legacy_param_formats`), then each item
 * is checked against `items`.
 */
function checkParam(value: unknown, schema: ParamSchema): string | null {
  if (schema.type !== 'array' || value === undefined || value === null) return checkProp(value, schema);
  const list = Array.isArray(value) ? value : [value];
  for (const item of list) {
    const err = typeError(schema.items?.type, item);
    if (err) return err;
  }
  return null;
}
