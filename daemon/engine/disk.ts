/** Available kilobytes of the filesystem in the last line of `df -Pk <path>`; null when unreadable. */
export function parseDfAvailableKb(stdout: string): number | null {
  const lines = stdout.trim().split('\n');
  if (lines.length < 2) return null;
  const fields = lines.at(-1)!.trim().split(/\s+/);
  const avail = fields[3] ?? '';
  return avail.length > 0 && avail.length <= 18 && /^\d+$/.test(avail) ? Number(avail) : null;
}
