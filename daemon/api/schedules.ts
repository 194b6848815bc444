/**
 * Schedules over the API: GET /schedules (each with its next five occurrences, what it last did and
 * missed), POST /schedules, PUT and DELETE /schedules/:id, POST /schedules/:id/run (now, in a
 * window of its length from now, like a backup job's "Run now"). Schedules act unattended on whatever
 * their selector picks, so over HTTPS reading them needs Sys.Audit and changing them Sys.Modify on
 * `/`; each change is audited.
 */
import type { RequestHandler, Router } from 'express';
import type { ScheduleService } from '../schedule/service.js';

export interface ScheduleRoutes {
  service: ScheduleService;
  read?: RequestHandler;
  write?: RequestHandler;
}

export function registerScheduleRoutes(
  r: Router,
  o: ScheduleRoutes,
  user: (req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1]) => string,
): void {
  const pass: RequestHandler = (_req, _res, next) => next();
  const read = o.read ?? pass;
  const write = o.write ?? pass;
  r.get('/schedules', read, (_req, res) => {
    res.json({ data: o.service.list() });
  });
  r.get('/schedules/:id', read, (req, res) => {
    res.json({ data: o.service.get(String(req.params.id)) });
  });
  r.post('/schedules', write, async (req, res) => {
    res.status(201).json({ data: await o.service.create(req.body ?? {}, user(req, res)) });
  });
  r.put('/schedules/:id', write, async (req, res) => {
    res.json({ data: await o.service.update(String(req.params.id), req.body ?? {}) });
  });
  r.post('/schedules/:id/run', write, async (req, res) => {
    res.status(202).json({ data: await o.service.runNow(String(req.params.id), user(req, res)) });
  });
  r.delete('/schedules/:id', write, async (req, res) => {
    res.json({ data: await o.service.remove(String(req.params.id)) });
  });
}
