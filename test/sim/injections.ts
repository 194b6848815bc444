import type { SimInjection } from './types.js';

interface Armed {
  injection: SimInjection;
  remaining: number;
}

/** Faults a test arms with `sim.inject()`; each matching request uses up one `times`. */
export class Injections {
  private armed: Armed[] = [];

  add(injection: SimInjection): void {
    const times = injection.times ?? Number.POSITIVE_INFINITY;
    if (!(times > 0)) throw new Error('sim: inject() times must be > 0');
    this.armed.push({ injection, remaining: times });
  }

  clear(): void {
    this.armed = [];
  }

  /** The first armed fault for this request (path below /api2/json), used up by one. */
  take(method: string, path: string): SimInjection | undefined {
    const hit = this.armed.find(({ injection: i }) => {
      if (i.method && i.method.toUpperCase() !== method) return false;
      if (typeof i.path === 'string') return i.path === path;
      i.path.lastIndex = 0; // a /g or /y RegExp keeps state between test() calls
      return i.path.test(path);
    });
    if (!hit) return undefined;
    hit.remaining--;
    if (hit.remaining <= 0) this.armed = this.armed.filter((a) => a !== hit);
    return hit.injection;
  }
}
