import type { ExecResult } from '../../daemon/core/exec.js';
import type { Transport } from '../../daemon/transports/types.js';

export type Reply = Partial<Pick<ExecResult, 'exitCode' | 'stdout' | 'stderr'>>;

/** A scripted transport: answers each argv with `reply(argv)` and records every call in order. */
export class FakeTransport implements Transport {
  readonly name = 'fake';
  readonly calls: string[][] = [];
  private readonly reply: (argv: readonly string[]) => Reply | Promise<Reply>;

  constructor(reply: (argv: readonly string[]) => Reply | Promise<Reply>) {
    this.reply = reply;
  }

  async exec(argv: readonly string[]): Promise<ExecResult> {
    this.calls.push([...argv]);
    const r = await this.reply(argv);
    return {
      exitCode: r.exitCode ?? 0,
      signal: null,
      stdout: r.stdout ?? '',
      stderr: r.stderr ?? '',
      truncated: false,
      durationMs: 1,
      timedOut: false,
    };
  }

  /** The calls as one-line strings, for readable assertions. */
  lines(): string[] {
    return this.calls.map((c) => c.join(' '));
  }
}
