/**
 * Every regular expression in the daemon's sources, found with TypeScript's own parser: regex
 * literals and `new RegExp(…)` / `RegExp(…)` calls (whose pattern must be a literal to be checked).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export interface FoundRegex {
  file: string;
  line: number;
  /** The pattern source, or null when it is built at run time (never allowed). */
  source: string | null;
  flags: string;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

export function findRegexes(root: string, dir: string): FoundRegex[] {
  const found: FoundRegex[] = [];
  for (const path of tsFiles(join(root, dir))) {
    const file = relative(root, path);
    const sf = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true);
    const at = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart()).line + 1;
    const visit = (node: ts.Node): void => {
      if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) {
        const text = node.getText(sf);
        const end = text.lastIndexOf('/');
        found.push({ file, line: at(node), source: text.slice(1, end), flags: text.slice(end + 1) });
      } else if (
        (ts.isNewExpression(node) || ts.isCallExpression(node)) &&
        ts.isIdentifier(node.expression) &&
        node.expression.text === 'RegExp'
      ) {
        const [pattern, flags] = node.arguments ?? [];
        const literal = pattern && ts.isStringLiteralLike(pattern) ? pattern.text : null;
        const flagText = flags && ts.isStringLiteralLike(flags) ? flags.text : '';
        found.push({ file, line: at(node), source: literal, flags: flagText });
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return found;
}
