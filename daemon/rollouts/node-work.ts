/**
 * Cluster mode: what a node did with the rollout guests the leader handed it, in
 * `<cluster_dir>/nodes/<node>/pvepatch/rollout-work.json`. Only that node's daemon writes it (so it
 * needs no lock); the leader reads every node's file to learn the outcomes. An entry is written
 * *before* the node starts the guest's run, so a guest is never started twice for one hand-over,
 * also when the daemon dies in between.
 */
import { join } from 'node:path';
import { readSharedJson, writeSharedJson } from '../cluster/shared-file.js';
import type { GuestOutcome } from '../store/state.js';

export interface WorkEntry {
  state: 'accepted' | 'running' | 'done';
  run_id?: string;
  outcome?: GuestOutcome;
  reason?: string;
  at: string;
}

interface WorkFile {
  version: 1;
  entries: Record<string, WorkEntry>;
}

/** Entries kept (the oldest go first; a rollout's guests are settled long before). */
const KEEP = 2000;

/** The key of one hand-over: rollout, guest and the leader's attempt number. */
export function workKey(rollout: string, vmid: number, attempt: number): string {
  return `${rollout}/${vmid}/${attempt}`;
}

export function workPath(clusterDir: string, node: string): string {
  return join(clusterDir, 'nodes', node, 'pvepatch', 'rollout-work.json');
}

/** Another node's file as it is now (empty when missing or unreadable: nothing done there yet). */
export async function readWork(clusterDir: string, node: string): Promise<Record<string, WorkEntry>> {
  try {
    const f = (await readSharedJson(workPath(clusterDir, node), { clusterDir })) as WorkFile | undefined;
    return f && typeof f.entries === 'object' && f.entries !== null ? f.entries : {};
  } catch {
    return {};
  }
}

/** This node's own file: kept in memory, written whole after each change. */
export class NodeWork {
  private entries: Record<string, WorkEntry> = {};
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly clusterDir: string,
    private readonly node: string,
  ) {}

  async load(): Promise<void> {
    this.entries = await readWork(this.clusterDir, this.node);
  }

  get(key: string): WorkEntry | undefined {
    return this.entries[key];
  }

  all(): [string, WorkEntry][] {
    return Object.entries(this.entries);
  }

  /** Sets (or with undefined removes) entries and writes the file; resolves once written. */
  set(changes: Record<string, WorkEntry | undefined>): Promise<void> {
    for (const [k, v] of Object.entries(changes)) {
      if (v) this.entries[k] = v;
      else delete this.entries[k];
    }
    const keys = Object.keys(this.entries);
    for (const k of keys.slice(0, Math.max(0, keys.length - KEEP))) delete this.entries[k];
    const snapshot: WorkFile = { version: 1, entries: { ...this.entries } };
    const next = this.queue.then(() =>
      writeSharedJson(workPath(this.clusterDir, this.node), snapshot, { clusterDir: this.clusterDir }),
    );
    this.queue = next.catch(() => undefined);
    return next;
  }
}
