import { createHash } from 'node:crypto';
import type { SimAccess } from './access.js';
import { die, texts } from './errors.js';
import type { HaResourceState } from './ha.js';
import { TaskStore } from './tasks.js';
import type {
  AgentBackend,
  AgentExecResult,
  AgentProcess,
  GuestType,
  PowerBackend,
  SimGuest,
  SimGuestView,
  SimSnapshot,
  SnapshotBackend,
} from './types.js';

/** What a snapshot saves of the guest and a rollback puts back. */
export interface SavedConfig {
  name: string;
  tags: string[];
  ostype: string | undefined;
  config: Record<string, string | number>;
}

export interface SnapshotState extends SimSnapshot {
  saved: SavedConfig;
}

/** A guest with everything the simulator tracks for it. */
export interface GuestState {
  vmid: number;
  type: GuestType;
  node: string;
  name: string;
  status: 'running' | 'stopped';
  template: boolean;
  tags: string[];
  pool?: string;
  ostype?: string;
  lock?: string;
  config: Record<string, string | number>;
  snapshots: Map<string, SnapshotState>;
  parent?: string;
  /** Date.now() of the last start, for uptime. */
  startedAt: number;
  /** Config changes of a running qemu VM that apply at its next start (qemu-server's `[PENDING]` section). */
  pending: Record<string, string>;
  /** Keys a pending `delete` removes at the next start. */
  pendingDelete: Set<string>;
}

/** One `guest-exec` process as qemu-ga keeps it until exec-status has reported it exited. */
export interface AgentExecRecord {
  proc: AgentProcess;
  result?: AgentExecResult;
}

/** The agent of one VM as the scenario controls left it. */
export interface AgentState {
  hung: boolean;
  /** Date.now() before which the agent (restarting) answers nothing. */
  downUntil: number;
  rebootNeverReturns: boolean;
  execs: Map<number, AgentExecRecord>;
}

const noopBackend: SnapshotBackend = {
  create: async () => {},
  rollback: async () => {},
  remove: async () => {},
};

/** The simulated cluster: nodes, guests, tasks, and the knobs tests turn. */
export class SimState {
  readonly guests = new Map<number, GuestState>();
  readonly tasks = new TaskStore();
  /** vmid → text that later snapshot-create tasks fail with. */
  readonly snapshotFailures = new Map<number, string>();
  readonly backend: SnapshotBackend;
  agentBackend: AgentBackend | undefined;
  powerBackend: PowerBackend | undefined;
  agentTimeoutMs = 100;
  agentMaxOutput = 16 * 1024 * 1024;
  agentBootDelayMs = 0;
  vzdumpDurationMs = 200;
  /** The nodes' subscription (`GET /nodes/{node}/subscription`). */
  subscription: 'active' | 'notfound' = 'active';
  /** Node addresses given in SimOptions.nodeIps (`/cluster/status` `ip`). */
  nodeIps: Record<string, string> = {};
  /** Whether the cluster has quorum (`/cluster/status`); without it every write fails as pmxcfs would. */
  quorate = true;
  /** HA resources by sid (`vm:100`, `ct:101`): `resources.cfg` and the CRM's state (ha.ts). */
  readonly ha = new Map<string, HaResourceState>();
  /** Users, tokens, ACLs, tickets (set by startSim). */
  access!: SimAccess;
  private readonly agents = new Map<number, AgentState>();
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  closed = false;

  constructor(
    readonly nodes: string[],
    guests: SimGuest[],
    backend: SnapshotBackend | undefined,
    readonly taskDelayMs: number,
  ) {
    this.backend = backend ?? noopBackend;
    for (const g of guests) {
      if (this.guests.has(g.vmid)) throw new Error(`sim: duplicate vmid ${g.vmid}`);
      if (!nodes.includes(g.node)) throw new Error(`sim: guest ${g.vmid} is on unknown node '${g.node}'`);
      this.guests.set(g.vmid, toState(g));
    }
  }

  /** The local node (the one the API is reached on) stands in for `localhost`, as PVE's proxy does. */
  resolveNode(node: string): string | undefined {
    if (node === 'localhost') return this.nodes[0];
    return this.nodes.includes(node) ? node : undefined;
  }

  /** AbstractConfig `load_config` on `node`: the guest's config, or PVE's "does not exist". */
  loadGuest(node: string, type: GuestType, vmid: number): GuestState {
    const g = this.guests.get(vmid);
    if (!g || g.node !== node || g.type !== type) die(texts.configMissing(node, type, vmid));
    return g;
  }

