import assert from 'node:assert/strict';
import { createServer as createHttpServer, get as httpGet, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { FORWARDED_BY, HttpsPeerClient, ON_BEHALF } from '../../daemon/cluster/peer-client.js';
import type { Peer } from '../../daemon/cluster/types.js';
import { isPvepatchError, type PvepatchError } from '../../daemon/core/errors.js';
import { makeCert, type SimCert } from '../sim/cert.js';

/**
 * The client of the other nodes' daemons against a real HTTPS server with a self-signed certificate:
 * the certificate is pinned by the fingerprint the peer publishes, the caller's credentials (and only
 * those) are passed on, answers are bounded in time and size, an event stream is proxied and closed
 * upstream when the client goes away.
 */

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

const TICKET = 'PVE:alice@pve:66A0B1C2::c2lnbmF0dXJlLW9mLXRoZS10aWNrZXQ=';

const listen = (server: Server, host = '127.0.0.1') =>
  new Promise<number>((resolve) => server.listen(0, host, () => resolve((server.address() as AddressInfo).port)));

function peerAt(port: number, fingerprint: string | undefined, extra: Partial<Peer> = {}): Peer {
  return {
    node: 'pve1',
    alive: true,
    ip: '127.0.0.1',
    status: {
      node: 'pve1',
      version: '0.1.0',
      pid: 1,
      api_port: port,
      ...(fingerprint ? { api_fingerprint: fingerprint } : {}),
      started_at: new Date().toISOString(),
      heartbeat_at: new Date().toISOString(),
      quorate: true,
      leader: false,
    },
    ...extra,
  };
}

async function rejection(p: Promise<unknown>): Promise<PvepatchError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isPvepatchError(err), `not a PvepatchError: ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('peer client', () => {
  let cert: SimCert;
  let other: SimCert;
  let server: Server;
  let port: number;
  const seen: Seen[] = [];
  const streamClosed: Array<() => void> = [];
  let streamGone: Promise<void>;
  const client = new HttpsPeerClient({ node: 'pve2', timeoutMs: 500 });

  before(async () => {
    [cert, other] = await Promise.all([makeCert('pve1'), makeCert('other')]);
    const app = express();
    app.use(express.json());
    app.use((req, _res, next) => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: req.body });
      next();
    });
    app.get('/api/v1/version', (_req, res) => {
      res.json({ data: { node: 'pve1' } });
    });
    app.post('/api/v1/runs', (req, res) => {
      res.status(202).json({ data: { echo: req.body } });
    });
    app.get('/api/v1/runs/missing', (_req, res) => {
      res.status(404).json({ error: { code: 'not-found', message: 'no run' } });
    });
    app.get('/api/v1/big', (req, res) => {
      // 5 MiB, chunked (no Content-Length) unless asked for one
      const filler = 'x'.repeat(1024 * 1024);
      if (req.query.declared) {
        const body = JSON.stringify({ data: filler.repeat(5) });
        res.set('content-type', 'application/json').set('content-length', String(body.length)).end(body);
        return;
      }
      res.type('application/json');
      res.write('{"data":"');
      for (let i = 0; i < 5; i++) res.write(filler);
      res.end('"}');
    });
    app.get('/api/v1/slow', () => {
      // never answers
    });
    app.get('/api/v1/runs/:id/events', (req, res) => {
      res.status(200).set({ 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.flushHeaders();
      res.write(`id: 1\nevent: run-started\ndata: {"last":"${req.get('last-event-id') ?? ''}"}\n\n`);
      streamGone = new Promise((resolve) => streamClosed.push(resolve));
      res.on('close', () => streamClosed.shift()?.());
    });
    server = createHttpsServer({ key: cert.keyPem, cert: cert.certPem }, app);
    port = await listen(server);
  });
  after(async () => {
    await client.close();
    server.closeAllConnections();
    server.close();
  });

  it('accepts the pinned certificate (any case, with or without colons) and returns status and JSON', async () => {
    const fp = cert.fingerprint.toLowerCase();
    const a = await client.request(peerAt(port, fp), { method: 'GET', path: '/version' }, daemonAuth);
    assert.deepEqual(a, { status: 200, body: { data: { node: 'pve1' } } });
    const b = await client.request(
      peerAt(port, cert.fingerprint.replace(/:/g, '')),
      { method: 'GET', path: '/runs/missing' },
      daemonAuth,
    );
    assert.equal(b.status, 404);
    assert.deepEqual(b.body, { error: { code: 'not-found', message: 'no run' } });
  });

  it('refuses another certificate before sending anything, and a peer without a fingerprint', async () => {
    const before = seen.length;
    const e = await rejection(
      client.request(peerAt(port, other.fingerprint), { method: 'GET', path: '/version' }, daemonAuth),
    );
    assert.equal(e.code, 'tls-failed');
    assert.match(e.message, /node 'pve1' \(127\.0\.0\.1:\d+\)/);
    assert.match(e.message, /fingerprint mismatch/);
    assert.ok(e.message.includes(cert.fingerprint), e.message);
    assert.equal(seen.length, before, 'no request reached the server');
    const none = await rejection(
      client.request(peerAt(port, undefined), { method: 'GET', path: '/version' }, daemonAuth),
    );
    assert.equal(none.code, 'tls-failed');
    assert.match(none.message, /publishes no certificate fingerprint/);
  });

  it("passes the caller's ticket cookie, Authorization and CSRF token, and none of their other cookies", async () => {
    const a = await client.request(
      peerAt(port, cert.fingerprint),
      { method: 'POST', path: '/runs', body: { selector: ['101'] } },
      {
        kind: 'caller',
        headers: {
          cookie: `session=secret; PVEAuthCookie=${encodeURIComponent(TICKET)}; theme=dark`,
          csrfpreventiontoken: '66A0B1C2:Y3NyZg==',
        },
      },
    );
    assert.deepEqual(a, { status: 202, body: { data: { echo: { selector: ['101'] } } } });
    const got = seen.at(-1)!;
    assert.equal(got.headers.cookie, `PVEAuthCookie=${encodeURIComponent(TICKET)}`);
    assert.equal(got.headers.csrfpreventiontoken, '66A0B1C2:Y3NyZg==');
    assert.equal(got.headers[FORWARDED_BY], 'pve2');
    assert.equal(got.headers.authorization, undefined);
    assert.equal(got.headers[ON_BEHALF], undefined);
    await client.request(
      peerAt(port, cert.fingerprint),
      { method: 'GET', path: '/version', query: { selector: ['101', 'tag:web'] } },
      { kind: 'caller', headers: { authorization: 'PVEAPIToken=alice@pve!ci=7d0e4a52-1c3b-4f7e-9a2d-5b6c7d8e9f01' } },
    );
    const tok = seen.at(-1)!;
    assert.equal(tok.url, '/api/v1/version?selector=101&selector=tag%3Aweb');
    assert.equal(tok.headers.authorization, 'PVEAPIToken=alice@pve!ci=7d0e4a52-1c3b-4f7e-9a2d-5b6c7d8e9f01');
    assert.equal(tok.headers.cookie, undefined);
  });

  it("speaks for root on the socket with the daemon's token and names the user on whose behalf", async () => {
    await client.request(peerAt(port, cert.fingerprint), { method: 'GET', path: '/version' }, daemonAuth);
    const got = seen.at(-1)!;
    assert.equal(got.headers.authorization, 'PVEAPIToken=pvepatch@pve!daemon=0b4d2c4e-6b0a-4c53-9f3e-3f1a2b7c9d10');
    assert.equal(got.headers[ON_BEHALF], 'root@pam');
    assert.equal(got.headers[FORWARDED_BY], 'pve2');
    assert.equal(got.headers.cookie, undefined);
  });

  it('refuses an answer over 4 MiB, declared or streamed', async (t) => {
    const roomy = new HttpsPeerClient({ node: 'pve2', timeoutMs: 10_000 });
    t.after(() => roomy.close());
    for (const query of [{}, { declared: '1' }]) {
      const e = await rejection(
        roomy.request(peerAt(port, cert.fingerprint), { method: 'GET', path: '/big', query }, daemonAuth),
      );
      assert.equal(e.code, 'output-invalid');
      assert.match(e.message, /node 'pve1'.*larger than 4 MiB/);
    }
  });

  it('gives up after the timeout, naming the node', async () => {
    const started = Date.now();
    const e = await rejection(
      client.request(peerAt(port, cert.fingerprint), { method: 'GET', path: '/slow' }, daemonAuth),
    );
    assert.equal(e.code, 'timeout');
    assert.match(e.message, /node 'pve1' .*no answer within 0\.5 s; check 'systemctl status pvepatchd' there/);
    assert.ok(Date.now() - started < 3000);
  });

  it('says which node cannot be reached and what to check when nothing listens', async () => {
    const closed = createHttpsServer({ key: cert.keyPem, cert: cert.certPem });
    const free = await listen(closed);
    await new Promise<void>((r) => closed.close(() => r()));
    const e = await rejection(
      client.request(peerAt(free, cert.fingerprint), { method: 'GET', path: '/version' }, daemonAuth),
    );
    assert.equal(e.code, 'daemon-unavailable');
    assert.equal(
      e.message,
      `unable to reach the pvepatch daemon on node 'pve1' (127.0.0.1:${free}) - ECONNREFUSED; check 'systemctl status pvepatchd' there`,
    );
  });

  it('refuses a peer that is not alive with its reason', async () => {
    const reason = "no pvepatch daemon running on node 'pve1' (last status 12:01:05)";
    const e = await rejection(
      client.request(
        peerAt(port, cert.fingerprint, { alive: false, reason }),
        { method: 'GET', path: '/version' },
        daemonAuth,
      ),
    );
    assert.equal(e.code, 'daemon-unavailable');
    assert.equal(e.message, reason);
  });

  it('proxies an event stream and closes it upstream when the client goes away', async () => {
    const app = express();
    app.get('/events', async (req, res) => {
      await client.pipe(
        peerAt(port, cert.fingerprint),
        { method: 'GET', path: '/runs/R1/events', headers: { 'last-event-id': String(req.get('last-event-id')) } },
        res,
        daemonAuth,
      );
    });
    const front = createHttpServer(app);
    const frontPort = await listen(front);
    try {
      const first = await new Promise<{ type: string; text: string; destroy: () => void }>((resolve, reject) => {
        const req = httpGet(
          { host: '127.0.0.1', port: frontPort, path: '/events', headers: { 'last-event-id': '7' } },
          (res) => {
            res.once('data', (chunk: Buffer) =>
              resolve({
                type: String(res.headers['content-type']),
                text: chunk.toString(),
                destroy: () => req.destroy(),
              }),
            );
          },
        );
        req.on('error', reject);
      });
      assert.match(first.type, /^text\/event-stream/);
      assert.match(first.text, /event: run-started\ndata: \{"last":"7"\}/);
      assert.equal(seen.at(-1)!.headers[FORWARDED_BY], 'pve2');
      first.destroy();
      await Promise.race([
        streamGone,
        new Promise((_r, reject) => setTimeout(() => reject(new Error('upstream stream not closed')), 3000)),
      ]);
    } finally {
      front.closeAllConnections();
      front.close();
    }
  });
});

const daemonAuth = {
  kind: 'daemon' as const,
  token: 'pvepatch@pve!daemon=0b4d2c4e-6b0a-4c53-9f3e-3f1a2b7c9d10',
  onBehalfOf: 'root@pam',
};
