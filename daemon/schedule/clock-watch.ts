/** Wall clock (`now`, ms since the epoch) and monotonic clock (`monotonic`, ms from any origin). */
export interface Clock {
  now(): number;
  monotonic(): number;
}

/** `performance.now()` is CLOCK_MONOTONIC (libuv hrtime): NTP steps do not move it, nor does suspend. */
export const systemClock: Clock = { now: () => Date.now(), monotonic: () => performance.now() };

export interface ClockWatchOptions {
  /** How often to compare the clocks; default 30 s. */
  intervalMs?: number;
  /** How far wall-clock and monotonic deltas may diverge before it is a step; default 60 s. */
  thresholdMs?: number;
}

export const DEFAULT_CLOCK_CHECK_MS = 30_000;
export const DEFAULT_CLOCK_STEP_THRESHOLD_MS = 60_000;

/**
 * Detects wall-clock steps (NTP step, `date -s`, resume from suspend): every `intervalMs` it compares how far
 * the wall clock moved with how far the monotonic clock moved, and calls `onStep(stepMs)` (positive =
 * forward) when they differ by more than `thresholdMs`. A blocked event loop delays both equally, so it
 * is not a step. A step is noticed at most `intervalMs` after it happened.
 */
export class ClockWatch {
  readonly #clock: Clock;
  readonly #onStep: (stepMs: number) => void;
  readonly #intervalMs: number;
  readonly #thresholdMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastWall = 0;
  #lastMono = 0;

  constructor(clock: Clock, onStep: (stepMs: number) => void, options: ClockWatchOptions = {}) {
    this.#clock = clock;
    this.#onStep = onStep;
    this.#intervalMs = options.intervalMs ?? DEFAULT_CLOCK_CHECK_MS;
    this.#thresholdMs = options.thresholdMs ?? DEFAULT_CLOCK_STEP_THRESHOLD_MS;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#mark();
    this.#timer = setInterval(() => this.check(), this.#intervalMs);
    // the schedule jobs keep the daemon alive, not this watch
    this.#timer.unref?.();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Compares the clocks now; returns the step in ms when one was detected (and reported). */
  check(): number | undefined {
    const wall = this.#clock.now();
    const mono = this.#clock.monotonic();
    const step = wall - this.#lastWall - (mono - this.#lastMono);
    this.#lastWall = wall;
    this.#lastMono = mono;
    if (Math.abs(step) <= this.#thresholdMs) return undefined;
    this.#onStep(step);
    return step;
  }

  #mark(): void {
    this.#lastWall = this.#clock.now();
    this.#lastMono = this.#clock.monotonic();
  }
}
