/**
 * `GET /settings`: every config key with its value, source and whether a change needs a restart
 * (secrets only as "(set)"). `PUT /settings` `{set: {key: value}, delete: [key]}`: written to the
 * config file and applied at once, answered with `{applied, need_restart}`. Over HTTPS the listener
 * guards them with Sys.Audit (read) and Sys.Modify (write) on `/`; the socket's callers are root.
 */
import type { RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { Setting, SettingsChange, SettingsResult } from '../config/settings.js';

/** What the routes need from the daemon: its settings, read and changed. */
export interface SettingsProvider {
  get(): Promise<Setting[]>;
  set(change: SettingsChange): Promise<SettingsResult>;
}

export interface SettingsRoutes {
  provider: SettingsProvider;
  /** Guards of this listener: who may read, who may change (`ROOT_SOCKET` on the root-only socket). */
  read: RequestHandler;
  write: RequestHandler;
}

const Key = z.string().max(64);
const SettingsBody = z.strictObject({
  set: z.record(Key, z.union([z.string().max(4096), z.number(), z.boolean()])).default({}),
  delete: z.array(Key).max(200).default([]),
});

const pass: RequestHandler = (_req, _res, next) => next();

/** The unix socket's guards: its callers are root@pam and may read and change everything. */
export const ROOT_SOCKET = { read: pass, write: pass } as const;

export function registerSettingsRoutes(router: Router, routes: SettingsRoutes): void {
  router.get('/settings', routes.read, async (_req, res) => {
    res.json({ data: await routes.provider.get() });
  });
  router.put('/settings', routes.write, async (req, res) => {
    const body = SettingsBody.parse(req.body ?? {});
    res.json({ data: await routes.provider.set(body) });
  });
}
