import { request } from 'node:http';
import { type Answer, MAX_HOOK_ANSWER, type Patching, patchingAnswer } from './answer.js';

/** How long a hook waits for the daemon's socket before it lets the backup go ahead. */
export const SOCKET_TIMEOUT_MS = 3000;

/**
 * One GET on the daemon's unix socket, bounded in time (the whole exchange, not just idle time)
 * and in size. Never throws: every failure is an `unreachable` answer.
 */
export function socketGet(
  socket: string,
  path: string,
  timeoutMs = SOCKET_TIMEOUT_MS,
): Promise<{ status: number; text: string } | { error: string }> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: { status: number; text: string } | { error: string }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(v);
    };
    const req = request(
      { socketPath: socket, path: `/api/v1${path}`, method: 'GET', headers: { 'x-pvepatch-client': 'backup-hook' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
          if (text.length > MAX_HOOK_ANSWER) {
            req.destroy();
            finish({ error: `answer over ${MAX_HOOK_ANSWER / 1024} KiB` });
          }
        });
        res.on('end', () => finish({ status: res.statusCode ?? 0, text }));
        res.on('error', (err) => finish({ error: err.message }));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish({ error: `no answer within ${timeoutMs / 1000} s` });
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => finish({ error: socketError(socket, err) }));
    req.end();
  });
}

function socketError(socket: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return `no socket ${socket} - is pvepatchd running?`;
  if (err.code === 'ECONNREFUSED') return `connection refused on ${socket} - is pvepatchd running?`;
  if (err.code === 'EACCES') return `permission denied on ${socket} - the hook must run as root`;
  return `${socket}: ${err.message}`;
}

/** Whether the daemon behind `socket` is patching the guest now. */
export async function patchingOverSocket(socket: string, vmid: number, timeoutMs?: number): Promise<Answer<Patching>> {
  const r = await socketGet(socket, `/guests/${vmid}/patching`, timeoutMs);
  if ('error' in r) return { kind: 'unreachable', reason: r.error };
  return patchingAnswer(r.status, r.text, vmid);
}
