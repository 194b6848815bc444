import { join } from 'node:path';
import { Low } from 'lowdb';
import { z } from 'zod';
import { readChecked } from '../store/checked-read.js';
import { DurableJSONFile } from '../store/durable-json-file.js';

/** Results kept per vmid (and for jobs mapped to no guest); older ones are dropped as new ones come. */
export const KEEP_PER_VMID = 20;

/**
 * A backup job's result as a backup tool's hook reports it (PBS Plus's PostScript: `BackupResult`
 * in backup-hooks/https-client.ts). Unknown fields are ignored, so a newer hook still reports.
 */
export const BackupResultBody = z.object({
  target: z.string().max(256).nullable(),
  vmid: z.number().int().min(100).max(999_999_999).nullable(),
  job_id: z.string().max(256).nullable(),
  success: z.boolean(),
  warnings: z.number().int().min(0).max(1_000_000),
  at: z.iso.datetime({ offset: true }),
});
export type BackupResultInput = z.input<typeof BackupResultBody>;

export interface BackupResultRecord extends z.output<typeof BackupResultBody> {
  /** When the daemon received it (ISO 8601). */
  received_at: string;
  /** Who sent it (the API caller). */
  reported_by: string;
}

interface BackupsFile {
  version: 1;
  results: BackupResultRecord[];
}

const FileShape = z.looseObject({
  version: z.literal(1),
  results: z.array(
    z.looseObject({ vmid: z.number().nullable(), success: z.boolean(), at: z.string(), received_at: z.string() }),
  ),
});

/**
 * Backup results reported to the daemon, in `<state_dir>/backups.json` (lowdb, written durably;
 * the daemon is its only writer). Informational: the PBS API stays the source of truth for
 * `fallback backup`.
 */
export class BackupResultStore {
  readonly path: string;
  private readonly db: Low<BackupsFile>;
  private readonly now: () => Date;

  constructor(stateDir: string, now: () => Date = () => new Date()) {
    this.path = join(stateDir, 'backups.json');
    this.db = new Low<BackupsFile>(new DurableJSONFile(this.path), { version: 1, results: [] });
    this.now = now;
  }

  /** Reads and checks the file; a damaged one stops the daemon with what to do, never silently emptied. */
  async start(): Promise<void> {
    await readChecked(
      this.db as Low<unknown>,
      this.path,
      FileShape,
      'fix or move it aside (only reported backup results are in it)',
    );
  }

  /** Validates and records a result (throws a ZodError for a bad one); keeps the newest 20 per vmid. */
  async record(input: unknown, user: string): Promise<BackupResultRecord> {
    const body = BackupResultBody.parse(input);
    const rec: BackupResultRecord = { ...body, received_at: this.now().toISOString(), reported_by: user };
    await this.db.update((d) => {
      d.results.push(rec);
      const same = d.results.filter((r) => r.vmid === rec.vmid);
      if (same.length <= KEEP_PER_VMID) return;
      const drop = new Set(newestFirst(same).slice(KEEP_PER_VMID));
      d.results = d.results.filter((r) => !drop.has(r));
    });
    return rec;
  }

  /** The results, newest (by `at`) first; with a vmid only that guest's. */
  list(vmid?: number | null): BackupResultRecord[] {
    const all = this.db.data.results;
    return newestFirst(vmid === undefined ? all : all.filter((r) => r.vmid === vmid));
  }

  /** The newest successful result reported for the guest, if any. */
  lastSuccess(vmid: number): BackupResultRecord | undefined {
    return this.list(vmid).find((r) => r.success);
  }
}

function newestFirst(rs: readonly BackupResultRecord[]): BackupResultRecord[] {
  return [...rs].sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || b.received_at.localeCompare(a.received_at));
}
