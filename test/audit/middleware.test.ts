import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Command } from 'commander';
import express, { type NextFunction, type Request, type Response } from 'express';
import { AuditLog } from '../../daemon/audit/audit-log.js';
import { auditMutations, connectionCaller, registerAuditRoutes, resolveTime } from '../../daemon/audit/middleware.js';
import { addAuditCommand, auditText } from '../../daemon/cli/audit.js';
import { render } from '../../daemon/cli/format.js';
import { PvepatchError } from '../../daemon/core/errors.js';

interface Answer {
  status: number;
  body: { data?: unknown; total?: number; error?: { code: string; message: string } };
}

function call(port: number, method: string, path: string, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text.startsWith('{') ? JSON.parse(text) : {} }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('audit middleware and GET /audit', () => {
  let dir: string;
  let audit: AuditLog;
  let server: Server;
  let port: number;
  const errors: unknown[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pvepatch-audit-mw-'));
    audit = new AuditLog(dir, { noSync: true });
    const app = express();
    // first of all: in front of authentication and the body parser, so refused attempts are recorded too
    app.use(auditMutations(audit, { callerOf: connectionCaller, onError: (e) => errors.push(e) }));
    app.use(express.json());
    app.use((req, res, next) => {
      // what the HTTPS authentication leaves: an API token here; a request marked anonymous is refused
      if (req.get('x-test-anonymous')) {
        res.status(401).json({ error: { code: 'unauthenticated', message: 'no ticket' } });
        return;
      }
      res.locals.caller = { userid: 'ops@pve', tokenid: 'ops@pve!ci', perms: {} };
      next();
    });
    const r = express.Router();
    r.post('/runs', (_req, res) => {
      res.status(202).json({ data: { id: 'run-1' } });
    });
    r.post('/runs/:id/cancel', (req) => {
      throw new PvepatchError('not-found', `no run '${req.params.id}'`);
    });
    r.post('/agent/:action', (_req, res) => {
      res.json({ data: [] });
    });
    r.get('/runs', (_req, res) => {
      res.json({ data: [] });
    });
    registerAuditRoutes(r, audit);
    app.use('/api/v1', r);
    app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
      const code = err instanceof PvepatchError ? err.code : 'input-invalid';
      res.status(code === 'not-found' ? 404 : 400).json({ error: { code, message: (err as Error).message } });
    });
    await new Promise<void>((resolve) => {
      server = app.listen(0, '127.0.0.1', () => resolve());
    });
    port = (server.address() as { port: number }).port;
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    audit.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records a POST with its status as the outcome, and not a GET', async () => {
    const started = await call(port, 'POST', '/api/v1/runs', { selector: ['101', 'tag:web'] });
    assert.equal(started.status, 202);
    await call(port, 'GET', '/api/v1/runs');
    await audit.flush();
    const { total, entries } = audit.read();
    assert.equal(total, 1);
    const e = entries[0]!;
    assert.equal(e.action, 'run.start');
    assert.equal(e.target, '101 tag:web');
    assert.equal(e.outcome, 'ok');
    assert.equal(e.user, 'ops@pve!ci');
    assert.equal(e.via, 'https');
    assert.equal(e.source, '127.0.0.1');
    assert.ok(Math.abs(Date.parse(e.time) - Date.now()) < 60_000);
  });

  it('records a failed POST with the error code and message', async () => {
    const failed = await call(port, 'POST', '/api/v1/runs/nope/cancel', {});
    assert.equal(failed.status, 404);
    await call(port, 'POST', '/api/v1/agent/ensure', { selector: ['all'] });
    await call(port, 'POST', '/api/v1/nowhere', {});
    await audit.flush();
    const { entries } = audit.read();
    assert.deepEqual(
      entries.slice(0, 3).map((e) => [e.action, e.target, e.outcome]),
      [
        ['post unmatched', '/api/v1/nowhere', 'http-404'],
        ['agent.ensure', 'all', 'ok'],
        ['run.cancel', 'run:nope', 'not-found'],
      ],
    );
    assert.equal(entries[2]!.detail, "no run 'nope'");
    assert.deepEqual(errors, []);
  });

  it('records a refused unauthenticated POST as such', async () => {
    const r = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'DELETE', path: '/api/v1/runs/x', headers: { 'x-test-anonymous': '1' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(r, 401);
    await audit.flush();
    const e = audit.read({ limit: 1 }).entries[0]!;
    assert.deepEqual(
      [e.user, e.via, e.source, e.action, e.target, e.outcome, e.detail],
      ['unauthenticated', 'https', '127.0.0.1', 'run.cancel', '/api/v1/runs/x', 'unauthenticated', 'no ticket'],
    );
  });

  it('records a POST whose body is not JSON', async () => {
    const r = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/api/v1/runs',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end('{not json');
    });
    assert.equal(r, 400);
    await audit.flush();
    const e = audit.read({ limit: 1 }).entries[0]!;
    assert.deepEqual([e.action, e.outcome], ['run.start', 'input-invalid']);
  });

  it('serves GET /audit newest first with zod-checked filters', async () => {
    const all = await call(port, 'GET', '/api/v1/audit');
    assert.equal(all.status, 200);
    assert.equal(all.body.total, 6);
    const runs = await call(port, 'GET', '/api/v1/audit?action=run.*&limit=2');
    assert.equal(runs.body.total, 4);
    assert.deepEqual(
      (runs.body.data as { action: string; outcome: string }[]).map((e) => `${e.action} ${e.outcome}`),
      ['run.start input-invalid', 'run.cancel unauthenticated'],
    );
    const cancels = await call(port, 'GET', '/api/v1/audit?action=run.cancel&start=1');
    assert.deepEqual(
      (cancels.body.data as { target: string }[]).map((e) => e.target),
      ['run:nope'],
    );
    const none = await call(port, 'GET', '/api/v1/audit?user=root@pam&since=1h');
    assert.equal(none.body.total, 0);
    const future = await call(port, 'GET', `/api/v1/audit?since=${new Date(Date.now() + 3_600_000).toISOString()}`);
    assert.equal(future.body.total, 0);
    for (const bad of ['limit=0', 'limit=5000', 'since=yesterday', 'start=-1', 'action=%0a']) {
      const r = await call(port, 'GET', `/api/v1/audit?${bad}`);
      assert.equal(r.status, 400, bad);
    }
    await audit.flush();
    assert.equal(audit.read().total, 6, 'reads are not audited');
  });

  it('turns durations into times', () => {
    const now = Date.parse('2026-01-02T00:00:00.000Z');
    assert.equal(resolveTime('30m', now), '2026-01-01T23:30:00.000Z');
    assert.equal(resolveTime('1d', now), '2026-01-01T00:00:00.000Z');
    assert.equal(resolveTime('2026-01-01T10:00:00Z', now), '2026-01-01T10:00:00.000Z');
    assert.equal(resolveTime(undefined, now), undefined);
  });
});

