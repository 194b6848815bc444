import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type express from 'express';
import { PvepatchError } from '../core/errors.js';

/** Is something answering on this unix socket? */
function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Serves the app on a unix socket only root can open (dir 0700, socket 0600). */
export async function listenOnSocket(app: express.Express, path: string): Promise<Server> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (existsSync(path)) {
    if (await socketInUse(path)) {
      throw new PvepatchError(
        'config-invalid',
        `unable to listen on ${path} - another pvepatch daemon is running there`,
      );
    }
    unlinkSync(path); // left over by a daemon that died
  }
  const old = process.umask(0o177);
  try {
    return await new Promise<Server>((resolve, reject) => {
      const server = app.listen(path, (err?: Error) => {
        if (err) reject(new PvepatchError('config-invalid', `unable to listen on ${path} - ${err.message}`));
        else resolve(server);
      });
    }).then((server) => {
      chmodSync(path, 0o600);
      return server;
    });
  } finally {
    process.umask(old);
  }
}
