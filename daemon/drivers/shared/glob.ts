/**
 * Shell-style globs (`*`, `?`) as package managers use them in locks and ignore lists, matched
 * without a regex: the classic two-pointer scan that backtracks only to the last `*`, so a glob
 * bomb like `*a*a*a*a*x` costs at most |glob| × |name| steps, never exponential time. `[...]`
 * classes are compared literally (no family reads them in the places pvepatch matches).
 */
export function globMatches(glob: string, name: string): boolean {
  let g = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    const c = glob[g];
    if (c === '*') {
      star = g++;
      resume = n;
    } else if (c !== undefined && (c === '?' || c === name[n])) {
      g++;
      n++;
    } else if (star >= 0) {
      g = star + 1;
      n = ++resume;
    } else return false;
  }
  while (glob[g] === '*') g++;
  return g === glob.length;
}
