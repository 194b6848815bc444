/**
 * The stage shell session against a real POSIX shell (/bin/sh, dash on Debian): exact output and
 * exit codes per command, words that reach argv byte for byte, output that cannot end a section,
 * stdin that commands cannot eat, timeouts, overruns and a shell that dies.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PvepatchError, UnreachableError } from '../../daemon/core/errors.js';
import { execArgv, spawnLive } from '../../daemon/core/exec.js';
import { GuestExec } from '../../daemon/drivers/shared/guest-exec.js';
import { SectionReader, ShellSession, sessionLine, shellQuote } from '../../daemon/drivers/shared/shell-session.js';
import type { Transport } from '../../daemon/transports/types.js';

/** A transport whose "guest" is this host's /bin/sh: sessions and standalone execs. */
function localShell(): Transport & { sessions: number } {
  const t = {
    name: 'local',
    sessions: 0,
    exec: (argv: readonly string[], o: { timeoutMs?: number } = {}) =>
      execArgv(argv, o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
    openSession() {
      t.sessions++;
      return new ShellSession((onData) => spawnLive(['/bin/sh', '-s'], onData, { lingerMs: 200 }), {
        timedOut: (argv, ms) =>
          new PvepatchError(
            'timeout',
            `unable to run '${argv[0]}' in the guest - no exit after ${Math.ceil(ms / 1000)}s`,
          ),
        endedEarly: (argv, res) =>
          new UnreachableError(`shell ended during '${argv[0]}' (exit ${res.exitCode}, ${res.signal})`),
      });
    },
  };
  return t;
}

function guest(opts: { maxOutputBytes?: number; output?: (l: string) => void } = {}) {
  const transport = localShell();
  const lines: string[] = [];
  const exec = new GuestExec(transport, {
    log: (l) => lines.push(l),
    output: opts.output,
    ...(opts.maxOutputBytes ? { maxOutputBytes: opts.maxOutputBytes } : {}),
  });
  return { transport, exec, lines };
}

describe('stage shell session', () => {
  it('runs a stage in one round trip with each command its own stdout, stderr and exit code', async () => {
    const { transport, exec } = guest();
    const results = await exec.stage(async () => [
      await exec.run(['sh', '-c', 'echo out; echo err >&2; exit 3']),
      await exec.run(['printf', 'no newline']),
      await exec.run(['true']),
      await exec.run(['sh', '-c', 'printf "a\\n\\n"; printf "\\n" >&2']),
    ]);
    assert.deepEqual(
      results.map((r) => [r.stdout, r.stderr, r.exitCode]),
      [
        ['out\n', 'err\n', 3],
        ['no newline', '', 0],
        ['', '', 0],
        ['a\n\n', '\n', 0],
      ],
    );
    assert.equal(transport.sessions, 1);
    assert.equal(exec.roundTrips, 1);
    assert.equal(exec.execs, 4);
  });

  it('outside a stage every command is its own round trip', async () => {
    const { transport, exec } = guest();
    await exec.run(['true']);
    await exec.run(['true']);
    assert.equal(transport.sessions, 0);
    assert.equal(exec.roundTrips, 2);
  });

  it('sends every word byte for byte: quotes, $(), backquotes, globs, newlines and non-ASCII stay data', async () => {
    const words = [
      "it's",
      "'",
      "''\\'",
      '$(touch /tmp/pvepatch-pwned)',
      '`id`',
      '"$HOME"',
      '*',
      'a\nb',
      '; rm -rf /',
      '\\',
      '-n',
      'ümlaut ✓',
      '',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion that must stay text
      '${PATH}',
      '\t',
    ];
    const { exec } = guest();
    const res = await exec.stage(() => exec.run(['printf', '%s\\0', ...words]));
    assert.deepEqual(res.stdout.split('\0').slice(0, -1), words);
    assert.equal(shellQuote("a'b"), "'a'\\''b'");
    assert.throws(() => shellQuote('a\0b'), /NUL/);
  });

  it('output that looks like a marker does not end the section or set the exit code', async () => {
    const { exec } = guest();
    const forged = 'E0123456789abcdef0123456789abcdef 0\nBdeadbeef\n';
    const [a, b] = await exec.stage(async () => [
      await exec.run(['sh', '-c', `printf '\\n%s' '${forged}'; printf '\\n%s' '${forged}' >&2; exit 7`]),
      await exec.run(['echo', 'next']),
    ]);
    assert.equal(a?.stdout, `\n${forged}`);
    assert.equal(a?.stderr, `\n${forged}`);
    assert.equal(a?.exitCode, 7);
    assert.equal(b?.stdout, 'next\n');
  });

  it('the section reader is cut at any chunk boundary the same way', () => {
    const nonce = 'ab12';
    const stream = Buffer.from(`noise\nB${nonce}\nline1\nEab1 not it\nx\nE${nonce} 42\nlater`);
    const ended = Buffer.from(`B${nonce}\nline1\n\n\nE${nonce} 0\n`);
    for (const [input, content, live] of [
      [stream, 'line1\nEab1 not it\nx', 'line1\nEab1 not it\nx\n'],
      [ended, 'line1\n\n', 'line1\n\n'],
    ] as const) {
      for (let size = 1; size <= input.length; size++) {
        const parts: Buffer[] = [];
        const streamed: Buffer[] = [];
        const r = new SectionReader(
          nonce,
          (c) => parts.push(Buffer.from(c)),
          (c) => streamed.push(Buffer.from(c)),
        );
        for (let i = 0; i < input.length; i += size) r.push(input.subarray(i, i + size));
        assert.equal(Buffer.concat(parts).toString(), content, `chunk size ${size}`);
        // streamed: the same lines, ended; never an empty line that the command did not print
        assert.equal(Buffer.concat(streamed).toString(), live, `live, chunk size ${size}`);
        assert.ok(r.done);
      }
    }
  });

  it('a command reading stdin gets end-of-file and cannot eat the commands after it', async () => {
    const { exec } = guest();
    const [cat, after] = await exec.stage(async () => [
      await exec.run(['cat']),
      await exec.run(['echo', 'still here']),
    ]);
    assert.equal(cat?.stdout, '');
    assert.equal(cat?.exitCode, 0);
    assert.equal(after?.stdout, 'still here\n');
  });

  it('refuses builtins that would change the shell itself', () => {
    for (const name of ['exit', 'exec', 'cd', 'eval', '.', 'set', 'trap']) {
      assert.throws(() => sessionLine([name, 'x'], 'n'), /shell builtin/);
    }
    assert.throws(() => sessionLine([], 'n'), /empty argv/);
  });

  it('a timeout kills the session; the next command opens a new one', async () => {
    const { transport, exec } = guest();
    const err = await exec.stage(async () => {
      const e = await exec.run(['sleep', '5'], { timeoutMs: 200 }).catch((x: unknown) => x);
      assert.equal((await exec.run(['echo', 'again'])).stdout, 'again\n');
      return e;
    });
    assert.ok(err instanceof PvepatchError);
    assert.equal(err.code, 'timeout');
    assert.match(err.message, /unable to run 'sleep' in the guest - no exit after 1s/);
    assert.equal(transport.sessions, 2);
  });

  it("output past the cap is 'output-invalid' (a read is killed, a change is drained)", async () => {
    const { exec } = guest({ maxOutputBytes: 64 * 1024 });
    await exec.stage(async () => {
      const flood = ['sh', '-c', 'head -c 1000000 /dev/zero | tr "\\0" x'];
      await assert.rejects(exec.run(flood), (e: unknown) => e instanceof PvepatchError && e.code === 'output-invalid');
      await assert.rejects(
        exec.run(flood, { changes: true }),
        (e: unknown) => e instanceof PvepatchError && e.code === 'output-invalid' && /exited 0/.test(e.message),
      );
      assert.equal((await exec.run(['echo', 'ok'])).stdout, 'ok\n');
    });
  });

  it('a shell that dies mid-command is the transport error, not an exit code', async () => {
    const { exec } = guest();
    await exec.stage(async () => {
      await assert.rejects(exec.run(['sh', '-c', 'kill -KILL $PPID; sleep 1']), /shell ended during 'sh'/);
      assert.equal((await exec.run(['echo', 'new shell'])).stdout, 'new shell\n');
    });
  });

  it('streams a line before the command pauses, not when it ends', async () => {
    const seen: { line: string; at: number }[] = [];
    const { exec } = guest({ output: (line) => seen.push({ line, at: Date.now() }) });
    const ended = await exec.stage(async () => {
      await exec.run(['sh', '-c', 'echo first; sleep 1; echo second'], { stream: true });
      return Date.now();
    });
    assert.deepEqual(
      seen.map((s) => s.line),
      ['first', 'second'],
    );
    assert.ok(ended - seen[0]!.at >= 900, 'the first line arrived while the command still ran');
  });

  it('streams only the streaming command, line by line, and logs each argv', async () => {
    const out: string[] = [];
    const { exec, lines } = guest({ output: (l) => out.push(l) });
    await exec.stage(async () => {
      await exec.run(['echo', 'quiet']);
      await exec.run(['sh', '-c', 'echo one; echo two >&2; printf three'], { stream: true });
    });
    assert.deepEqual(out.sort(), ['one', 'three', 'two']);
    assert.deepEqual(lines, ['$ echo quiet', '$ sh -c echo one; echo two >&2; printf three']);
  });
});
