import { mock } from 'node:test';
import type { Clock } from '../../daemon/schedule/clock-watch.js';

/** node:test's MockTimers as Node 20 has it (`@types/node` 18 only knows the array form of `enable`). */
interface MockTimers20 {
  enable(options: { apis: string[]; now: number }): void;
  tick(ms: number): void;
  reset(): void;
}

const timers = mock.timers as unknown as MockTimers20;

/**
 * A fake clock for node-schedule, which reads the global `Date` and arms global `setTimeout`s (through
 * long-timeout): node:test's mock timers move timers and `Date` together, like a machine whose clock never
 * steps; on top of that, `Date` is swapped for a subclass that adds `#wallOffset`, so `stepWall()` moves
 * the wall clock alone, as an NTP step or a resume from suspend does, while timers keep monotonic time.
 * `monotonic()` is the mock timers' own clock. Always `uninstall()` (after stopping the scheduler).
 */
export class FakeClock implements Clock {
  readonly #mockDate: DateConstructor;
  #wallOffset = 0;
  #installed = true;

  private constructor(mockDate: DateConstructor) {
    this.#mockDate = mockDate;
  }

  static install(startIso: string): FakeClock {
    timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: Date.parse(startIso) });
    const clock = new FakeClock(globalThis.Date);
    const base = globalThis.Date;
    class SteppedDate extends base {
      constructor(...args: unknown[]) {
        if (args.length === 0) super(base.now() + clock.#wallOffset);
        else super(...(args as [number]));
      }
      static override now(): number {
        return base.now() + clock.#wallOffset;
      }
      // the mock Date constructor returns native Date objects; cron-parser checks `instanceof Date`
      static override [Symbol.hasInstance](value: unknown): boolean {
        return value instanceof base;
      }
    }
    globalThis.Date = SteppedDate as DateConstructor;
    return clock;
  }

  /** Puts the real timers and `Date` back; a second call does nothing. */
  uninstall(): void {
    if (!this.#installed) return;
    this.#installed = false;
    globalThis.Date = this.#mockDate;
    timers.reset();
  }

  now(): number {
    return Date.now();
  }

  monotonic(): number {
    return this.#mockDate.now();
  }

  iso(): string {
    return new Date(this.now()).toISOString();
  }

  /** Lets `ms` pass in 1 s steps, so every timer runs at its own time (to the second). */
  advance(ms: number): void {
    for (let left = ms; left > 0; left -= 1000) timers.tick(Math.min(1000, left));
  }

  /** Lets `ms` pass in one go: timers that come due run late, all at the end, as in a stopped process. */
  freeze(ms: number): void {
    timers.tick(ms);
  }

  /** Steps the wall clock by `ms` (either sign) without any time passing for timers. */
  stepWall(ms: number): void {
    this.#wallOffset += ms;
  }
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
