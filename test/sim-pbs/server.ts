import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeCert } from '../sim/cert.js';
import { checkAuth } from './auth.js';
import { type Answer, type RouteState, route } from './routes.js';
import type { PbsSim, PbsSimOptions, PbsSimRequest } from './types.js';

export type { PbsSim, PbsSimOptions, PbsSimRequest, PbsSimToken, PbsSnapshot, PbsTask } from './types.js';

const JSON_CT = 'application/json;charset=UTF-8';
// PBS 3.4.1 answers version '3.4', release '1'; the repoid (a git commit of proxmox-backup) is made up
const DEFAULT_VERSION = { version: '3.4', release: '1', repoid: '0b1e5f2a7c3d4e6f8a9b0c1d2e3f4a5b6c7d8e9f' };

/**
 * Starts a Proxmox Backup Server API simulator on HTTPS with a fresh self-signed certificate:
 * `GET /api2/json/version`, `GET /api2/json/nodes/<node>/tasks` and `…/tasks/<upid>/status`,
 * `GET /api2/json/admin/datastore/<store>/snapshots`, with
 * PBS's token auth (see auth.ts) and its answers for errors. See readme.md.
 */
export async function startPbsSim(opts: PbsSimOptions): Promise<PbsSim> {
  const nodeName = opts.nodeName ?? 'pbs';
  const cert = await makeCert(nodeName);
  const tokens = new Map(opts.tokens.map((t) => [t.id, t.secret]));
  const state: RouteState = {
    version: opts.version ?? DEFAULT_VERSION,
    running: [],
    finished: [],
    snapshots: [...(opts.snapshots ?? [])],
    stores: new Set([...(opts.datastores ?? []), ...(opts.snapshots ?? []).map((x) => x.store)]),
  };
  const requests: PbsSimRequest[] = [];
  const delay = opts.authFailDelayMs ?? 0;
  const server = createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
    handle(req, state, tokens, delay)
      .then(({ answer, tokenId, path, query }) => {
        requests.push({ method: req.method ?? '', path, query, tokenId, status: answer.status });
        send(res, answer);
      })
      .catch((err: unknown) => send(res, { status: 500, body: `pbs sim: ${String(err)}` }));
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    certPem: cert.certPem,
    fingerprint: cert.fingerprint,
    requests,
    setRunningTasks: (tasks) => {
      state.running = [...tasks];
    },
    setFinishedTasks: (tasks) => {
      state.finished = [...tasks];
    },
    setSnapshots: (snapshots) => {
      state.snapshots = [...snapshots];
      for (const x of snapshots) state.stores.add(x.store);
    },
    close: async () => {
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Handled {
  answer: Answer;
  tokenId: string | null;
  path: string;
  query: Record<string, string>;
}

/** proxmox-rest-server's order: find the handler and format, route, then auth, then 404 or the method. */
async function handle(
  req: IncomingMessage,
  state: RouteState,
  tokens: ReadonlyMap<string, string>,
  authFailDelayMs: number,
): Promise<Handled> {
  const url = new URL(req.url ?? '/', 'https://pbs.invalid');
  const path = url.pathname;
  const query = Object.fromEntries(url.searchParams);
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  const done = (answer: Answer, tokenId: string | null = null): Handled => ({ answer, tokenId, path, query });
  if (parts[0] !== 'api2') return done({ status: 404, body: `no such file: '${parts.join('/')}'` });
  if (parts.length < 2) return done({ status: 404, body: `invalid api path '${path}'` });
  if (parts[1] !== 'json') return done({ status: 400, body: `Unsupported output format '${parts[1]}'.` });
  const auth = checkAuth(req.headers.authorization, req.headers.cookie, tokens);
  if (!auth.ok) {
    if (authFailDelayMs > 0) await sleep(authFailDelayMs);
    return done({ status: 401, body: 'authentication failed' });
  }
  const answer = route(req.method ?? 'GET', parts.slice(2), query, state);
  return done(answer ?? { status: 404, body: `Path '${path}' not found.` }, auth.tokenId);
}

function send(res: ServerResponse, answer: Answer): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(answer.status, { 'Content-Type': JSON_CT, 'Content-Length': Buffer.byteLength(answer.body) });
  res.end(answer.body);
}
