/** Available kilobytes of the filesystem in the last line of `df -Pk <path>`. */
export function parseDfAvailableKb(stdout: string): number | null {
  const lines = stdout.trim().split('\n');
  if (lines.length < 2) return null;
  const fields = lines.at(-1)!.trim().split(/\s+/);
  const avail = Number(fields[3]);
  return Number.isFinite(avail) ? avail : null;
}
