/**
 * The API in a cluster: each node's daemon patches only the guests its node hosts, so a request
 * about another node's guests or runs goes to that node's daemon over its HTTPS API with the
 * caller's own credentials (as pveproxy proxies `/nodes/<other>/…`), and Proxmox privileges there
 * still decide. A node without a running daemon shows as such: its guests are marked unreachable,
 * or, with `cluster_ssh` on, are served here (planned, patched and listed by this node, which
 * enters their containers through the cluster's SSH: transports/cluster-ssh).
 * A request another daemon forwarded (X-Pvepatch-Forwarded-By) is always served here, never again
 * forwarded.
 */
import type { NextFunction, Request, Response, Router } from 'express';
import { FORWARDED_BY, type PeerAnswer, type PeerClient } from '../cluster/peer-client.js';
import type { ForwardAuth, Peer } from '../cluster/types.js';
import { errorMessage, PvepatchError } from '../core/errors.js';
import { parseRunId } from '../core/run-id.js';
import type { Authorize, Engine } from '../engine/engine.js';
import { emptyPlan } from '../engine/plan.js';
import { resolveTargets } from '../engine/targets.js';
import type { EngineServices, GuestPlan, PlanRequest, Target } from '../engine/types.js';
import { type Guest, listGuests } from '../proxmox/inventory.js';
import { parseSelector, selectInOrder } from '../proxmox/selectors.js';
import type { RunRow } from '../store/runs.js';
import type { Access } from './app.js';

/** What the API needs to know about the cluster (the daemon's ClusterService provides it). */
export interface ClusterRouting {
  /** This node. */
  node: string;
  /** The OTHER nodes of the cluster, with whether a pvepatch daemon runs there. */
  peers(): Promise<Peer[]>;
  /** How this request is passed on: the HTTPS caller's credentials, or the daemon's token for root on the socket. */
  forwardAuth(req: Request, res: Response): ForwardAuth;
  client: PeerClient;
}

/** A plan answer's entry for a guest whose node's daemon could not be asked. */
export type PlanEntry = GuestPlan & { unreachable?: string };

/** How one kind of guest list (`/fleet`, `/guests`) is gathered over the nodes. */
export interface NodeRows<R extends { vmid: number }> {
  /** The peers' route (`/fleet`), asked with `?selector=` restricted to the peer's node. */
  path: string;
  /** This node's rows for a selector. */
  local(selector: string[]): Promise<R[]>;
  /** The row of a guest whose node's daemon cannot be asked, and why. */
  down(target: Target, reason: string): R;
}

export interface ClusterHooks {
  /** Whether another daemon forwarded this request (it is served here, never forwarded again). */
  forwarded(req: Request): boolean;
  /** A run's routes forward to the node its id names. Register before the local routes. */
  registerRunRoutes(r: Router): void;
  /** POST /plan over other nodes' guests; false: serve it here. */
  plan(req: Request, res: Response, body: PlanRequest): Promise<boolean>;
  /**
   * GET /runs over the cluster: a guest's history from the node that hosts it; the list merged
   * from every node (newest first). False: serve it here.
   */
  runList(
    req: Request,
    res: Response,
    q: { start: number; limit: number; vmid?: number | undefined },
  ): Promise<boolean>;
  /** POST /runs of another node's guests (forwarded), or a refusal over several nodes; false: serve it here. */
  run(req: Request, res: Response, body: PlanRequest): Promise<boolean>;
  /** This node's rows and those of the other nodes hosting selected guests, in the selector's order. */
  rows<R extends { vmid: number }>(req: Request, res: Response, selector: string[], spec: NodeRows<R>): Promise<R[]>;
}

export interface ClusterRoutesDeps {
  cluster: ClusterRouting;
  engine: Engine;
  svc: EngineServices;
  access: Access;
}

/** How long one cluster guest listing serves the routing decisions (a page polls every few seconds). */
const INVENTORY_MS = 2000;
/** Longest selector word sent to a peer (its API allows 200 characters a word). */
const WORD_CHARS = 180;

