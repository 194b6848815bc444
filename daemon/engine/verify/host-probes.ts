/**
 * Checks made from the host to the guest's address: a TCP connect and a plain-HTTP GET. Each is
 * bounded by one timer over the whole attempt (name lookup, connect, response head); the socket
 * is always destroyed; the body is never read. Every failure is a result, never a throw.
 *
 * HTTPS is not offered: a check that skipped certificate verification would report "up" for any
 * machine answering on that address, and without a pinned certificate there is nothing to verify
 * a guest's (usually self-signed) certificate against.
 */
import http from 'node:http';
import net from 'node:net';
import { escapeControls } from '../../core/escape.js';
import type { StatusRange } from '../../policy/types.js';

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/** `10.0.0.5:80`, `[fd00::5]:80`. */
export function hostPort(address: string, port: number): string {
  return net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

function netError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return escapeControls(e.code ?? e.message ?? String(err));
}

/** Passes when a TCP connection to address:port is accepted within timeoutMs. */
export function tcpProbe(address: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  const where = hostPort(address, port);
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ ok: false, detail: `no connection to ${where} after ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.once('connect', () => done({ ok: true, detail: `connected to ${where}` }));
    socket.on('error', (err) => done({ ok: false, detail: `unable to connect to ${where} - ${netError(err)}` }));
  });
}

/** Passes when `GET path` on address:port answers with a status in the range within timeoutMs. */
export function httpProbe(
  address: string,
  port: number,
  path: string,
  status: StatusRange,
  timeoutMs: number,
): Promise<ProbeResult> {
  const url = `http://${hostPort(address, port)}${escapeControls(path)}`;
  return new Promise((resolve) => {
    let settled = false;
    const req = http.request({
      host: address,
      port,
      path,
      method: 'GET',
      agent: false,
      headers: { 'user-agent': 'pvepatch-verify', accept: '*/*', connection: 'close' },
    });
    const done = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ ok: false, detail: `no answer from ${url} after ${timeoutMs} ms` }),
      timeoutMs,
    );
    req.once('response', (res) => {
      const code = res.statusCode ?? 0;
      res.on('error', () => {}); // the body is not wanted; cutting it short is no failure
      res.destroy();
      const expected = status.min === status.max ? `${status.min}` : `${status.min}-${status.max}`;
      const ok = code >= status.min && code <= status.max;
      done({ ok, detail: `GET ${url} answered ${code}${ok ? '' : ` (expected ${expected})`}` });
    });
    req.on('error', (err) => done({ ok: false, detail: `unable to GET ${url} - ${netError(err)}` }));
    req.end();
  });
}
