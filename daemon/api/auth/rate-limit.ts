/** Counts failed authentications per client address in fixed windows; bounded in memory. */
export class FailureLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly opts: { limit?: number; windowMs?: number; maxClients?: number; now?: () => number } = {},
  ) {}

  private get limit(): number {
    return this.opts.limit ?? 10;
  }
  private get windowMs(): number {
    return this.opts.windowMs ?? 60_000;
  }
  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Seconds until `client` may try again, or 0 when it is not blocked. */
  retryAfter(client: string): number {
    const w = this.windows.get(client);
    if (!w) return 0;
    const left = w.start + this.windowMs - this.now();
    if (left <= 0) {
      this.windows.delete(client);
      return 0;
    }
    return w.count >= this.limit ? Math.ceil(left / 1000) : 0;
  }

  fail(client: string): void {
    const now = this.now();
    let w = this.windows.get(client);
    if (!w || w.start + this.windowMs <= now) w = { start: now, count: 0 };
    w.count++;
    this.windows.delete(client);
    this.windows.set(client, w);
    const max = this.opts.maxClients ?? 10_000;
    while (this.windows.size > max) this.windows.delete(this.windows.keys().next().value!);
  }

  /** Number of tracked clients (for tests). */
  get size(): number {
    return this.windows.size;
  }
}