  agent(vmid: number): AgentState {
    let a = this.agents.get(vmid);
    if (!a) {
      a = { hung: false, downUntil: 0, rebootNeverReturns: false, execs: new Map() };
      this.agents.set(vmid, a);
    }
    return a;
  }

  guest(vmid: number): GuestState {
    const g = this.guests.get(vmid);
    if (!g) throw new Error(`sim: no guest ${vmid}`);
    return g;
  }

  /** A delay that close() cuts short, so no timer outlives the simulator. */
  sleep(ms: number): Promise<void> {
    if (this.closed || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        resolve,
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve();
        }, ms),
      };
      this.timers.add(entry);
    });
  }

  close(): void {
    this.closed = true;
    for (const entry of this.timers) {
      clearTimeout(entry.timer);
      entry.resolve();
    }
    this.timers.clear();
  }
}

function toState(g: SimGuest): GuestState {
  const state: GuestState = {
    vmid: g.vmid,
    type: g.type,
    node: g.node,
    name: g.name,
    status: g.status,
    template: g.template ?? false,
    tags: [...(g.tags ?? [])],
    config: { ...(g.config ?? {}) },
    snapshots: new Map(),
    startedAt: Date.now(),
    pending: {},
    pendingDelete: new Set(),
  };
  if (g.pool !== undefined) state.pool = g.pool;
  if (g.ostype !== undefined) state.ostype = g.ostype;
  if (g.lock !== undefined) state.lock = g.lock;
  return state;
}

/** A (re)start: running, uptime from now, pending qemu config applied (`vmconfig_apply_pending`). */
export function bootGuest(g: GuestState): void {
  g.status = 'running';
  g.startedAt = Date.now();
  for (const key of g.pendingDelete) delete g.config[key];
  for (const [key, value] of Object.entries(g.pending)) {
    if (key === 'name') g.name = value;
    else if (key === 'tags') g.tags = value.split(/[;,\s]+/).filter(Boolean);
    else g.config[key] = value;
  }
  g.pending = {};
  g.pendingDelete.clear();
}

/** setGuest(): a key present with `undefined` clears an optional field (`{lock: undefined}`). */
export function patchGuest(g: GuestState, patch: Partial<SimGuest>): void {
  if ('vmid' in patch && patch.vmid !== g.vmid) throw new Error('sim: setGuest cannot change the vmid');
  if (patch.type) g.type = patch.type;
  if (patch.node) g.node = patch.node;
  if (patch.name !== undefined) g.name = patch.name;
  if (patch.status && patch.status !== g.status) {
    if (patch.status === 'running') bootGuest(g);
    else {
      g.status = patch.status;
      g.startedAt = Date.now();
    }
  }
  if (patch.template !== undefined) g.template = patch.template;
  if (patch.tags !== undefined) g.tags = [...patch.tags];
  if (patch.config !== undefined) g.config = { ...patch.config };
  for (const key of ['pool', 'ostype', 'lock'] as const) {
    if (!(key in patch)) continue;
    const value = patch[key];
    if (value === undefined) delete g[key];
    else g[key] = value;
  }
}

export function guestView(g: GuestState): SimGuestView {
  const view: SimGuestView = {
    vmid: g.vmid,
    type: g.type,
    node: g.node,
    name: g.name,
    status: g.status,
    template: g.template,
    tags: [...g.tags],
    config: { ...g.config },
    snapshots: [...g.snapshots.values()].map(({ saved: _saved, ...snap }) => ({ ...snap })),
  };
  if (g.pool !== undefined) view.pool = g.pool;
  if (g.ostype !== undefined) view.ostype = g.ostype;
  if (g.lock !== undefined) view.lock = g.lock;
  if (g.parent !== undefined) view.parent = g.parent;
  return view;
}

export function saveConfig(g: GuestState): SavedConfig {
  return { name: g.name, tags: [...g.tags], ostype: g.ostype, config: { ...g.config } };
}

export function applySaved(g: GuestState, saved: SavedConfig): void {
  g.name = saved.name;
  g.tags = [...saved.tags];
  g.config = { ...saved.config };
  if (saved.ostype === undefined) delete g.ostype;
  else g.ostype = saved.ostype;
}

/** The config digest PVE returns: a SHA-1 over the whole config; here over everything that would be in it. */
export function configDigest(g: GuestState): string {
  const snaps = [...g.snapshots.values()].map(({ saved, ...s }) => [s, saved]);
  const text = JSON.stringify([g.name, g.tags, g.ostype, g.lock, g.template, g.parent, g.config, snaps]);
  return createHash('sha1').update(text).digest('hex');
}
