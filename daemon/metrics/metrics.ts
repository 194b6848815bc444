import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import type { RebootStatus, RunState } from '../store/state.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** What /metrics needs of a cached plan row (GuestPlan has all of it). */
export interface PlanRow {
  vmid: number;
  node: string;
  name: string;
  type: string;
  updates_available: number;
  security_updates: number;
  skip_reason?: string | null;
}

/** What /metrics needs of the runs (the run store keeps both). */
export interface RunStats {
  /** The state of every kept run. */
  states(): Iterable<string>;
  /** vmid → end (ms) of the last run, not a dry run, that updated the guest or found it up to date. */
  lastSuccess(): ReadonlyMap<number, number>;
}

export interface MetricsSources {
  version: string;
  /** The cached plans, or undefined when there are none (the plan families are then left out). */
  plans?: () => readonly PlanRow[] | undefined;
  runs?: () => RunStats;
  reboots?: () => readonly { status: string }[];
  requests?: RequestHistogram;
}

const RUN_STATES: readonly RunState[] = ['running', 'ok', 'warnings', 'error', 'interrupted'];
const REBOOT_STATUSES: readonly RebootStatus[] = ['pending', 'sent', 'rebooting', 'completed', 'failed', 'timeout'];

/** A label value in the text format: backslash, double quote and newline escaped. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and newline escaped. */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value: integers as such, +Inf/-Inf/NaN spelt as the format wants. */
export function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabelValue(labels[k]!)}"`).join(',')}}`;
}

