/**
 * Backup results reported by backup tools' hooks (PBS Plus's PostScript): POST /backups/result
 * records one ({target, vmid, job_id, success, warnings, at}; needs VM.Backup on /vms/<vmid>, or on
 * /vms for a job mapped to no guest); GET /backups[?vmid=N] lists them, newest first (VM.Audit).
 * They are shown beside the PBS check of `fallback backup`, never instead of it.
 */
import type { Router } from 'express';
import { z } from 'zod';
import { BackupResultBody, type BackupResultStore } from '../backups/store.js';
import { PvepatchError } from '../core/errors.js';
import type { Access } from './app.js';

const READ = 'VM.Audit';
const WRITE = 'VM.Backup';
const ListQuery = z.object({ vmid: z.coerce.number().int().min(100).max(999_999_999).optional() });

const aclPath = (vmid: number | null) => (vmid === null ? '/vms' : `/vms/${vmid}`);

export function registerBackupRoutes(r: Router, store: BackupResultStore, access: Access): void {
  r.post('/backups/result', async (req, res) => {
    const body = BackupResultBody.parse(req.body ?? {});
    const path = aclPath(body.vmid);
    const [ok] = await access.allowed(req, res, [{ path, priv: WRITE }]);
    if (!ok) throw new PvepatchError('forbidden', `permission denied - missing ${WRITE} on ${path}`);
    res.status(201).json({ data: await store.record(body, access.caller(req, res).user) });
  });
  r.get('/backups', async (req, res) => {
    const q = ListQuery.parse(req.query);
    const all = store.list(q.vmid);
    const ok = await access.allowed(
      req,
      res,
      all.map((x) => ({ path: aclPath(x.vmid), priv: READ })),
    );
    res.json({ data: all.filter((_, i) => ok[i]) });
  });
}
