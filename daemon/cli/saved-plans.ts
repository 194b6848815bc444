import type { SavedPlan } from '../approvals/types.js';
import { PvepatchError } from '../core/errors.js';
import { table } from './format.js';

/** The words after `pvepatch plan` that act on saved plans instead of planning. */
export const SAVED_PLAN_VERBS: ReadonlySet<string> = new Set(['save', 'list', 'show', 'approve', 'rm']);

interface Api {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
  delete<T>(path: string): Promise<T>;
}

export function savedPlansText(rows: SavedPlan[]): string {
  return table(
    ['PLAN', 'STATE', 'GUESTS', 'PACKAGES', 'BY', 'APPROVED BY', 'RUNS'],
    rows.map((p) => [
      p.id,
      p.state,
      p.guests.map((g) => g.vmid).join(' '),
      String(p.guests.reduce((a, g) => a + g.packages.length, 0)),
      `${p.created_by} ${p.created_at}`,
      p.approved_by ? `${p.approved_by} ${p.approved_at}` : '-',
      p.runs.join(' ') || '-',
    ]),
  );
}

export function savedPlanText(p: SavedPlan): string {
  const head = `plan ${p.id}: ${p.state}, made by ${p.created_by} at ${p.created_at}${p.approved_by ? `, approved by ${p.approved_by} at ${p.approved_at}` : ''}`;
  const rows = table(
    ['VMID', 'NAME', 'DRIVER', 'PACKAGE', 'CURRENT', 'APPROVED'],
    p.guests.flatMap((g) =>
      g.packages.map((u) => [g.vmid, g.name, g.driver ?? '-', u.package, u.current_version ?? '(new)', u.new_version]),
    ),
  );
  return `${head}\n${rows}`;
}

/** `pvepatch plan save <selector…>`, `plan list`, `plan show|approve|rm <id>`. */
export async function savedPlanCommand(
  api: Api,
  words: string[],
  securityOnly: boolean,
  print: (data: unknown, text: () => string) => void,
): Promise<void> {
  const [verb, ...rest] = words;
  if (verb === 'save') {
    if (rest.length === 0)
      throw new PvepatchError('input-invalid', "plan save needs a selector, e.g. 'pvepatch plan save tag:web'");
    const p = await api.post<SavedPlan>('/plans', { selector: rest, security_only: securityOnly });
    print(p, () => savedPlanText(p));
    return;
  }
  if (verb === 'list') {
    const rows = await api.get<SavedPlan[]>('/plans');
    print(rows, () => savedPlansText(rows));
    return;
  }
  const id = rest[0];
  if (!id || rest.length > 1) throw new PvepatchError('input-invalid', `plan ${verb} takes one plan id`);
  const path = `/plans/${encodeURIComponent(id)}`;
  const p =
    verb === 'show'
      ? await api.get<SavedPlan>(path)
      : verb === 'approve'
        ? await api.post<SavedPlan>(`${path}/approve`, {})
        : await api.delete<SavedPlan>(path);
  print(p, () => (verb === 'rm' ? `deleted plan ${p.id}` : savedPlanText(p)));
}
