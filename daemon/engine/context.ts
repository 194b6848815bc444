import type { Driver, DriverContext, PendingUpdate } from '../drivers/types.js';
import type { Transport } from '../transports/types.js';
import type { EngineServices, GuestResult, Target } from './types.js';

/** Everything the stages of one guest share. */
export interface GuestContext {
  svc: EngineServices;
  target: Target;
  runId: string;
  dryRun: boolean;
  securityOnly: boolean;
  exclude: string[];
  log: (line: string) => void;
  result: GuestResult;
  transport?: Transport;
  driver?: Driver;
  driverCtx?: DriverContext;
  updates?: PendingUpdate[];
  /** os-release PRETTY_NAME (or ID) once the guest was entered. */
  os?: string;
}

export type StageResult =
  | { status: 'done' }
  | { status: 'skipped'; reason: string }
  /** Stop this guest here with a final outcome (not an error: e.g. nothing to update). */
  | { status: 'halt'; outcome: GuestResult['outcome']; reason: string };

/** One step of a guest's run. Failures are thrown PvepatchErrors. */
export interface Stage {
  readonly name: string;
  run(ctx: GuestContext): Promise<StageResult>;
}

export const done: StageResult = { status: 'done' };