/** Explicit ids as few selector words as fit (`101,102,…`), so a big node stays under the API's limits. */
export function idWords(vmids: readonly number[]): string[] {
  const words: string[] = [];
  let cur = '';
  for (const id of vmids) {
    const s = String(id);
    if (cur && cur.length + 1 + s.length > WORD_CHARS) {
      words.push(cur);
      cur = '';
    }
    cur = cur ? `${cur},${s}` : s;
  }
  if (cur) words.push(cur);
  return words;
}

/** A peer to forward to, or the reason there is none. */
function reachablePeer(peer: Peer | undefined, node: string): Peer | string {
  if (!peer) return `no pvepatch daemon known on node '${node}' - install and start pvepatchd there`;
  if (!peer.alive) return peer.reason ?? `no pvepatch daemon running on node '${node}'`;
  return peer;
}

/**
 * cluster_ssh: a node without a running pvepatch daemon has its guests served by this one (its
 * containers through the cluster's SSH); an alive daemon is still asked.
 */
function servedHere(svc: EngineServices, peer: Peer | undefined): boolean {
  return svc.config.cluster_ssh && !peer?.alive;
}

/** Per node, the guests of `targets` a run would patch there. */
function nodesOf(targets: readonly Target[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const t of targets) {
    if (!patchable(t.guest)) continue;
    const ids = m.get(t.guest.node) ?? [];
    ids.push(t.guest.vmid);
    m.set(t.guest.node, ids);
  }
  return m;
}

/**
 * Plans the targets on the nodes that host them: this node's own and the skipped ones here, the
 * others by their daemons (with `auth`); a node that cannot be asked gives unreachable entries.
 * The answer is in the targets' order.
 */
async function planOnNodes(p: {
  cluster: ClusterRouting;
  engine: Engine;
  svc: EngineServices;
  targets: Target[];
  nodes: Map<string, number[]>;
  body: PlanRequest;
  authorizeHere: Authorize;
  auth: () => ForwardAuth;
}): Promise<PlanEntry[]> {
  const { cluster, engine, svc, targets, nodes, body, authorizeHere, auth } = p;
  const peers = await cluster.peers();
  const peerOf = async (node: string): Promise<Peer | undefined> => peers.find((x) => x.node === node);
  // nodes served here (cluster_ssh) plan with this node's own guests
  const others = [...nodes.keys()].filter(
    (n) =>
      n !== cluster.node &&
      !servedHere(
        svc,
        peers.find((x) => x.node === n),
      ),
  );
  const remote = new Set(others.flatMap((n) => nodes.get(n)!));
  const here = targets.filter((t) => !remote.has(t.guest.vmid));
  const byVmid = new Map(targets.map((t) => [t.guest.vmid, t]));
  const down = (vmids: readonly number[], reason: string): PlanEntry[] =>
    vmids.flatMap((v) => {
      const t = byVmid.get(v);
      return t ? [unreachablePlan(svc, t, body, reason)] : [];
    });
  const parts: Promise<PlanEntry[]>[] = [];
  if (here.length > 0) {
    const ids = here.map((t) => t.guest.vmid);
    parts.push(
      engine.plan({ ...body, selector: idWords(ids) }, authorizeHere).catch((err) => down(ids, errorMessage(err))),
    );
  }
  for (const node of others) {
    const ids = nodes.get(node)!;
    parts.push(
      (async (): Promise<PlanEntry[]> => {
        const peer = reachablePeer(await peerOf(node), node);
        if (typeof peer === 'string') return down(ids, peer);
        try {
          const a = await cluster.client.request(
            peer,
            { method: 'POST', path: '/plan', body: { ...body, selector: idWords(ids) } },
            auth(),
          );
          const data = (a.body as { data?: unknown } | null)?.data;
          if (a.status !== 200 || !Array.isArray(data)) return down(ids, `node '${node}': ${answerError(a)}`);
          return data as PlanEntry[];
        } catch (err) {
          return down(ids, errorMessage(err));
        }
      })(),
    );
  }
  const order = new Map(targets.map((t, i) => [t.guest.vmid, i]));
  const plans = dedupe((await Promise.all(parts)).flat());
  plans.sort((a, b) => (order.get(a.vmid) ?? order.size) - (order.get(b.vmid) ?? order.size) || a.vmid - b.vmid);
  return plans;
}

