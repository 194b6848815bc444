import { request } from 'node:http';
import { PvepatchError } from '../core/errors.js';

/** A client of the daemon's REST API over its unix socket. */
export class ApiClient {
  private readonly socket: string;

  constructor(socket: string) {
    this.socket = socket;
  }

  get<T>(path: string, query?: Record<string, string | number | string[]>): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) for (const x of [v].flat()) qs.append(k, String(x));
    const q = qs.toString();
    return this.call<T>('GET', q ? `${path}?${q}` : path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  private call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socket,
          path: `/api/v1${path}`,
          method,
          headers: {
            'x-pvepatch-client': 'cli',
            ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => {
            try {
              const json = JSON.parse(text) as { data?: T; error?: { code: string; message: string } };
              if (json.error) reject(new PvepatchError(json.error.code as never, json.error.message));
              else resolve(json.data as T);
            } catch {
              reject(new PvepatchError('daemon-unavailable', `unexpected answer from daemon (HTTP ${res.statusCode})`));
            }
          });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        const why =
          err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
            ? 'is it running? (systemctl status pvepatchd)'
            : err.message;
        reject(new PvepatchError('daemon-unavailable', `unable to reach pvepatch daemon at ${this.socket} - ${why}`));
      });
      req.end(payload);
    });
  }
}
