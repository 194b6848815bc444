import { type EventDataMap, type Notification, type NotifyEvent, SEVERITIES, type Severity } from './types.js';

/**
 * The severity of each event. A refused run is a `warning`: nothing was changed, but the guests
 * stay unpatched until someone removes the cause (a missing backup, a failed pre-check), so it
 * must get past a matcher that filters out mere notices. Pending updates are `info`, or `notice`
 * when some of them are security updates.
 */
export function severityOf<E extends NotifyEvent>(event: E, data: EventDataMap[E]): Severity {
  switch (event) {
    case 'run-ok':
    case 'test':
      return 'info';
    case 'run-refused':
      return 'warning';
    case 'run-error':
    case 'rollout-halted':
    case 'reboot-failed':
      return 'error';
    case 'updates-available':
      return (data as EventDataMap['updates-available']).security_updates > 0 ? 'notice' : 'info';
  }
  return 'error';
}

/** Whether `severity` is at least `min` (info < notice < warning < error). */
export function atLeast(severity: Severity, min: Severity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(min);
}

/** A notification for `event` with its severity; `fields` adds matcher fields such as `job-id`. */
export function notification<E extends NotifyEvent>(
  event: E,
  data: EventDataMap[E],
  fields: Record<string, string> = {},
): Notification<E> {
  return { event, severity: severityOf(event, data), data, fields } as Notification<E>;
}
