/**
 * Notifications over the API: GET /notifications (the channels, where they come from, each one's
 * last delivery), POST /notifications/test (the `test` event to one channel or all). Over HTTPS
 * reading needs Sys.Audit and testing Sys.Modify on `/`, like the settings; a test is audited.
 */
import type { RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { NotifyService } from '../notify/service.js';

export interface NotificationRoutes {
  service: NotifyService;
  read?: RequestHandler;
  write?: RequestHandler;
}

const TestBody = z.strictObject({ channel: z.string().min(1).max(64).optional() });

export function registerNotificationRoutes(r: Router, o: NotificationRoutes): void {
  const pass: RequestHandler = (_req, _res, next) => next();
  r.get('/notifications', o.read ?? pass, (_req, res) => {
    res.json({ data: o.service.view() });
  });
  r.post('/notifications/test', o.write ?? pass, async (req, res) => {
    const b = TestBody.parse(req.body ?? {});
    res.json({ data: await o.service.test(b.channel) });
  });
}
