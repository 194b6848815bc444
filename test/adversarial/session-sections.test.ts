/**
 * The stage shell session's output reader (SectionReader) on adversarial guest output: the generic
 * bombs of the parser corpus plus text made of marker look-alikes (the marker prefixes without the
 * nonce, begin markers, partial end markers at every length), cut into chunks of many sizes. The
 * reader must hand back exactly the bytes the command printed, stream the same lines, never end
 * the section early and stay linear: a generous 2 s bound per megabyte where a linear pass takes
 * milliseconds.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SectionReader } from '../../daemon/drivers/shared/shell-session.js';
import { genericInputs, grow, MIB } from './corpus.js';

const LIMIT_MS = 2000;
const NONCE = randomBytes(16).toString('hex');

function lookAlikes(): { name: string; text: string }[] {
  const partials = Array.from({ length: NONCE.length }, (_, i) => `\nE${NONCE.slice(0, i)}`).join('');
  return [
    { name: 'end-marker prefixes of every length', text: grow(partials, MIB) },
    { name: 'newline + E floods', text: grow('\nE', MIB) },
    { name: 'begin markers of this nonce', text: grow(`B${NONCE}\n`, MIB) },
    { name: 'end markers of another nonce', text: grow(`\nE${'0'.repeat(32)} 0\n`, MIB) },
    { name: 'newlines only', text: grow('\n', MIB) },
  ];
}

function read(bytes: Buffer, chunk: number) {
  const content: Buffer[] = [];
  const live: Buffer[] = [];
  const r = new SectionReader(
    NONCE,
    (c) => content.push(Buffer.from(c)),
    (c) => live.push(Buffer.from(c)),
  );
  const stream = Buffer.concat([Buffer.from(`stray\nB${NONCE}\n`), bytes, Buffer.from(`\nE${NONCE} 42\n`)]);
  const t = performance.now();
  for (let i = 0; i < stream.length; i += chunk) r.push(stream.subarray(i, i + chunk));
  return { ms: performance.now() - t, content: Buffer.concat(content), live: Buffer.concat(live), r };
}

describe('session output reader on adversarial guest output', () => {
  for (const input of [...genericInputs(MIB), ...lookAlikes()]) {
    it(input.name, () => {
      const bytes = Buffer.from(input.text);
      for (const chunk of [13, 4096, 65_536, bytes.length + 100]) {
        const { ms, content, live, r } = read(bytes, chunk);
        assert.ok(ms < LIMIT_MS, `${Math.round(ms)} ms with ${chunk}-byte chunks`);
        assert.ok(r.done, `the section ended (chunks of ${chunk})`);
        assert.equal(r.trailer, '42');
        assert.ok(content.equals(bytes), `exact content (chunks of ${chunk})`);
        // streamed: the same bytes, plus the newline that ends an unterminated last line
        const ends = bytes.length === 0 || bytes[bytes.length - 1] === 10;
        assert.ok(live.equals(ends ? bytes : Buffer.concat([bytes, Buffer.from('\n')])), `live (chunks of ${chunk})`);
      }
    });
  }
});
