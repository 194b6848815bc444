import type { Request, Response } from 'express';
import { escapeDeep } from '../core/escape.js';
import type { RunEvent, RunEvents } from '../engine/events.js';

const FINAL: ReadonlySet<string> = new Set(['run-finished', 'rollout-finished']);

/**
 * Server-Sent Events of one run or rollout: its history (after `Last-Event-ID`), then live until
 * its final event; a comment every 15 s keeps proxies from closing an idle stream. `final` is the
 * final event to send when the history is gone (it ended long ago).
 */
export function streamEvents(events: RunEvents, req: Request, res: Response, id: string, final: () => RunEvent): void {
  res.status(200).set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
  res.flushHeaders();
  const after = Number(req.get('last-event-id') ?? 0) || 0;
  let finished = false;
  const send = (e: RunEvent & { seq: number }) => {
    res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(escapeDeep(e))}\n\n`);
    if (FINAL.has(e.type)) {
      finished = true;
      res.end();
    }
  };
  const sub = events.subscribe(id, send, after);
  if (finished) return;
  if (sub.ended) {
    send({ ...final(), seq: after + 1 });
    return;
  }
  const beat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  res.on('close', () => {
    clearInterval(beat);
    sub.close();
  });
}
