import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import type { Sim } from './types.js';

export interface SimResponse {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  text: string;
  /** The parsed body, or undefined when it is not JSON. */
  json: { data?: unknown; errors?: Record<string, string>; message?: string; total?: number } | undefined;
}

export interface CallOptions {
  /** Full Authorization header; default `PVEAPIToken=<first token>`; null sends none. */
  auth?: string | null;
  query?: Record<string, string | number>;
  /** Form fields; an array is sent as repeated keys (`command=a&command=b`), as clients send lists. */
  form?: Record<string, string | number | Array<string | number>>;
  json?: unknown;
  /** Raw body with its own headers (e.g. a body on a DELETE). */
  body?: string;
  headers?: Record<string, string>;
}

export const TOKEN = { id: 'root@pam!pvepatch', secret: '0b4d2c4e-6b0a-4c53-9f3e-3f1a2b7c9d10' };
export const tokenHeader = (t = TOKEN) => `PVEAPIToken=${t.id}=${t.secret}`;

/** One request to the simulator over HTTPS, trusting only its certificate. `path` is below /api2/json. */
export function call(sim: Sim, method: string, path: string, opts: CallOptions = {}): Promise<SimResponse> {
  const url = new URL(path.startsWith('/api2') || path === '' ? path : `/api2/json${path}`, sim.url);
  for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.append(k, String(v));
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.auth !== null) headers.Authorization = opts.auth ?? tokenHeader();
  let body = opts.body;
  if (opts.form) {
    const pairs = Object.entries(opts.form).flatMap(([k, v]) =>
      (Array.isArray(v) ? v : [v]).map((item): [string, string] => [k, String(item)]),
    );
    body = new URLSearchParams(pairs).toString();
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
  } else if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['Content-Type'] = 'application/json';
  }
  if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, ca: sim.caPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: SimResponse['json'];
        try {
          json = JSON.parse(text) as SimResponse['json'];
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** GET/POST/DELETE returning `data` of a 200, throwing with the status line otherwise. */
export async function data<T = unknown>(sim: Sim, method: string, path: string, opts: CallOptions = {}): Promise<T> {
  const res = await call(sim, method, path, opts);
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${res.statusText} ${res.text}`);
  return res.json?.data as T;
}

/** Polls task status until the task stopped (the way a client waits). */
export async function waitStopped(sim: Sim, node: string, upid: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const st = await data<Record<string, unknown>>(
      sim,
      'GET',
      `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`,
    );
    if (st.status === 'stopped') return st;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`task ${upid} did not stop`);
}
