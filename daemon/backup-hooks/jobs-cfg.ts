/** A `vzdump` job of /etc/pve/jobs.cfg, as far as the hook installer needs it. */
export interface VzdumpJob {
  id: string;
  /** The job's own hook script, which replaces the one of /etc/vzdump.conf. */
  script?: string;
  enabled: boolean;
}

/**
 * Reads the vzdump jobs of /etc/pve/jobs.cfg (Proxmox section config: `<type>: <id>` opens a
 * section, indented `key value` lines follow, a blank line ends it). Linear, no regular
 * expressions; other job types (`realm-sync`, …) are skipped.
 */
export function parseVzdumpJobs(text: string): VzdumpJob[] {
  const jobs: VzdumpJob[] = [];
  let current: VzdumpJob | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line.trim() === '' || line.trimStart().startsWith('#')) {
      if (line.trim() === '') current = undefined;
      continue;
    }
    const indented = line[0] === ' ' || line[0] === '\t';
    if (!indented) {
      const colon = line.indexOf(':');
      const type = colon > 0 ? line.slice(0, colon) : '';
      const id = colon > 0 ? line.slice(colon + 1).trim() : '';
      current = type === 'vzdump' && id ? { id, enabled: true } : undefined;
      if (current) jobs.push(current);
      continue;
    }
    if (!current) continue;
    const body = line.trim();
    const blank = firstBlank(body);
    const key = blank > 0 ? body.slice(0, blank) : body;
    const value = blank > 0 ? body.slice(blank + 1).trim() : '';
    if (key === 'script' && value) current.script = value;
    if (key === 'enabled') current.enabled = value !== '0';
  }
  return jobs;
}

function firstBlank(s: string): number {
  for (let i = 0; i < s.length; i++) if (s[i] === ' ' || s[i] === '\t') return i;
  return -1;
}
