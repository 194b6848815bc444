/**
 * Package exceptions over the API: GET /exceptions (those the caller may see), POST /exceptions,
 * PUT /exceptions/:id, DELETE /exceptions/:id. A guest's exception is read with VM.Audit on
 * /vms/<vmid> and changed with VM.Config.Options there; a pool's on /pool/<pool>; a tag spans every
 * guest, so /vms. Each change is in the audit log (exception.create/update/delete).
 */
import type { Request, Response, Router } from 'express';
import { PvepatchError } from '../core/errors.js';
import type { ExceptionStore } from '../exceptions/store.js';
import type { PackageException } from '../exceptions/types.js';
import { parseTarget } from '../exceptions/validate.js';
import type { Access, PathNeed } from './app.js';

const READ = 'VM.Audit';
const WRITE = 'VM.Config.Options';

/** The ACL path an exception's target lives on. */
export function targetPath(target: string): string {
  const t = parseTarget(target);
  if (t.kind === 'guest') return `/vms/${t.vmid}`;
  if (t.kind === 'pool') return `/pool/${t.name}`;
  return '/vms';
}

export function registerExceptionRoutes(r: Router, store: ExceptionStore, access: Access): void {
  const guard = async (req: Request, res: Response, target: string) => {
    const need: PathNeed = { path: targetPath(target), priv: WRITE };
    const [ok] = await access.allowed(req, res, [need]);
    if (!ok) throw new PvepatchError('forbidden', `permission denied - missing ${WRITE} on ${need.path}`);
  };
  const user = (req: Request, res: Response) => access.caller(req, res).user;

  r.get('/exceptions', async (req, res) => {
    const all = store.list();
    const ok = await access.allowed(
      req,
      res,
      all.map((e) => ({ path: targetPath(e.target), priv: READ })),
    );
    res.json({ data: all.filter((_, i) => ok[i]) });
  });
  r.post('/exceptions', async (req, res) => {
    const body = (req.body ?? {}) as { target?: unknown };
    if (typeof body.target === 'string') await guard(req, res, body.target);
    res.status(201).json({ data: await store.create(req.body ?? {}, user(req, res)) });
  });
  r.put('/exceptions/:id', async (req, res) => {
    const e: PackageException = store.get(String(req.params.id));
    await guard(req, res, e.target);
    res.json({ data: await store.update(e.id, req.body ?? {}, user(req, res)) });
  });
  r.delete('/exceptions/:id', async (req, res) => {
    const e = store.get(String(req.params.id));
    await guard(req, res, e.target);
    res.json({ data: await store.remove(e.id) });
  });
}
