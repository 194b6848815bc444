import { assertPackageNames } from '../../core/validate.js';
import type { Driver } from '../types.js';
import * as family from './family.js';
import type { RpmTool } from './tool.js';
import { upgradeWith } from './upgrade.js';

/**
 * An rpm-family driver from its tool: the same sequence for dnf and yum. Exclusions are per-run
 * `--exclude=` options, so there are no pvepatch holds to record or release.
 */
export function rpmDriver(tool: RpmTool, id: Pick<Driver, 'osIds' | 'ostypes' | 'binary'>): Driver {
  return {
    name: tool.name,
    ...id,
    // an approved plan's versions go to dnf/yum as `name-[epoch:]version-release` specs
    pinsVersions: true,
    refresh: (ctx) => tool.refresh(ctx),
    listUpdates: (ctx, opts) => family.listUpdates(tool, ctx, opts),
    precheck: (ctx, opts) => family.precheck(tool, ctx, opts),
    upgrade: (ctx, opts) => upgradeWith(tool, ctx, opts),
    rebootRequired: (ctx) => family.rebootRequired(tool, ctx),
    /** Nothing to release: the exclusions ended with the run. Names are still validated. */
    async releaseHolds(_ctx, holds) {
      assertPackageNames(holds);
    },
  };
}
