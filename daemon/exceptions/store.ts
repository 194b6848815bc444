import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Low } from 'lowdb';
import { z } from 'zod';
import { openDb, type SharedDbOptions, SharedLow } from '../cluster/shared-db.js';
import { PvepatchError } from '../core/errors.js';
import { readChecked } from '../store/checked-read.js';
import { DurableJSONFile } from '../store/durable-json-file.js';
import type { ExceptionState, PackageException } from './types.js';
import {
  CreateException,
  type CreateExceptionInput,
  normaliseExpiry,
  parseTarget,
  stateOf,
  UpdateException,
  type UpdateExceptionInput,
} from './validate.js';

interface ExceptionsFile {
  version: 1;
  exceptions: PackageException[];
}

/** Exceptions kept at most (an admin's list, not a log). */
const MAX_EXCEPTIONS = 10_000;

const FileShape = z.looseObject({
  version: z.literal(1),
  exceptions: z.array(
    z.looseObject({
      id: z.string(),
      target: z.string(),
      package: z.string(),
      reason: z.string(),
      expires_at: z.string().nullable(),
      active: z.boolean(),
    }),
  ),
});

/** Package exceptions in `<state_dir>/exceptions.json` (lowdb, written durably; the daemon is its only writer). */
export class ExceptionStore {
  readonly path: string;
  private readonly db: Low<ExceptionsFile>;
  private readonly now: () => Date;

  private readonly prepare: () => Promise<void>;

  /** `shared`: cluster mode, the file lives in `<cluster_dir>/pvepatch/` and any node may change it. */
  constructor(stateDir: string, now: () => Date = () => new Date(), shared?: SharedDbOptions) {
    const o = openDb<ExceptionsFile>(
      join(stateDir, 'exceptions.json'),
      { version: 1, exceptions: [] },
      shared,
      (p) => new DurableJSONFile(p),
    );
    ({ db: this.db, path: this.path, prepare: this.prepare } = o);
    this.now = now;
  }

  /** Another node's change, read in (cluster mode; false when nothing changed or not shared). */
  async refresh(): Promise<boolean> {
    return this.db instanceof SharedLow ? this.db.refresh() : false;
  }

  /** Reads and checks the file; a damaged one stops the daemon with what to do, never silently emptied. */
  async start(): Promise<void> {
    await this.prepare();
    await readChecked(
      this.db as Low<unknown>,
      this.path,
      FileShape,
      'fix or move it aside (the exceptions in it would be lost)',
    );
  }

  /** Every exception with its state now, oldest first. */
  list(): (PackageException & { state: ExceptionState })[] {
    const now = this.now();
    return this.db.data.exceptions.map((e) => ({ ...e, state: stateOf(e, now) }));
  }

  /** The exceptions as stored (for matching). */
  all(): readonly PackageException[] {
    return this.db.data.exceptions;
  }

  get(id: string): PackageException {
    const e = this.db.data.exceptions.find((x) => x.id === id);
    if (!e) throw new PvepatchError('not-found', `no exception '${id}' - see 'pvepatch exception list'`);
    return e;
  }

  async create(input: CreateExceptionInput, user: string): Promise<PackageException> {
    const body = CreateException.parse(input);
    parseTarget(body.target);
    const now = this.now();
    if (this.db.data.exceptions.length >= MAX_EXCEPTIONS)
      throw new PvepatchError(
        'input-invalid',
        `unable to add an exception - ${MAX_EXCEPTIONS} exist; delete old ones first`,
      );
    const twin = this.db.data.exceptions.find(
      (e) => e.target === body.target && e.package === body.package && stateOf(e, now) !== 'expired',
    );
    if (twin)
      throw new PvepatchError(
        'input-invalid',
        `exception '${twin.id}' already keeps ${body.package} back on ${body.target}; change that one ('pvepatch exception set ${twin.id} …')`,
      );
    const e: PackageException = {
      id: `exc-${randomBytes(4).toString('hex')}`,
      target: body.target,
      package: body.package,
      reason: body.reason,
      expires_at: normaliseExpiry(body.expires_at, now),
      active: body.active,
      created_by: user,
      created_at: now.toISOString(),
    };
    await this.db.update((d) => {
      d.exceptions.push(e);
    });
    return e;
  }

  async update(id: string, input: UpdateExceptionInput, user: string): Promise<PackageException> {
    const change = UpdateException.parse(input);
    const now = this.now();
    const current = this.get(id);
    const next: PackageException = {
      ...current,
      ...(change.package !== undefined ? { package: change.package } : {}),
      ...(change.reason !== undefined ? { reason: change.reason } : {}),
      ...(change.active !== undefined ? { active: change.active } : {}),
      ...(change.expires_at !== undefined ? { expires_at: normaliseExpiry(change.expires_at, now) } : {}),
      updated_by: user,
      updated_at: now.toISOString(),
    };
    await this.db.update((d) => {
      const i = d.exceptions.findIndex((x) => x.id === id);
      if (i >= 0) d.exceptions[i] = next;
    });
    return next;
  }

  async remove(id: string): Promise<PackageException> {
    const e = this.get(id);
    await this.db.update((d) => {
      d.exceptions = d.exceptions.filter((x) => x.id !== id);
    });
    return e;
  }
}
