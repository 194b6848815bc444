import { approvedDecision } from '../../approvals/drift.js';
import { exceptedUpdates } from '../../exceptions/match.js';
import { done, type Stage } from '../context.js';

/** Refreshes the package lists and lists the pending updates (a dry run stops at pre-guest, next). */
export const updates: Stage = {
  name: 'updates',
  async run(ctx) {
    const { driver, driverCtx } = ctx;
    await driver!.refresh(driverCtx!);
    const all = await driver!.listUpdates(driverCtx!, { exclude: ctx.exclude });
    ctx.result.exclusions = ctx.exclude.filter((name) => all.some((u) => u.package === name));
    // package exceptions: the matching pending updates join the run's exclusions (held during the
    // upgrade like them, so an admin's own holds stay as they are)
    const excepted = exceptedUpdates(
      ctx.target.exceptions ?? [],
      all.filter((u) => !ctx.exclude.includes(u.package)),
    );
    if (excepted.length > 0) {
      ctx.exclude = [...ctx.exclude, ...excepted.map((e) => e.package)];
      ctx.result.excepted = excepted;
      for (const e of excepted)
        ctx.log(
          `${e.package} ${e.current_version ?? '(new)'} -> ${e.new_version} kept back by exception ${e.exception}: ${e.reason}${e.expires_at ? ` (until ${e.expires_at})` : ''}`,
        );
    }
    if (ctx.target.approved) {
      // an approved plan: exactly its versions, nothing it did not list; refused when the guest drifted
      const d = approvedDecision(ctx.target.approved, all, driver!.pinsVersions === true);
      if (d.drift.length > 0) {
        const diff = d.drift.map((x) => `${x.package}: approved ${x.approved}, now ${x.now}`).join('; ');
        return {
          status: 'halt',
          outcome: 'refused',
          reason: `the guest changed since the plan was approved - ${diff}`,
        };
      }
      if (d.unapproved.length > 0) {
        ctx.exclude = [...new Set([...ctx.exclude, ...d.unapproved])];
        ctx.log(`kept back, not in the approved plan: ${d.unapproved.join(', ')}`);
      }
      // an exclusion or exception keeps its package back even when the plan approved it
      const kept = Object.keys(d.pins).filter((name) => ctx.exclude.includes(name));
      for (const name of kept) delete d.pins[name];
      if (kept.length > 0) ctx.log(`approved but kept back by an exclusion or exception: ${kept.join(', ')}`);
      if (driver!.pinsVersions) ctx.pins = d.pins;
      const pinned = all.filter((u) => u.package in d.pins).map((u) => ({ ...u, new_version: d.pins[u.package]! }));
      ctx.updates = pinned;
      ctx.result.packages = ctx.updates;
      if (ctx.updates.length === 0)
        return { status: 'halt', outcome: 'up-to-date', reason: 'nothing approved to update' };
      ctx.log(
        `${ctx.updates.length} approved update(s): ${ctx.updates.map((u) => `${u.package} ${u.current_version ?? '(new)'} -> ${u.new_version}`).join(', ')}`,
      );
      return done;
    }
    ctx.updates = all.filter((u) => !ctx.exclude.includes(u.package) && (!ctx.securityOnly || u.security));
    ctx.result.packages = ctx.updates;
    if (ctx.updates.length === 0) {
      const reason = ctx.securityOnly && all.length > 0 ? 'no security updates' : 'nothing to update';
      return { status: 'halt', outcome: 'up-to-date', reason };
    }
    ctx.log(
      `${ctx.updates.length} update(s): ${ctx.updates.map((u) => `${u.package} ${u.current_version ?? '(new)'} -> ${u.new_version}`).join(', ')}`,
    );
    return done; // a dry run ends after the pre-guest hooks
  },
};
