import { z } from 'zod';
import { escapeControls } from '../core/escape.js';

/** Where pvepatch works in a guest now: `GET /api/v1/guests/<vmid>/patching`. */
export interface Patching {
  vmid: number;
  patching: boolean;
  run_id?: string;
  stage?: string;
  since?: string;
}

/**
 * What asking the daemon gave: its answer, a refusal it gave ("it said no": HTTP 4xx/5xx with its
 * error), or no answer at all ("could not reach it": socket, TLS, timeout, an answer that is not
 * the daemon's). Hooks treat the last two alike (the backup goes ahead) but say which it was.
 */
export type Answer<T> =
  | { kind: 'ok'; value: T }
  | { kind: 'refused'; status: number; message: string }
  | { kind: 'unreachable'; reason: string };

/** The largest answer a hook reads; the real ones are well under 1 KiB. */
export const MAX_HOOK_ANSWER = 64 * 1024;

const PatchingSchema = z.object({
  vmid: z.number().int(),
  patching: z.boolean(),
  run_id: z.string().max(200).optional(),
  stage: z.string().max(100).optional(),
  since: z.string().max(100).optional(),
});
const ErrorSchema = z.object({ error: z.object({ code: z.string().max(100), message: z.string().max(2000) }) });

/** Reads an answer of the daemon's API (`{data}` or `{error}`), tolerating fields it does not use. */
export function answerOf<T>(status: number, text: string, data: z.ZodType<T>): Answer<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'unreachable', reason: `unexpected answer (HTTP ${status}, not JSON)` };
  }
  if (status >= 200 && status < 300) {
    const ok = z.object({ data: data }).safeParse(json);
    if (ok.success) return { kind: 'ok', value: ok.data.data };
    return { kind: 'unreachable', reason: `unexpected answer (HTTP ${status}, not the daemon's shape)` };
  }
  const err = ErrorSchema.safeParse(json);
  const message = err.success ? escapeControls(err.data.error.message) : 'no error message';
  return { kind: 'refused', status, message };
}

export function patchingAnswer(status: number, text: string, vmid: number): Answer<Patching> {
  const a = answerOf(status, text, PatchingSchema);
  if (a.kind === 'ok' && a.value.vmid !== vmid) {
    return { kind: 'unreachable', reason: `unexpected answer (it is about guest ${a.value.vmid}, not ${vmid})` };
  }
  return a;
}

/** A refusal or no answer, for a log line: `HTTP 403: permission denied - …` or the reason. */
export function whyNot(a: Exclude<Answer<unknown>, { kind: 'ok' }>): string {
  return a.kind === 'refused' ? `HTTP ${a.status}: ${a.message}` : a.reason;
}

/** `run <id>, stage <stage>`, escaped: the ids come from the daemon, the text goes into a task log. */
export function whereInRun(p: Patching): string {
  return `run ${escapeControls(p.run_id ?? '?')}, stage ${escapeControls(p.stage ?? '?')}`;
}

/** A Proxmox guest id as vzdump and the API write it: 100 … 999999999, digits only. */
export function parseVmid(text: string | undefined): number | undefined {
  if (text === undefined || text.length < 3 || text.length > 9) return undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  const n = Number(text);
  return n >= 100 ? n : undefined;
}