class Family {
  readonly lines: string[];
  constructor(name: string, type: 'gauge' | 'counter' | 'histogram', help: string) {
    this.lines = [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`];
  }
  sample(name: string, labels: Labels, value: number): this {
    this.lines.push(`${name}${labelText(labels)} ${formatValue(value)}`);
    return this;
  }
}

export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

interface Series {
  labels: Labels;
  counts: number[];
  sum: number;
  count: number;
}

/**
 * pvepatch_api_request_duration_seconds: latency by method, matched route template and status.
 * Label values come from a closed set (methods), route templates (finite) and status codes; past
 * maxSeries label sets, new ones are counted under route="other".
 */
export class RequestHistogram {
  readonly buckets: readonly number[];
  private readonly maxSeries: number;
  private readonly series = new Map<string, Series>();

  constructor(opts: { buckets?: readonly number[]; maxSeries?: number } = {}) {
    this.buckets = [...(opts.buckets ?? DEFAULT_BUCKETS)].sort((a, b) => a - b);
    this.maxSeries = opts.maxSeries ?? 200;
  }

  observe(method: string, route: string, code: number | string, seconds: number): void {
    const m = METHODS.has(method.toUpperCase()) ? method.toUpperCase() : 'OTHER';
    const c = /^[1-5]\d\d$/.test(String(code)) ? String(code) : 'other';
    let labels: Labels = { method: m, route: route.slice(0, 200), code: c };
    let key = `${labels.method}\0${labels.route}\0${labels.code}`;
    if (!this.series.has(key) && this.series.size >= this.maxSeries) {
      labels = { method: m, route: 'other', code: c };
      key = `${m}\0other\0${c}`;
    }
    let s = this.series.get(key);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (seconds <= this.buckets[i]!) s.counts[i]!++;
    s.sum += seconds;
    s.count++;
  }

  /** Lines of the family (HELP, TYPE, then _bucket/_sum/_count of every label set). */
  render(): string[] {
    const name = 'pvepatch_api_request_duration_seconds';
    const f = new Family(name, 'histogram', 'Latency of daemon API requests by method, route template and status.');
    const all = [...this.series.values()].sort((a, b) =>
      `${a.labels.route} ${a.labels.method} ${a.labels.code}`.localeCompare(
        `${b.labels.route} ${b.labels.method} ${b.labels.code}`,
      ),
    );
    for (const s of all) {
      this.buckets.forEach((b, i) => {
        f.sample(`${name}_bucket`, { ...s.labels, le: formatValue(b) }, s.counts[i]!);
      });
      f.sample(`${name}_bucket`, { ...s.labels, le: '+Inf' }, s.count);
      f.sample(`${name}_sum`, s.labels, s.sum);
      f.sample(`${name}_count`, s.labels, s.count);
    }
    return f.lines;
  }
}

/**
 * Times every request and records it under its matched route template (`/runs/:id`, not the
 * path; relative to the router it is on, as req.baseUrl is gone once an error has left the
 * router) once the answer is sent; unmatched requests are route="unmatched".
 */
export function requestTimer(hist: RequestHistogram): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const t0 = process.hrtime.bigint();
    let done = false;
    const end = () => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const tmpl = typeof req.route?.path === 'string' ? (req.route.path as string) : 'unmatched';
      hist.observe(req.method, tmpl, res.statusCode, seconds);
    };
    res.on('finish', end);
    res.on('close', end);
    next();
  };
}

/** The whole exposition (text format 0.0.4) from the current sources. */
export function renderMetrics(sources: MetricsSources): string {
  const out: string[] = [];

  out.push(
    ...new Family('pvepatch_build_info', 'gauge', 'Always 1; the version of pvepatch running.').sample(
      'pvepatch_build_info',
      { version: sources.version },
      1,
    ).lines,
  );

  const plans = sources.plans?.();
  if (plans) {
    const rows = plans.filter((p) => !p.skip_reason);
    const labels = (p: PlanRow) => ({ vmid: String(p.vmid), node: p.node, name: p.name, type: p.type });
    const pending = new Family(
      'pvepatch_guest_updates_pending',
      'gauge',
      'Package updates pending in a guest, from its last plan (guests the plan skipped are left out).',
    );
    const security = new Family(
      'pvepatch_guest_security_updates_pending',
      'gauge',
      'Security updates pending in a guest, from its last plan (guests the plan skipped are left out).',
    );
    for (const p of rows) {
      pending.sample('pvepatch_guest_updates_pending', labels(p), p.updates_available);
      security.sample('pvepatch_guest_security_updates_pending', labels(p), p.security_updates);
    }
    out.push(...pending.lines, ...security.lines);
  }

  const runs = sources.runs?.();
  if (runs) {
    const byState = new Map<string, number>(RUN_STATES.map((s) => [s, 0]));
    for (const state of runs.states()) byState.set(state, (byState.get(state) ?? 0) + 1);
    const lastOk = runs.lastSuccess();
    const f = new Family(
      'pvepatch_runs_total',
      'gauge',
      'Runs kept (the last runs_keep), by state; a gauge, as runs change state and old ones are dropped.',
    );
    for (const [state, n] of byState) f.sample('pvepatch_runs_total', { state }, n);
    out.push(...f.lines);
    const g = new Family(
      'pvepatch_guest_last_success_timestamp_seconds',
      'gauge',
      'End of the last run (not a dry run) in which the guest was updated or found up to date.',
    );
    for (const [vmid, t] of [...lastOk].sort((a, b) => a[0] - b[0])) {
      g.sample('pvepatch_guest_last_success_timestamp_seconds', { vmid: String(vmid) }, t / 1000);
    }
    out.push(...g.lines);
  }

  const reboots = sources.reboots?.();
  if (reboots) {
    const byStatus = new Map<string, number>(REBOOT_STATUSES.map((s) => [s, 0]));
    for (const r of reboots) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    const f = new Family(
      'pvepatch_reboots_total',
      'gauge',
      'Guest reboot records kept in the state (the last 1000), by status; a gauge, as records change status.',
    );
    for (const [status, n] of byStatus) f.sample('pvepatch_reboots_total', { status }, n);
    out.push(...f.lines);
  }

  if (sources.requests) out.push(...sources.requests.render());
  return `${out.join('\n')}\n`;
}

/** `GET /metrics` in the Prometheus text format. */
export function registerMetricsRoute(router: Router, sources: MetricsSources): void {
  router.get('/metrics', (_req, res) => {
    const body = renderMetrics(sources);
    res.status(200);
    res.setHeader('Content-Type', METRICS_CONTENT_TYPE);
    res.setHeader('Cache-Control', 'no-store');
    res.end(body);
  });
}
