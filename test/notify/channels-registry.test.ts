import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CHANNEL_KINDS, CHANNELS } from '../../daemon/notify/channels/index.js';

describe('channel registry', () => {
  it('registers every file in daemon/notify/channels/ under its kind, and nothing else', () => {
    const files = readdirSync(new URL('../../daemon/notify/channels/', import.meta.url))
      .filter((f) => f !== 'index.ts')
      .map((f) => f.replace(/\.ts$/, ''))
      .sort();
    assert.deepEqual([...CHANNEL_KINDS].sort(), files);
    for (const [kind, driver] of Object.entries(CHANNELS)) assert.equal(driver.kind, kind);
  });
});
