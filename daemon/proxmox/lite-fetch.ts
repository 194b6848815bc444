import type { Dispatcher } from 'undici';

/** What proxmox-api and the client read of an answer. */
export interface LiteResponse {
  status: number;
  /** Proxmox puts its error message in the HTTP reason phrase. */
  statusText: string;
  headers: { get(name: string): string | null };
  json(): Promise<unknown>;
  text(): Promise<string>;
}

export interface LiteInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** The largest answer read (a /cluster/resources of a very large cluster is a few MiB). */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/**
 * A fetch for the PVE client straight on undici's dispatcher (the same pinned-TLS agent), without
 * the WHATWG streams, Request and Response objects of undici's fetch: those made most of the
 * daemon's garbage in a run over 1,000 guests. The answer is read whole, bounded by MAX_ANSWER_BYTES.
 */
export function liteFetch(dispatcher: Dispatcher, url: URL, init: LiteInit = {}): Promise<LiteResponse> {
  return new Promise<LiteResponse>((resolve, reject) => {
    const { signal } = init;
    let abortRequest: ((err?: Error) => void) | undefined;
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    function onAbort() {
      const err = new DOMException('This operation was aborted', 'AbortError');
      if (abortRequest) abortRequest(err);
      settle(() => reject(err));
    }
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    const chunks: Buffer[] = [];
    let size = 0;
    let status = 0;
    let statusText = '';
    const headers = new Map<string, string>();
    dispatcher.dispatch(
      {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
        headers: init.headers ?? {},
        body: init.body ?? null,
      },
      {
        onConnect(abort) {
          abortRequest = abort;
        },
        onHeaders(code, raw, _resume, text) {
          if (code < 200) return true; // 1xx: the real answer follows
          status = code;
          statusText = text;
          for (let i = 0; i + 1 < raw.length; i += 2) headers.set(String(raw[i]).toLowerCase(), String(raw[i + 1]));
          return true;
        },
        onData(chunk) {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) {
            abortRequest?.(new Error(`answer larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB`));
            return false;
          }
          chunks.push(chunk);
          return true;
        },
        onComplete() {
          const body = Buffer.concat(chunks).toString('utf8');
          chunks.length = 0;
          settle(() =>
            resolve({
              status,
              statusText,
              headers: { get: (name) => headers.get(name.toLowerCase()) ?? null },
              json: async () => JSON.parse(body) as unknown,
              text: async () => body,
            }),
          );
        },
        onError(err) {
          settle(() => reject(err));
        },
      },
    );
  });
}
