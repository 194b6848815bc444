/**
 * What a browser may do with the HTTPS API: CORS only for the Proxmox web UI's own origins (every
 * cluster node's name on :8006, and the admin's extra origins), credentials only for those; security
 * headers on every answer.
 */
import type { NextFunction, Request, Response } from 'express';

/** `https://<node>:8006` for every node name (and FQDN the admin adds), plus `extra` as given. */
export function allowedOrigins(nodes: readonly string[], extra: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const n of nodes) out.add(`https://${n.toLowerCase()}:8006`);
  for (const e of extra) {
    let o = e;
    while (o.endsWith('/')) o = o.slice(0, -1);
    if (o) out.add(o.toLowerCase());
  }
  return out;
}

/** The headers the panel sends: its ticket rides in the cookie, its CSRF token in a header. */
const ALLOW_HEADERS = 'CSRFPreventionToken, Content-Type, Authorization';
const ALLOW_METHODS = 'GET, POST, PUT, DELETE';

/**
 * Echoes an allowed Origin with credentials; any other origin gets no CORS header at all (the
 * browser then refuses to hand the answer to that page). Preflights are answered here.
 */
export function cors(origins: () => ReadonlySet<string>) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.get('origin');
    res.vary('Origin');
    const allowed = origin !== undefined && origins().has(origin.toLowerCase());
    if (allowed) {
      res.set('Access-Control-Allow-Origin', origin);
      res.set('Access-Control-Allow-Credentials', 'true');
    }
    if (req.method === 'OPTIONS') {
      if (allowed) {
        res.set('Access-Control-Allow-Methods', ALLOW_METHODS);
        res.set('Access-Control-Allow-Headers', ALLOW_HEADERS);
        res.set('Access-Control-Max-Age', '600');
      }
      res.status(allowed ? 204 : 403).end();
      return;
    }
    next();
  };
}

/** No sniffing, no framing, no referrer, no caching of answers that carry a user's data. */
export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set({
    'Strict-Transport-Security': 'max-age=31536000',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  });
  next();
}
