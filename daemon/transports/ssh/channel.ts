import type { ClientChannel } from 'ssh2';
import type { LiveProcess, OutputStream } from '../../core/exec.js';

/** How long a killed channel's close is waited for before the command is given up. */
const KILL_GRACE_MS = 2000;

export interface ChannelExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The channel closed without an exit status or signal (connection lost, or killed by us). */
  noStatus: boolean;
}

/** A remote command on one SSH session channel, seen like a local child (core/exec.ts LiveProcess). */
export interface ChannelProcess extends LiveProcess {
  readonly exited: Promise<ChannelExit>;
}

/**
 * Wraps a channel that is still opening: writes and the end of stdin wait for it, a kill before
 * it opened closes it as soon as it does. `kill()` sends signal KILL (sshd delivers it to the
 * session's process) and closes the channel, which ends the remote command's stdin and output
 * pipes; its close is waited for at most KILL_GRACE_MS, as a local kill does not wait for
 * grandchildren either. `exited` rejects only when the channel could not be opened.
 */
export function channelProcess(
  opening: Promise<ClientChannel>,
  onData: (stream: OutputStream, chunk: Buffer) => void,
): ChannelProcess {
  let channel: ClientChannel | undefined;
  let pending: string[] = [];
  let ended = false;
  let killed = false;
  let exit: { exitCode: number | null; signal: NodeJS.Signals | null } | undefined;
  let settle: (how: ChannelExit) => void = () => {};
  const done = (): void => settle({ exitCode: exit?.exitCode ?? null, signal: exit?.signal ?? null, noStatus: !exit });

  const doKill = (ch: ClientChannel): void => {
    try {
      ch.signal('KILL');
    } catch {
      // the channel may already be closing
    }
    try {
      ch.close();
    } catch {
      // already closed
    }
    setTimeout(done, KILL_GRACE_MS);
  };

  const exited = new Promise<ChannelExit>((resolve, reject) => {
    let settled = false;
    settle = (how) => {
      if (settled) return;
      settled = true;
      resolve(how);
    };
    opening.then(
      (ch) => {
        channel = ch;
        ch.on('data', (c: Buffer) => onData('stdout', c));
        ch.stderr.on('data', (c: Buffer) => onData('stderr', c));
        ch.on('error', () => {}); // a write after the remote end went away
        ch.on('exit', (code: number | null, signalName?: string) => {
          exit =
            typeof code === 'number'
              ? { exitCode: code, signal: null }
              : { exitCode: null, signal: signalName ? (`SIG${signalName}` as NodeJS.Signals) : null };
        });
        ch.on('close', done);
        for (const text of pending) ch.write(text);
        pending = [];
        if (killed) doKill(ch);
        else if (ended) ch.end();
      },
      (err: unknown) => {
        if (!settled) {
          settled = true;
          reject(err);
        }
      },
    );
  });
  exited.catch(() => {});

  return {
    write: (text) => {
      if (ended || killed) return;
      if (channel) channel.write(text);
      else pending.push(text);
    },
    end: () => {
      if (ended) return;
      ended = true;
      if (channel && !killed) channel.end();
    },
    kill: () => {
      if (killed) return;
      killed = true;
      if (channel) doKill(channel);
      else setTimeout(done, KILL_GRACE_MS); // still opening: given up, closed when it opens
    },
    exited,
  };
}
