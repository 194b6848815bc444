import type { EndpointSchema } from './schema-validate.js';
import type { SimState } from './state.js';

/** What a handler gets: validated parameters (strings), the node the call was proxied to, the caller. */
export interface HandlerContext {
  params: Record<string, string>;
  /** Array parameters (`command` of agent/exec), each item as a string. */
  lists: Record<string, string[]>;
  /** The `proxyto` node with `localhost` resolved; the local node for cluster-level calls. */
  node: string;
  /** `USER@REALM!TOKEN` */
  authid: string;
  state: SimState;
  fingerprint: string;
  /** Result attributes (pve-common RESTEnvironment `set_result_attrib`), e.g. `total`. */
  attribs: { total?: number };
}

export type Handler = (ctx: HandlerContext) => unknown;

interface TreeNode {
  literals: Map<string, TreeNode>;
  variable?: { name: string; child: TreeNode };
  methods: Map<string, EndpointSchema>;
  template?: string;
}

export interface RouteMatch {
  template: string;
  methods: Map<string, EndpointSchema>;
  uriParams: Record<string, string>;
}

const newNode = (): TreeNode => ({ literals: new Map(), methods: new Map() });

/**
 * Path lookup as pve-common `RESTHandler.pm` `map_path_to_methods` does it: empty segments are skipped,
 * a `{name}` segment matches any `\S+` segment, and a level has either one variable or literal names.
 */
export class Router {
  private readonly root = newNode();

  constructor(endpoints: EndpointSchema[]) {
    for (const ep of endpoints) this.add(ep);
  }

  private add(ep: EndpointSchema): void {
    let node = this.root;
    for (const seg of ep.path.split('/').filter(Boolean)) {
      const v = /^\{([\w-]+)\}$/.exec(seg);
      if (v) {
        if (node.literals.size > 0) throw new Error(`sim: ${ep.path} mixes a variable with literal segments`);
        node.variable ??= { name: v[1]!, child: newNode() };
        node = node.variable.child;
      } else {
        if (node.variable) throw new Error(`sim: ${ep.path} mixes a literal with a variable segment`);
        let next = node.literals.get(seg);
        if (!next) {
          next = newNode();
          node.literals.set(seg, next);
        }
        node = next;
      }
    }
    node.template = ep.path;
    node.methods.set(ep.method, ep);
  }

  /** The endpoint(s) at a path below /api2/json, or undefined when the path is unknown. */
  match(relPath: string): RouteMatch | undefined {
    let node = this.root;
    const uriParams: Record<string, string> = {};
    for (const seg of relPath.split('/').filter(Boolean)) {
      if (node.variable) {
        if (!/^\S+$/.test(seg)) return undefined;
        uriParams[node.variable.name] = seg;
        node = node.variable.child;
        continue;
      }
      const next = node.literals.get(seg);
      if (!next) return undefined;
      node = next;
    }
    if (!node.template) return undefined;
    return { template: node.template, methods: node.methods, uriParams };
  }
}
