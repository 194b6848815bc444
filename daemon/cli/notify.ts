import type { Command } from 'commander';
import type { DeliveryResult } from '../notify/notifier.js';
import type { NotifyView } from '../notify/service.js';
import { EXIT } from './exit-codes.js';
import { table } from './format.js';

export interface NotifyCommandDeps {
  api: () => {
    get<T>(path: string): Promise<T>;
    post<T>(path: string, body: unknown): Promise<T>;
  };
  print: (data: unknown, text: () => string) => void;
  /** A failed test delivery exits EXIT.failed. */
  setExit: (code: number) => void;
}

export function notifyText(v: NotifyView): string {
  const lines = [
    v.source === 'file'
      ? `channels from ${v.file}`
      : `no ${v.file}: the host's own notification system (or mail to root)`,
  ];
  if (v.error) lines.push(`warning: ${v.error}`);
  for (const r of v.refused) lines.push(`refused: ${r.reason}`);
  lines.push(
    table(
      ['CHANNEL', 'KIND', 'EVENTS', 'MIN SEVERITY', 'SENT', 'FAILED', 'LAST'],
      v.channels.map((c) => [
        `${c.name}${c.disabled ? ' (disabled)' : ''}`,
        c.kind,
        c.events === 'all' ? 'all' : c.events.join(','),
        c.min_severity,
        String(c.sent),
        String(c.failed),
        c.last ? `${c.last.at} ${c.last.event} ${c.last.ok ? 'ok' : `failed: ${c.last.error ?? ''}`}` : '-',
      ]),
    ),
  );
  return lines.join('\n');
}

export function deliveriesText(rows: DeliveryResult[]): string {
  if (rows.length === 0) return 'no notification channel is configured';
  return rows.map((r) => `${r.channel} (${r.kind}): ${r.outcome} - ${r.message}`).join('\n');
}

/** `pvepatch notify status|test [--channel <name>]`. */
export function addNotifyCommand(program: Command, deps: NotifyCommandDeps): Command {
  const cmd = program
    .command('notify')
    .description("notification channels: the host's Proxmox notifications, mail, webhooks, SMTP");
  cmd
    .command('status')
    .description('the channels and their last delivery')
    .action(async () => {
      const v = await deps.api().get<NotifyView>('/notifications');
      deps.print(v, () => notifyText(v));
    });
  cmd
    .command('test')
    .description("send the 'test' notification to every channel, or one")
    .option('--channel <name>', 'only this channel (also when it is disabled or filters the event out)')
    .action(async (o: { channel?: string }) => {
      const rows = await deps
        .api()
        .post<DeliveryResult[]>('/notifications/test', o.channel ? { channel: o.channel } : {});
      deps.print(rows, () => deliveriesText(rows));
      if (rows.some((r) => r.outcome === 'failed')) deps.setExit(EXIT.failed);
    });
  return cmd;
}
