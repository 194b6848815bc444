/** Just enough MIME reading for the mail tests: headers, multipart parts, quoted-printable and base64. */
export interface MimePart {
  headers: Map<string, string>;
  body: string;
}

export function parseMime(raw: string): MimePart & { parts: MimePart[] } {
  const text = raw.replace(/\r\n/g, '\n');
  const split = text.indexOf('\n\n');
  const headers = parseHeaders(text.slice(0, split));
  const body = text.slice(split + 2);
  const boundary = /boundary="([^"]+)"/.exec(headers.get('content-type') ?? '')?.[1];
  if (!boundary) return { headers, body: decode(headers, body), parts: [] };
  const parts = body
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((chunk) => {
      const p = chunk.replace(/^\n/, '');
      const end = p.indexOf('\n\n');
      const h = parseHeaders(p.slice(0, end));
      return { headers: h, body: decode(h, p.slice(end + 2).replace(/\n$/, '')) };
    });
  return { headers, body, parts };
}

function parseHeaders(block: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of block.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    map.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return map;
}

function decode(headers: Map<string, string>, body: string): string {
  const cte = headers.get('content-transfer-encoding') ?? '7bit';
  if (cte === 'base64') return Buffer.from(body, 'base64').toString('utf8');
  if (cte !== 'quoted-printable') return body;
  const s = body.replace(/=\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const hex = s.slice(i + 1, i + 3);
    if (s[i] === '=' && /^[0-9A-F]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}
