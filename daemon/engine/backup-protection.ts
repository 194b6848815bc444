/**
 * `fallback backup`: a guest that cannot be snapshotted counts as protected when the Proxmox Backup
 * Server lists a backup snapshot of it, not failing verification, at most `backup-max-age` hours
 * old. The PBS API's snapshot list is the source of truth; a result a backup hook reported (PBS
 * Plus) is only shown beside it. Not knowing (PBS unreachable, refused, misconfigured) refuses.
 */
import type { Config } from '../config/schema.js';
import { errorMessage, PvepatchError } from '../core/errors.js';
import { escapeControls } from '../core/escape.js';
import { type PbsApiOptions, type PbsSnapshotItem, pbsSnapshots } from '../pbs/index.js';
import type { GuestContext } from './context.js';
import type { PbsBackupProof } from './types.js';

/** Accepts the guest's newest PBS backup as its protection, or throws 'protection-failed' saying why not. */
export async function protectWithPbsBackup(ctx: GuestContext, why: string): Promise<void> {
  const { svc, target, policy } = ctx;
  const g = target.guest;
  const refuse = (text: string) => new PvepatchError('protection-failed', `${why}; ${text}`);
  const api = pbsApi(svc.config);
  if (typeof api === 'string') throw refuse(`fallback backup needs ${api} in pvepatch.conf`);
  const datastore = svc.config.pbs_datastore;
  const namespace = svc.config.pbs_namespace;
  const type = g.type === 'lxc' ? 'ct' : 'vm';
  let items: PbsSnapshotItem[];
  try {
    items = await pbsSnapshots(api, { store: datastore, ns: namespace, type, id: String(g.vmid) });
  } catch (err) {
    throw refuse(`fallback backup cannot tell whether a recent backup exists - ${errorMessage(err)}`);
  }
  const now = (svc.now?.() ?? new Date()).getTime();
  const mine = items.filter((s) => s.type === type && s.id === String(g.vmid));
  const usable = mine.filter((s) => s.verification !== 'failed');
  const newest = usable.reduce<PbsSnapshotItem | undefined>((a, s) => (a && a.time >= s.time ? a : s), undefined);
  const where = `PBS datastore '${datastore}'${namespace ? ` namespace '${namespace}'` : ''}`;
  const guestName = `${type === 'ct' ? 'CT' : 'VM'} ${g.vmid}`;
  const maxMs = policy.backupMaxAge * 3_600_000;
  if (!newest || now - newest.time * 1000 > maxMs) {
    const failed = mine.length - usable.length;
    const seen = `newest: ${newest ? utc(newest.time) : 'none'}${failed > 0 ? `; ${failed} failing verification not counted` : ''}`;
    throw refuse(
      `no backup of ${guestName} on ${where} newer than ${policy.backupMaxAge} h (${seen}) - run a backup first or change fallback`,
    );
  }
  const reported = svc.backups?.lastSuccess(g.vmid);
  const proof: PbsBackupProof = {
    datastore,
    namespace,
    id: `${type}/${g.vmid}/${new Date(newest.time * 1000).toISOString().replace('.000Z', 'Z')}`,
    time: new Date(newest.time * 1000).toISOString(),
    age_hours: Math.round((now - newest.time * 1000) / 360_000) / 10,
    verification: newest.verification === 'ok' ? 'ok' : null,
    ...(reported ? { reported_at: reported.at } : {}),
  };
  ctx.result.protection = 'backup';
  ctx.result.pbs_backup = proof;
  const hook = reported ? `; PBS Plus reported a successful backup at ${utc(Date.parse(reported.at) / 1000)}` : '';
  ctx.log(
    `no snapshot possible (${why}); protected by the backup ${proof.id} on ${where} (${proof.age_hours} h old, ${proof.verification === 'ok' ? 'verified' : 'not verified'}, limit ${policy.backupMaxAge} h)${escapeControls(hook)}`,
    { essential: true },
  );
}

/** The PBS API options from the config, or the names of the keys missing. */
function pbsApi(cfg: Config): PbsApiOptions | string {
  const missing = (['pbs_url', 'pbs_token', 'pbs_fingerprint', 'pbs_datastore'] as const).filter((k) => !cfg[k]);
  if (missing.length > 0) return missing.join(', ');
  const token = cfg.pbs_token ?? '';
  const colon = token.indexOf(':');
  return {
    url: cfg.pbs_url,
    tokenId: token.slice(0, colon),
    secret: token.slice(colon + 1),
    fingerprint: cfg.pbs_fingerprint ?? '',
    timeoutMs: cfg.api_timeout * 1000,
  };
}

/** `2026-12-05 03:00 UTC` */
function utc(epochSeconds: number): string {
  return `${new Date(epochSeconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
