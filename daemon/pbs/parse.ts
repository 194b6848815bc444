/**
 * Parsers of what a PBS guest (or the PBS API) prints. The text is hostile: every parser caps its
 * input first, scans it once (split and indexOf, no backtracking regex), and what it returns for
 * display is escaped. JSON is parsed only when short enough, and its shape is checked with zod.
 */
import { z } from 'zod';
import { escapeControls } from '../core/escape.js';

export const MAX_VERSION_LINES = 64;
export const MAX_LINE_CHARS = 256;
/** Larger task lists are refused rather than parsed (1000 tasks of ~300 bytes fit). */
export const MAX_TASK_JSON_CHARS = 1024 * 1024;

const text = (max: number) => z.string().max(max);

/** The fields of PBS's `TaskListItem` that pvepatch uses; extra fields are ignored. */
const taskItem = z.object({
  upid: text(512),
  node: text(256).optional(),
  worker_type: text(64),
  worker_id: text(512).nullable().optional(),
  user: text(256).optional(),
  starttime: z.number().int(),
  endtime: z.number().int().nullable().optional(),
  status: text(1024).nullable().optional(),
});
const taskList = z.array(taskItem).max(1000);

export interface PbsTaskItem {
  upid: string;
  worker_type: string;
  worker_id: string | null;
  user: string | null;
  starttime: number;
  endtime: number | null;
  /** `OK`, `WARNINGS: n`, an error text; null while running. */
  status: string | null;
}

/** Non-empty lines of `proxmox-backup-manager versions`, trimmed, cut and escaped; at most 64. */
export function parseVersionLines(stdout: string): string[] {
  const lines: string[] = [];
  const head = stdout.slice(0, MAX_VERSION_LINES * (MAX_LINE_CHARS + 1) * 4);
  for (const raw of head.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    lines.push(escapeControls(line.slice(0, MAX_LINE_CHARS)));
    if (lines.length === MAX_VERSION_LINES) break;
  }
  return lines;
}

/** The proxmox-backup-server package version in those lines (`proxmox-backup-server 3.4.1-1 …`), or null. */
export function serverVersionOf(lines: readonly string[]): string | null {
  for (const line of lines) {
    const words = line.split(' ').filter((w) => w !== '');
    if (words[0] === 'proxmox-backup-server' && words[1] && words[1] !== 'unknown') return words[1];
  }
  return null;
}

/** A task list as JSON (the CLI's `--output-format json`, or the API's `data`); null when not one. */
export function parseTaskListJson(stdout: string): PbsTaskItem[] | null {
  if (stdout.length > MAX_TASK_JSON_CHARS) return null;
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch {
    return null;
  }
  return taskItems(value);
}

/** Checks an already parsed value (the API's `data`) against the task list shape. */
export function taskItems(value: unknown): PbsTaskItem[] | null {
  const parsed = taskList.safeParse(value);
  if (!parsed.success) return null;
  return parsed.data.map((t) => ({
    upid: t.upid,
    worker_type: t.worker_type,
    worker_id: t.worker_id ?? null,
    user: t.user ?? null,
    starttime: t.starttime,
    endtime: t.endtime ?? null,
    status: t.status ?? null,
  }));
}

/** One task for a message: `backup store1:vm/100 (UPID:…)`, escaped and cut. */
export function describeTask(t: PbsTaskItem): string {
  const id = t.worker_id ? ` ${t.worker_id}` : '';
  return escapeControls(`${t.worker_type}${id} (${t.upid})`).slice(0, 600);
}

/** The first word of the first line (`active`, `enabled`, …), escaped and cut; '' when none. */
export function firstWord(stdout: string): string {
  const head = stdout.slice(0, 256).trimStart();
  const end = head.search(/\s/);
  return escapeControls(end < 0 ? head : head.slice(0, end)).slice(0, 64);
}

/** First line of stderr (or stdout) for a message, escaped and cut. */
export function resultLine(res: { stdout: string; stderr: string }): string {
  const source = res.stderr.trim() === '' ? res.stdout : res.stderr;
  const head = source.slice(0, 512).trim();
  const nl = head.indexOf('\n');
  return escapeControls(nl < 0 ? head : head.slice(0, nl)).slice(0, 300);
}

/** Larger snapshot lists are refused (one backup group; ~2000 snapshots with their file lists fit). */
export const MAX_SNAPSHOT_JSON_CHARS = 4 * 1024 * 1024;

/** The fields of PBS's `SnapshotListItem` (pbs-api-types `datastore.rs`) that pvepatch uses. */
const snapshotItem = z.object({
  'backup-type': text(16),
  'backup-id': text(256),
  'backup-time': z.number().int(),
  verification: z
    .object({ state: text(16) })
    .nullable()
    .optional(),
});

export interface PbsSnapshotItem {
  type: string;
  id: string;
  /** Epoch seconds. */
  time: number;
  /** `ok`, `failed`, or null when never verified. */
  verification: string | null;
}

/**
 * The API's snapshot list, or null when it is not an array (at most 100000 entries). An entry
 * that does not have the shape is dropped: it can only make a guest look less protected.
 */
export function snapshotItems(value: unknown): PbsSnapshotItem[] | null {
  if (!Array.isArray(value) || value.length > 100_000) return null;
  const out: PbsSnapshotItem[] = [];
  for (const raw of value) {
    const s = snapshotItem.safeParse(raw);
    if (!s.success) continue;
    out.push({
      type: s.data['backup-type'],
      id: s.data['backup-id'],
      time: s.data['backup-time'],
      verification: s.data.verification?.state ?? null,
    });
  }
  return out;
}
