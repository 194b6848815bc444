import { request } from 'node:http';
import { PvepatchError } from '../core/errors.js';

/** A client of the daemon's REST API over its unix socket. */
export class ApiClient {
  private readonly socket: string;

  constructor(socket: string) {
    this.socket = socket;
  }

  get<T>(path: string, query?: Record<string, string | number | string[]>): Promise<T> {
    return this.call<T>('GET', withQuery(path, query));
  }

  /** A paged list (`start`, `limit`): the page and how many there are in all. */
  async page<T>(
    path: string,
    query?: Record<string, string | number | string[]>,
  ): Promise<{ data: T[]; total: number }> {
    return this.call<{ data: T[]; total: number }>('GET', withQuery(path, query), undefined, true);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PUT', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }

  /**
   * Follows a Server-Sent Events stream until the server ends it; each event's JSON data goes to
   * `onEvent`. Lines are bounded (1 MiB) so a broken stream cannot grow memory. Aborting `signal`
   * closes the stream.
   */
  events(path: string, onEvent: (type: string, data: unknown) => void, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socket,
          path: `/api/v1${path}`,
          method: 'GET',
          headers: { 'x-pvepatch-client': 'cli' },
          ...(signal ? { signal } : {}),
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new PvepatchError('daemon-unavailable', `event stream refused (HTTP ${res.statusCode})`));
            return;
          }
          let buf = '';
          let type = 'message';
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buf += chunk;
            let nl = buf.indexOf('\n');
            while (nl >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (line === '') {
                if (data) onEvent(type, JSON.parse(data));
                type = 'message';
                data = '';
              } else if (line.startsWith('event: ')) type = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
              nl = buf.indexOf('\n');
            }
            if (buf.length > 1024 * 1024) req.destroy(new Error('event line over 1 MiB'));
          });
          res.on('end', () => resolve());
          res.on('error', reject);
        },
      );
      req.on('error', (err) => reject(new PvepatchError('daemon-unavailable', `event stream broke - ${err.message}`)));
      req.end();
    });
  }

  private call<T>(method: string, path: string, body?: unknown, whole = false): Promise<T> {
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
              else resolve(whole ? (json as T) : (json.data as T));
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

function withQuery(path: string, query?: Record<string, string | number | string[]>): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) for (const x of [v].flat()) qs.append(k, String(x));
  const q = qs.toString();
  return q ? `${path}?${q}` : path;
}
