import { assertPackageNames } from '../../core/validate.js';
import * as family from '../dnf/family.js';
import { upgradeWith } from '../dnf/upgrade.js';
import type { Driver } from '../types.js';
import { yumTool } from './steps.js';

/**
 * RHEL/CentOS 7 and older: yum 3.4.3 and rpm, with the rpm-family sequence of the dnf driver.
 * No os-release IDs of its own: detection picks it for an rpm-family guest without /usr/bin/dnf.
 */
export const yumDriver = {
  name: 'yum',
  osIds: [],

  refresh: (ctx) => yumTool.refresh(ctx),
  listUpdates: (ctx, opts?) => family.listUpdates(yumTool, ctx, opts),
  precheck: (ctx, opts?) => family.precheck(yumTool, ctx, opts),
  upgrade: (ctx, opts) => upgradeWith(yumTool, ctx, opts),
  rebootRequired: (ctx) => family.rebootRequired(yumTool, ctx),

  /** Nothing to release: yum exclusions end with the run. Names are still validated. */
  async releaseHolds(_ctx, holds) {
    assertPackageNames(holds);
  },
} satisfies Driver;
