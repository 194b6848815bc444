import { randomInt } from 'node:crypto';
import { PvepatchError } from './errors.js';

/**
 * A self-describing run id, shaped like a Proxmox UPID:
 * `PVEPATCH:<node>:<start %08X>:<nonce %04X>:<type>:<vmid or empty>:<trigger>:<user>:`
 */
export interface RunIdParts {
  node: string;
  start: number; // unix seconds
  nonce: number;
  type: 'run' | 'dryrun';
  /** The guest when the run covers exactly one, else ''. */
  vmid: string;
  trigger: 'cli' | 'api' | 'schedule';
  user: string;
}

const RUN_ID =
  /^PVEPATCH:([A-Za-z0-9.-]+):([0-9A-F]{8}):([0-9A-F]{4}):(run|dryrun):(\d*):(cli|api|schedule):([^:\s]+):$/;

export function formatRunId(p: RunIdParts): string {
  const hex = (n: number, w: number) => n.toString(16).toUpperCase().padStart(w, '0');
  return `PVEPATCH:${p.node}:${hex(p.start, 8)}:${hex(p.nonce, 4)}:${p.type}:${p.vmid}:${p.trigger}:${p.user}:`;
}

export function parseRunId(id: string): RunIdParts {
  const m = RUN_ID.exec(id);
  if (!m) throw new PvepatchError('input-invalid', `invalid run id '${id}' - see 'pvepatch runs' for ids`);
  return {
    node: m[1]!,
    start: Number.parseInt(m[2]!, 16),
    nonce: Number.parseInt(m[3]!, 16),
    type: m[4] as RunIdParts['type'],
    vmid: m[5]!,
    trigger: m[6] as RunIdParts['trigger'],
    user: m[7]!,
  };
}

export function newRunId(p: Omit<RunIdParts, 'start' | 'nonce'>, now = new Date()): string {
  return formatRunId({ ...p, start: Math.floor(now.getTime() / 1000), nonce: randomInt(0, 0x10000) });
}
