/**
 * Just enough XML for zypper's `--xmlout` stream: flat elements with attributes and text, no
 * namespaces, no CDATA. Tolerant by design: unknown elements and attributes are ignored, and an
 * element that does not match is simply not returned (the callers report what they could not use).
 */

export interface XmlElement {
  attrs: Record<string, string>;
  /** Raw inner text (still entity-encoded); '' for `<x/>`. */
  body: string;
}

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
    return ENTITIES[ref] ?? whole;
  });
}

/** `name="value"` and `name='value'` pairs of one start tag, decoded. */
export function parseAttributes(tag: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const m of tag.matchAll(/([A-Za-z_][\w.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    if (m[1]) attrs[m[1]] = decodeEntities(m[2] ?? m[3] ?? '');
  }
  return attrs;
}

/**
 * Every `<name …>…</name>` or `<name …/>` in `xml`, in document order. `<update-list>` is not an
 * `<update>`: the name must be followed by whitespace, `>` or `/>`. Elements of one name must
 * not nest (true for everything zypper 1.14 writes that the driver reads).
 */
export function elements(xml: string, name: string): XmlElement[] {
  const found: XmlElement[] = [];
  const re = new RegExp(`<${name}(\\s[^>]*?)?(?:/>|>([\\s\\S]*?)</${name}>)`, 'g');
  for (const m of xml.matchAll(re)) found.push({ attrs: parseAttributes(m[1] ?? ''), body: m[2] ?? '' });
  return found;
}

/** The decoded text of the first `<name>` inside `xml`, or null. */
export function childText(xml: string, name: string): string | null {
  const first = elements(xml, name)[0];
  return first ? decodeEntities(first.body) : null;
}

/** The decoded text of every `<message type="…">` (zypper's human-readable lines in XML mode). */
export function messages(xml: string, type?: string): string[] {
  return elements(xml, 'message')
    .filter((m) => type === undefined || m.attrs.type === type)
    .map((m) => decodeEntities(m.body));
}
