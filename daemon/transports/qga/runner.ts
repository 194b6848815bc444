/**
 * Long work through the guest agent runs detached inside the guest, so that an agent restart (an
 * upgrade of qemu-guest-agent itself, or a crash) loses nothing: a small runner, sent with its
 * SHA-256 and checked by the guest before it runs, is started in its own systemd unit
 * (`systemd-run`) or, without systemd, in its own session (`setsid`), outside the agent's process
 * group. It writes the command's output and exit status into a job directory that pvepatch polls.
 * All scripts here are constants; data (the checksum, the job directory, the argv) reaches them
 * only as positional parameters, never as shell text.
 */
import { createHash, randomBytes } from 'node:crypto';

/** Runs "$@" with its output in the job directory and its exit status written last. */
export const RUNNER = `# pvepatch detached runner: runs its arguments, keeps output and exit status in its job directory
dir=$1
shift
echo $$ >"$dir/pid"
"$@" >"$dir/out" 2>"$dir/err" </dev/null
rc=$?
echo "$rc" >"$dir/rc.tmp" && mv -f "$dir/rc.tmp" "$dir/rc"
`;

export const RUNNER_SHA256 = sha256(RUNNER);

/** Exit codes of the bootstrap, chosen outside what sh itself uses (126, 127, 128+n). */
export const BOOT_NO_DIR = 96;
export const BOOT_MISMATCH = 97;
export const BOOT_NO_START = 98;

/**
 * `sh -c BOOTSTRAP pvepatch-runner <sha256> <jobdir> argv…` with the runner on stdin: stores it,
 * checks its checksum, starts it detached and prints how (`systemd` or `setsid`).
 */
export const BOOTSTRAP = `set -u
sum=$1
dir=$2
shift 2
umask 077
mkdir -p -- "\${dir%/*}" && mkdir -- "$dir" || { echo "pvepatch: unable to create $dir" >&2; exit ${BOOT_NO_DIR}; }
cat >"$dir/runner.sh" || exit ${BOOT_NO_DIR}
got=$(sha256sum "$dir/runner.sh") || exit ${BOOT_NO_DIR}
got=\${got%% *}
if [ "$got" != "$sum" ]; then
  echo "pvepatch: runner checksum mismatch - expected $sum, got $got; not started" >&2
  rm -rf -- "$dir"
  exit ${BOOT_MISMATCH}
fi
if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then
  systemd-run --quiet --collect --unit="pvepatch-\${dir##*/}" -- /bin/sh "$dir/runner.sh" "$dir" "$@" || exit ${BOOT_NO_START}
  echo systemd
else
  setsid /bin/sh "$dir/runner.sh" "$dir" "$@" </dev/null >/dev/null 2>&1 &
  echo setsid
fi
`;

/**
 * `sh -c POLL pvepatch-poll <jobdir> <out offset> <err offset> <max bytes>`: the exit status (read
 * first, so all output written before it is complete), then each stream's bytes from its offset,
 * base64-encoded between marker lines.
 */
export const POLL = `dir=$1
o=$2
e=$3
m=$4
if [ ! -d "$dir" ]; then echo gone; exit 0; fi
rc=-
if [ -f "$dir/rc" ]; then rc=$(cat "$dir/rc"); fi
echo "state $rc"
echo out
if [ -f "$dir/out" ]; then tail -c "+$((o + 1))" "$dir/out" | head -c "$m" | base64; fi
echo err
if [ -f "$dir/err" ]; then tail -c "+$((e + 1))" "$dir/err" | head -c "$m" | base64; fi
echo end
`;

/**
 * `sh -c KILL pvepatch-kill <jobdir>`: stops a job that overran — its systemd unit, or the runner's
 * session (the runner leads it) — and removes the job directory.
 */
export const KILL = `dir=$1
unit="pvepatch-\${dir##*/}"
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then systemctl kill --signal=KILL "$unit" 2>/dev/null; fi
if [ -f "$dir/pid" ]; then pid=$(cat "$dir/pid"); case $pid in ''|*[!0-9]*) ;; *) kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null;; esac; fi
rm -rf -- "$dir"
`;

export const JOB_ROOT = '/var/tmp/pvepatch-jobs';

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A fresh job directory name (128 bits, never guessable or reused). */
export function jobDir(): string {
  return `${JOB_ROOT}/job-${randomBytes(16).toString('hex')}`;
}

export interface PollAnswer {
  /** The job directory is gone (never created, or removed). */
  gone: boolean;
  /** The command's exit status once it ended. */
  rc: number | null;
  out: Buffer;
  err: Buffer;
}

const MAX_POLL_LINES = 1_000_000;

/**
 * Reads POLL's answer. Only its own marker lines and base64 are accepted; anything else means the
 * answer did not come from the poll script and is refused.
 */
export function parsePoll(text: string): PollAnswer | null {
  const lines = text.split('\n', MAX_POLL_LINES);
  if (lines[0] === 'gone') return { gone: true, rc: null, out: Buffer.alloc(0), err: Buffer.alloc(0) };
  const head = lines[0] ?? '';
  if (!head.startsWith('state ') || lines[1] !== 'out') return null;
  const rcText = head.slice(6).trim();
  let rc: number | null = null;
  if (rcText !== '-') {
    if (!/^\d{1,3}$/.test(rcText)) return null;
    rc = Number(rcText);
  }
  const errAt = lines.indexOf('err', 2);
  const endAt = errAt < 0 ? -1 : lines.indexOf('end', errAt + 1);
  if (errAt < 0 || endAt < 0) return null;
  const b64 = (from: number, to: number) => lines.slice(from, to).join('');
  const out = b64(2, errAt);
  const err = b64(errAt + 1, endAt);
  if (!isBase64(out) || !isBase64(err)) return null;
  return { gone: false, rc, out: Buffer.from(out, 'base64'), err: Buffer.from(err, 'base64') };
}

function isBase64(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok =
      (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47 || c === 61;
    if (!ok) return false;
  }
  return true;
}
