/**
 * Plays pveproxy after `pvepatch ui install`: an HTTPS front for the kit that serves its pages with
 * the panel's <script> line exactly as daemon/ui-install writes it into index.html.tpl (with the
 * daemon's port), and passes everything else through. A real server, so Chromium sees the page come
 * from 127.0.0.1 (a page fulfilled through DevTools has no address and counts as public, which
 * Chromium's local network access rules then refuse to call a loopback API from).
 */
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { scriptElement, withScript } from '../../daemon/ui-install/template.js';

export interface InstalledPage {
  url: string;
  /** The port the next rendered page's line names. */
  setApiPort(port: number): void;
  close(): Promise<void>;
}

export async function startInstalledPage(opts: {
  kitUrl: string;
  kitCa: string;
  cert: string;
  key: string;
  version: string;
  apiPort: number;
}): Promise<InstalledPage> {
  let apiPort = opts.apiPort;
  const kit = new URL(opts.kitUrl);
  const server: Server = createServer({ cert: opts.cert, key: opts.key }, (req, res) => {
    const index = req.method === 'GET' && (req.url === '/' || req.url?.startsWith('/?'));
    const headers = { ...req.headers, host: kit.host };
    if (index) delete headers['accept-encoding'];
    const upstream = httpsRequest(
      { hostname: kit.hostname, port: kit.port, path: req.url, method: req.method, headers, ca: opts.kitCa },
      (up) => {
        if (!index || up.statusCode !== 200) {
          res.writeHead(up.statusCode ?? 502, up.statusMessage, up.headers);
          up.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const edited = withScript(
            Buffer.concat(chunks).toString('utf8'),
            scriptElement(opts.version, apiPort),
            'the page',
          );
          const body = 'warning' in edited ? `no anchor: ${edited.warning}` : edited.text;
          const out = { ...up.headers };
          delete out['content-length'];
          res.writeHead(up.statusCode ?? 200, up.statusMessage, out);
          res.end(body);
        });
      },
    );
    upstream.on('error', (err) => {
      res.writeHead(502, `kit unreachable - ${err.message}`);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    setApiPort: (p) => {
      apiPort = p;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}
