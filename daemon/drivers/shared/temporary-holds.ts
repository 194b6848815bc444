import { errorMessage } from '../../core/errors.js';
import type { DriverContext, UpgradeOptions } from '../types.js';

/** How a family applies and removes the holds (apt-mark, zypper locks, …) a run adds. */
export interface HoldOps {
  apply(holds: string[]): Promise<void>;
  release(holds: string[]): Promise<void>;
}

/**
 * Records `holds`, applies them, runs `fn`, then releases exactly those holds and clears the
 * record. When the release fails the record stays, so crash recovery can release them later;
 * the first error wins.
 */
export async function withTemporaryHolds<T>(
  ctx: DriverContext,
  holds: string[],
  record: UpgradeOptions['recordHolds'],
  ops: HoldOps,
  fn: () => Promise<T>,
): Promise<T> {
  if (holds.length === 0) return fn();
  await record?.(holds);
  let outcome: { ok: true; value: T } | { ok: false; error: unknown };
  try {
    await ops.apply(holds);
    outcome = { ok: true, value: await fn() };
  } catch (error) {
    outcome = { ok: false, error };
  }
  try {
    await ops.release(holds);
  } catch (releaseError) {
    if (outcome.ok) throw releaseError;
    ctx.log?.(`warning: ${errorMessage(releaseError)}`);
    throw outcome.error;
  }
  await record?.([]);
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}
