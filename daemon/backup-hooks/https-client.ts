import type { Agent } from 'undici';
import { z } from 'zod';
import { errorMessage } from '../core/errors.js';
import { escapeControls } from '../core/escape.js';
import { liteFetch } from '../proxmox/lite-fetch.js';
import { createDispatcher, type TlsTrust } from '../proxmox/tls.js';
import { type Answer, answerOf, MAX_HOOK_ANSWER, type Patching, patchingAnswer } from './answer.js';

/**
 * What a PBS Plus PostScript reports: `POST /api/v1/backups/result` (daemon/api/backups.ts; it
 * needs VM.Backup on /vms/<vmid>, on /vms for an unmapped job). An older daemon answers 404.
 */
export interface BackupResult {
  /** The PBS Plus target name from `target-map`, when the job was mapped through it. */
  target: string | null;
  vmid: number | null;
  /** The PBS Plus job id (`PBS_PLUS__ID`). */
  job_id: string | null;
  success: boolean;
  warnings: number;
  /** When the PostScript ran (ISO 8601), i.e. just after the backup ended. */
  at: string;
}

export interface PvepatchApi {
  patching(vmid: number): Promise<Answer<Patching>>;
  postBackupResult(result: BackupResult): Promise<Answer<unknown>>;
  close(): Promise<void>;
}

export interface HttpsApiOptions {
  url: URL;
  token: string;
  trust: TlsTrust;
  timeoutMs: number;
}

/** The daemon's HTTPS API with a Proxmox API token, TLS pinned as the daemon pins PVE (never unverified). */
export class PvepatchHttpsApi implements PvepatchApi {
  private readonly dispatcher: Agent;
  private readonly opts: HttpsApiOptions;

  constructor(opts: HttpsApiOptions) {
    this.opts = opts;
    this.dispatcher = createDispatcher(opts.trust, opts.timeoutMs);
  }

  async patching(vmid: number): Promise<Answer<Patching>> {
    const r = await this.call('GET', `/guests/${vmid}/patching`);
    return 'error' in r ? { kind: 'unreachable', reason: r.error } : patchingAnswer(r.status, r.text, vmid);
  }

  async postBackupResult(result: BackupResult): Promise<Answer<unknown>> {
    const r = await this.call('POST', '/backups/result', result);
    return 'error' in r ? { kind: 'unreachable', reason: r.error } : answerOf(r.status, r.text, z.unknown());
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }

  private async call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; text: string } | { error: string }> {
    const base = this.opts.url.pathname.endsWith('/') ? this.opts.url.pathname.slice(0, -1) : this.opts.url.pathname;
    const url = new URL(`${this.opts.url.origin}${base}/api/v1${path}`);
    const headers: Record<string, string> = { authorization: `PVEAPIToken=${this.opts.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const res = await liteFetch(this.dispatcher, url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      const text = await res.text();
      if (text.length > MAX_HOOK_ANSWER) return { error: `answer over ${MAX_HOOK_ANSWER / 1024} KiB` };
      return { status: res.status, text };
    } catch (err) {
      return { error: `${this.opts.url.origin}: ${reason(err, this.opts.timeoutMs)}` };
    }
  }
}

function reason(err: unknown, timeoutMs: number): string {
  const name = (err as { name?: string }).name;
  if (name === 'AbortError' || name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
  const cause = (err as { cause?: unknown }).cause;
  const msg = errorMessage(err);
  return escapeControls(cause && !msg.includes(errorMessage(cause)) ? `${msg} (${errorMessage(cause)})` : msg);
}
