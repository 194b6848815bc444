/**
 * A package exception: a package (name or glob) kept back on a guest, on every guest with a tag or
 * in a pool, with the reason an admin gave and optionally until when. Every plan and run leaves the
 * matching pending updates alone and says which exception did it.
 */
export interface PackageException {
  id: string;
  /** `<vmid>`, `tag:<tag>` or `pool:<pool>`. */
  target: string;
  /** A package name or a glob (`*`, `?`). */
  package: string;
  reason: string;
  /** ISO time after which the exception no longer applies (kept and listed as expired). */
  expires_at: string | null;
  active: boolean;
  created_by: string;
  created_at: string;
  updated_by?: string;
  updated_at?: string;
}

export type ExceptionState = 'active' | 'inactive' | 'expired';

/** A pending update a plan or run left alone because of an exception. */
export interface ExceptedPackage {
  package: string;
  current_version: string | null;
  new_version: string;
  exception: string;
  reason: string;
  expires_at: string | null;
}
