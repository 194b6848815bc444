/**
 * Just enough XML for zypper's `--xmlout` stream, read in one linear pass into a small tree: start
 * and end tags with attributes, self-closing tags, text, entities; comments, processing
 * instructions and CDATA are skipped or kept as text. Tolerant by design — unknown elements and
 * attributes are kept and ignored by the callers, an end tag without its start is ignored, an
 * unclosed element ends with its parent — and bounded: past MAX_ELEMENTS the reader stops with an
 * error, past MAX_DEPTH deeper elements hang off the deepest one.
 */
import { PvepatchError } from '../../core/errors.js';

export const MAX_ELEMENTS = 200_000;
export const MAX_DEPTH = 64;

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The decoded text directly inside this element (not in its children). */
  text: string;
}

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** One entity reference (without `&` and `;`) as text, or null when it is none we know. */
function entity(ref: string): string | null {
  if (ref.startsWith('#')) {
    const hex = ref[1] === 'x' || ref[1] === 'X';
    const digits = ref.slice(hex ? 2 : 1);
    if (digits.length === 0 || digits.length > 8) return null;
    const code = Number.parseInt(digits, hex ? 16 : 10);
    if (!Number.isFinite(code) || code < 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return null;
    return String.fromCodePoint(code);
  }
  return ENTITIES[ref] ?? null;
}

/** Decodes `&lt;`, `&#38;`, `&#x26;`…; an unknown or malformed reference stays as it is. */
export function decodeEntities(text: string): string {
  let out = '';
  let from = 0;
  let semi = -1;
  for (let amp = text.indexOf('&'); amp >= 0; amp = text.indexOf('&', amp + 1)) {
    if (semi <= amp) semi = text.indexOf(';', amp + 1);
    if (semi < 0) break;
    if (semi - amp > 12) continue;
    const value = entity(text.slice(amp + 1, semi));
    if (value === null) continue;
    out += text.slice(from, amp) + value;
    from = semi + 1;
    amp = semi;
  }
  return from === 0 ? text : out + text.slice(from);
}

function isNameChar(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || '_-.:'.includes(c);
}

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

/** `name="value"` and `name='value'` pairs of one start tag's inside (after its name), decoded. */
export function parseAttributes(tag: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  let i = 0;
  while (i < tag.length) {
    while (i < tag.length && !isNameChar(tag[i]!)) i++;
    const start = i;
    while (i < tag.length && isNameChar(tag[i]!)) i++;
    const name = tag.slice(start, i);
    while (isSpace(tag[i])) i++;
    if (tag[i] !== '=') continue;
    i++;
    while (isSpace(tag[i])) i++;
    const quote = tag[i];
    if (quote !== '"' && quote !== "'") continue;
    const end = tag.indexOf(quote, i + 1);
    if (end < 0) break;
    if (name !== '' && !(name in attrs)) attrs[name] = decodeEntities(tag.slice(i + 1, end));
    i = end + 1;
  }
  return attrs;
}

/** Reads a whole document; the returned element is a nameless root holding the top-level elements. */
export function parseXml(xml: string): XmlElement {
  const root: XmlElement = { name: '', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  let count = 0;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const top = stack[stack.length - 1]!;
    if (lt < 0 || lt > i) top.text += decodeEntities(xml.slice(i, lt < 0 ? xml.length : lt));
    if (lt < 0) break;
    if (xml.startsWith('<!--', lt)) i = skipPast(xml, '-->', lt + 4);
    else if (xml.startsWith('<![CDATA[', lt)) {
      const end = xml.indexOf(']]>', lt + 9);
      top.text += xml.slice(lt + 9, end < 0 ? xml.length : end);
      i = end < 0 ? xml.length : end + 3;
    } else if (xml[lt + 1] === '?' || xml[lt + 1] === '!') i = skipPast(xml, '>', lt + 2);
    else {
      const gt = xml.indexOf('>', lt + 1);
      if (gt < 0) break;
      i = gt + 1;
      const inner = xml.slice(lt + 1, gt);
      if (inner.startsWith('/')) closeElement(stack, inner.slice(1).trim());
      else {
        if (++count > MAX_ELEMENTS) {
          throw new PvepatchError('output-invalid', `unable to read zypper's XML - more than ${MAX_ELEMENTS} elements`);
        }
        openElement(stack, inner);
      }
    }
  }
  return root;
}

function skipPast(xml: string, end: string, from: number): number {
  const at = xml.indexOf(end, from);
  return at < 0 ? xml.length : at + end.length;
}

function openElement(stack: XmlElement[], inner: string): void {
  const selfClosing = inner.endsWith('/');
  const body = selfClosing ? inner.slice(0, -1) : inner;
  let n = 0;
  while (n < body.length && isNameChar(body[n]!)) n++;
  const el: XmlElement = { name: body.slice(0, n), attrs: parseAttributes(body.slice(n)), children: [], text: '' };
  stack[stack.length - 1]!.children.push(el);
  if (!selfClosing && stack.length <= MAX_DEPTH) stack.push(el);
}

/** Pops to the matching start tag; an end tag that matches nothing open is ignored. */
function closeElement(stack: XmlElement[], name: string): void {
  for (let d = stack.length - 1; d > 0; d--) {
    if (stack[d]!.name !== name) continue;
    stack.length = d;
    return;
  }
}

/** Every element called `name` below `el`, in document order. */
export function descendants(el: XmlElement, name: string): XmlElement[] {
  const found: XmlElement[] = [];
  const walk: XmlElement[] = [...el.children].reverse();
  while (walk.length > 0) {
    const next = walk.pop()!;
    if (next.name === name) found.push(next);
    for (let c = next.children.length - 1; c >= 0; c--) walk.push(next.children[c]!);
  }
  return found;
}

/** The first child element called `name`, or undefined. */
export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

/** The decoded text of every `<message type="…">` (zypper's human-readable lines in XML mode). */
export function messages(doc: XmlElement, type?: string): string[] {
  return descendants(doc, 'message')
    .filter((m) => type === undefined || m.attrs.type === type)
    .map((m) => m.text);
}