/**
 * A whole-cluster plan for the daemon itself (report and approval schedules): every selected
 * guest, each planned by its node's daemon with this daemon's token.
 */
export function clusterPlanner(
  deps: Pick<ClusterRoutesDeps, 'cluster' | 'engine' | 'svc'>,
  auth: () => ForwardAuth,
): (body: PlanRequest) => Promise<GuestPlan[]> {
  return async (body) => {
    const targets = await resolveTargets(deps.svc, body.selector);
    return planOnNodes({ ...deps, targets, nodes: nodesOf(targets), body, authorizeHere: (t) => t, auth });
  };
}

/** A guest a run would patch (the others are skipped wherever they are, with their reason). */
const patchable = (g: Guest) => g.status === 'running' && !g.template;

const answerError = (a: PeerAnswer): string => {
  const e = (a.body as { error?: { message?: unknown } } | null)?.error;
  return typeof e?.message === 'string' ? e.message : `HTTP ${a.status}`;
};

export function clusterHooks(deps: ClusterRoutesDeps): ClusterHooks {
  const { cluster, engine, svc, access } = deps;
  let inventory: { at: number; guests: Promise<Guest[]> } | undefined;
  const guests = (): Promise<Guest[]> => {
    const now = Date.now();
    if (!inventory || now - inventory.at >= INVENTORY_MS) {
      const listed = listGuests(svc.client);
      inventory = { at: now, guests: listed };
      listed.catch(() => {
        if (inventory?.guests === listed) inventory = undefined;
      });
    }
    return inventory.guests;
  };
  const forwarded = (req: Request) => req.get(FORWARDED_BY) !== undefined;
  const peerOf = async (node: string): Promise<Peer | undefined> =>
    (await cluster.peers()).find((p) => p.node === node);
  const send = (res: Response, a: PeerAnswer) => {
    res.status(a.status).json(a.body);
  };
  /** The visible selected targets (caller's VM.Audit), in the inventory's order. */
  const selected = async (req: Request, res: Response, selector: string[], list: Guest[]) =>
    access.visible(req, res, await resolveTargets(svc, selector, {}, async () => list));

  const forwardRun =
    (method: 'GET' | 'POST', suffix: string) => async (req: Request, res: Response, next: NextFunction) => {
      if (forwarded(req)) return next();
      const id = String(req.params.id);
      let node: string;
      try {
        node = parseRunId(id).node;
      } catch {
        return next(); // not a run id: the local route says so
      }
      // this node's, or one it keeps from before (a node renamed): served here
      if (node === cluster.node || engine.getRun(id)) return next();
      const peer = reachablePeer(await peerOf(node), node);
      if (typeof peer === 'string') {
        const known = (await cluster.peers()).some((p) => p.node === node);
        if (!known)
          throw new PvepatchError(
            'not-found',
            `no run '${id}' - it was started on node '${node}', which is not a node of this cluster`,
          );
        throw new PvepatchError('daemon-unavailable', `unable to ask node '${node}' about run '${id}' - ${peer}`);
      }
      const path = `/runs/${encodeURIComponent(id)}${suffix}`;
      const auth = cluster.forwardAuth(req, res);
      if (suffix === '/events') {
        const lastId = req.get('last-event-id');
        await cluster.client.pipe(
          peer,
          { method: 'GET', path, ...(lastId ? { headers: { 'last-event-id': lastId } } : {}) },
          res,
          auth,
        );
        return;
      }
      const query: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.query)) if (typeof v === 'string') query[k] = v;
      send(res, await cluster.client.request(peer, { method, path, query }, auth));
    };

  return {
    forwarded,

    registerRunRoutes(r) {
      r.get('/runs/:id', forwardRun('GET', ''));
      r.get('/runs/:id/events', forwardRun('GET', '/events'));
      r.get('/runs/:id/log', forwardRun('GET', '/log'));
      r.get('/runs/:id/report', forwardRun('GET', '/report'));
      r.post('/runs/:id/cancel', forwardRun('POST', '/cancel'));
    },

    async plan(req, res, body) {
      if (forwarded(req)) return false;
      const list = await guests();
      const targets = await selected(req, res, body.selector, list);
      const nodes = nodesOf(targets);
      const others = [...nodes.keys()].filter((n) => n !== cluster.node);
      if (others.length === 0) return false;
      const auth = () => cluster.forwardAuth(req, res);
      if (others.length === 1 && !nodes.has(cluster.node)) {
        // every guest to patch is on one other node: its daemon answers the whole request
        const node = others[0]!;
        const known = await peerOf(node);
        if (servedHere(svc, known)) return false;
        const peer = reachablePeer(known, node);
        if (typeof peer === 'string')
          throw new PvepatchError('daemon-unavailable', `unable to plan the guests on node '${node}' - ${peer}`);
        send(res, await cluster.client.request(peer, { method: 'POST', path: '/plan', body }, auth()));
        return true;
      }
      // several nodes: each plans its own guests; this one also the guests skipped anywhere
      const plans = await planOnNodes({
        ...deps,
        targets,
        nodes,
        body,
        authorizeHere: access.authorize(req, res, 'plan'),
        auth,
      });
      res.json({ data: plans });
      return true;
    },

    async runList(req, res, q) {
      if (forwarded(req)) return false;
      const auth = () => cluster.forwardAuth(req, res);
      if (q.vmid !== undefined) {
        const node = (await guests()).find((g) => g.vmid === q.vmid)?.node;
        if (!node || node === cluster.node) return false;
        const peer = reachablePeer(await peerOf(node), node);
        if (typeof peer === 'string') return false; // its runs here, if any
        const query = { start: String(q.start), limit: String(q.limit), vmid: String(q.vmid) };
        send(res, await cluster.client.request(peer, { method: 'GET', path: '/runs', query }, auth()));
        return true;
      }
      // each node's newest start+limit runs, merged: the page is right whatever node they ran on
      const want = { start: '0', limit: String(q.start + q.limit) };
      const mine = engine.listRuns(0, q.start + q.limit);
      let total = mine.total;
      const rows = [...mine.rows];
      const down: string[] = [];
      for (const peer of (await cluster.peers()).filter((p) => p.alive)) {
        try {
          const a = await cluster.client.request(peer, { method: 'GET', path: '/runs', query: want }, auth());
          const body = a.body as { data?: unknown; total?: unknown } | null;
          if (a.status !== 200 || !Array.isArray(body?.data)) throw new Error(answerError(a));
          rows.push(...(body.data as RunRow[]));
          total += typeof body.total === 'number' ? body.total : body.data.length;
        } catch (err) {
          down.push(`${peer.node}: ${errorMessage(err)}`);
        }
      }
      rows.sort((a, b) => b.started_at.localeCompare(a.started_at));
      res.json({
        data: rows.slice(q.start, q.start + q.limit),
        total,
        ...(down.length ? { incomplete: `runs of some nodes are missing - ${down.join('; ')}` } : {}),
      });
      return true;
    },

    async run(req, res, body) {
      if (forwarded(req)) return false;
      let selector = body.selector;
      if (selector.length === 0 && body.plan && svc.plans) {
        try {
          selector = idWords(svc.plans.get(body.plan).guests.map((g) => g.vmid));
        } catch {
          return false; // the local route says what is wrong with the plan
        }
      }
      if (selector.length === 0) return false;
      const targets = await selected(req, res, selector, await guests());
      const peers = await cluster.peers();
      // the daemon each node's guests are patched by: this one for a node served here (cluster_ssh)
      const runner = (n: string) =>
        n === cluster.node ||
        servedHere(
          svc,
          peers.find((p) => p.node === n),
        )
          ? cluster.node
          : n;
      const nodes = [...nodesOf(targets).keys()].sort();
      const daemons = new Set(nodes.map(runner));
      if (daemons.size === 0 || (daemons.size === 1 && daemons.has(cluster.node))) return false;
      if (daemons.size > 1)
        throw new PvepatchError(
          'input-invalid',
          `the selected guests run on nodes ${nodes.join(', ')} - a run patches one node's guests; use 'pvepatch rollout start ${selector.join(' ')}' for guests on several nodes`,
        );
      const node = nodes[0]!;
      const peer = reachablePeer(await peerOf(node), node);
      if (typeof peer === 'string')
        throw new PvepatchError('daemon-unavailable', `unable to patch the guests on node '${node}' - ${peer}`);
      send(
        res,
        await cluster.client.request(peer, { method: 'POST', path: '/runs', body }, cluster.forwardAuth(req, res)),
      );
      return true;
    },

    async rows<R extends { vmid: number }>(
      req: Request,
      res: Response,
      selector: string[],
      spec: NodeRows<R>,
    ): Promise<R[]> {
      if (forwarded(req)) return spec.local(selector);
      const list = await guests();
      const picked = selectInOrder(parseSelector(selector), list);
      const others = [...new Set(picked.map((g) => g.node))].filter((n) => n !== cluster.node);
      if (others.length === 0) return spec.local(selector);
      const allNodes = [...new Set([cluster.node, ...list.map((g) => g.node)])];
      // the selector AND node:<node>: every other node excluded
      const only = (node: string) => [...selector, ...allNodes.filter((n) => n !== node).map((n) => `-node:${n}`)];
      const auth = cluster.forwardAuth(req, res);
      const down = async (node: string, reason: string) =>
        (await selected(req, res, only(node), list)).map((t) => spec.down(t, reason));
      const parts = await Promise.all([
        spec.local(only(cluster.node)),
        ...others.map(async (node) => {
          const known = await peerOf(node);
          if (servedHere(svc, known)) return spec.local(only(node));
          const peer = reachablePeer(known, node);
          if (typeof peer === 'string') return down(node, peer);
          try {
            const a = await cluster.client.request(
              peer,
              { method: 'GET', path: spec.path, query: { selector: only(node) } },
              auth,
            );
            const data = (a.body as { data?: unknown } | null)?.data;
            if (a.status !== 200 || !Array.isArray(data)) return down(node, `node '${node}': ${answerError(a)}`);
            return data as R[];
          } catch (err) {
            return down(node, errorMessage(err));
          }
        }),
      ]);
      const order = new Map(picked.map((g, i) => [g.vmid, i]));
      const rows = dedupe(parts.flat());
      return rows.sort(
        (a, b) => (order.get(a.vmid) ?? order.size) - (order.get(b.vmid) ?? order.size) || a.vmid - b.vmid,
      );
    },
  };
}

/** One entry per guest (a guest migrating while asked may show on two nodes): the first wins. */
function dedupe<R extends { vmid: number }>(rows: R[]): R[] {
  const seen = new Set<number>();
  return rows.filter((r) => {
    if (seen.has(r.vmid)) return false;
    seen.add(r.vmid);
    return true;
  });
}

/** The plan entry of a guest whose node's daemon could not make its plan. */
function unreachablePlan(svc: EngineServices, t: Target, body: PlanRequest, reason: string): PlanEntry {
  const opts = { dryRun: body.dry_run ?? false, securityOnly: body.security_only ?? false };
  return { ...emptyPlan(svc, { ...t, transport: null, skip_reason: reason }, opts), unreachable: reason };
}