describe('pvepatch audit', () => {
  const entries = [
    {
      time: '2026-01-01T00:00:01.000Z',
      user: 'root@pam',
      via: 'socket' as const,
      source: 'unix',
      action: 'run.start',
      target: '101\\x1b',
      outcome: 'ok',
    },
    {
      time: '2026-01-01T00:00:00.000Z',
      user: 'ops@pve!ci',
      via: 'https' as const,
      source: '192.0.2.7',
      action: 'agent.ensure',
      target: 'all',
      outcome: 'locked',
    },
  ];

  async function runCli(args: string[], format: 'text' | 'json' = 'text') {
    const asked: { path: string; query: unknown }[] = [];
    const out: string[] = [];
    const program = new Command('pvepatch').exitOverride();
    addAuditCommand(program, {
      api: () => ({
        get: async <T>(path: string, query?: unknown) => {
          asked.push({ path, query });
          return entries as T;
        },
      }),
      print: (data, text) => out.push(render(format, data, text)),
    });
    await program.parseAsync(['audit', ...args], { from: 'user' });
    return { asked, out: out.join('\n') };
  }

  it('passes the filters to GET /audit and prints a table', async () => {
    const { asked, out } = await runCli(['--since', '2h', '--user', 'root@pam', '--action', 'run.*', '--limit', '20']);
    assert.deepEqual(asked, [{ path: '/audit', query: { since: '2h', user: 'root@pam', action: 'run.*', limit: 20 } }]);
    const lines = out.split('\n');
    assert.match(lines[0]!, /^TIME\s+USER\s+VIA\s+ACTION\s+TARGET\s+OUTCOME$/);
    assert.match(lines[2]!, /^2026-01-01T00:00:01.000Z\s+root@pam\s+socket\s+run.start\s+101\\x1b\s+ok$/);
    assert.match(lines[3]!, /ops@pve!ci\s+https 192.0.2.7\s+agent.ensure\s+all\s+locked$/);
    assert.equal(
      out,
      render('text', entries, () => auditText(entries)),
    );
  });

  it('prints JSON', async () => {
    const { out } = await runCli([], 'json');
    assert.deepEqual(JSON.parse(out), entries);
  });

  it('refuses a bad --limit', async () => {
    await assert.rejects(runCli(['--limit', '0']));
  });
});
