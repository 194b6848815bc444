import { assertPackageNames } from '../../core/validate.js';
import type { Driver } from '../types.js';
import * as family from './family.js';
import { dnfTool } from './steps.js';
import { upgradeWith } from './upgrade.js';

/**
 * Fedora and the RHEL family from EL8 on: dnf 4 and rpm. Stateless; every call takes its context.
 * Exclusions are per-run `--exclude=` options, so there are no pvepatch holds to record or release.
 */
export const dnfDriver = {
  name: 'dnf',
  osIds: ['fedora', 'rhel', 'centos', 'rocky', 'almalinux', 'ol', 'amzn'],

  refresh: (ctx) => dnfTool.refresh(ctx),
  listUpdates: (ctx, opts?) => family.listUpdates(dnfTool, ctx, opts),
  precheck: (ctx, opts?) => family.precheck(dnfTool, ctx, opts),
  upgrade: (ctx, opts) => upgradeWith(dnfTool, ctx, opts),
  rebootRequired: (ctx) => family.rebootRequired(dnfTool, ctx),

  /** Nothing to release: dnf exclusions end with the run. Names are still validated. */
  async releaseHolds(_ctx, holds) {
    assertPackageNames(holds);
  },
} satisfies Driver;
