/* global Ext, gettext */
// Datacenter → Patching: the fleet and, as tabs, runs, rollouts, schedules, package exceptions and
// approvals. Which actions show is decided by the daemon's GET /permissions answer.
Ext.define('PVEPatch.dc.Panel', {
  extend: 'Ext.tab.Panel',
  xtype: 'pvepatchDatacenter',

  border: false,

  initComponent: function () {
    var me = this;
    me.items = [
      { xtype: 'pvepatchFleet', title: gettext('Guests'), itemId: 'fleet' },
      { xtype: 'pvepatchRuns', title: gettext('Runs'), itemId: 'runs' },
      { xtype: 'pvepatchRollouts', title: gettext('Rollouts'), itemId: 'rollouts' },
      { xtype: 'pvepatchSchedules', title: gettext('Schedules'), itemId: 'schedules' },
      { xtype: 'pvepatchExceptions', title: gettext('Exceptions'), itemId: 'exceptions' },
      { xtype: 'pvepatchApprovals', title: gettext('Approvals'), itemId: 'approvals' },
    ];
    me.callParent();
    // the fleet asks for the caller's permissions with every reload; the other tabs follow it
    me.down('#fleet').on('permissions', me.applyPermissions, me);
  },

  applyPermissions: function (perms) {
    var me = this;
    var anyRun = perms.guests.some(function (g) {
      return g.run;
    });
    var anyExceptions = perms.guests.some(function (g) {
      return g.exceptions;
    });
    me.down('#schedules #run').setHidden(!perms.sys_modify);
    me.down('#exceptions #add').setHidden(!anyExceptions);
    me.down('#exceptions #remove').setHidden(!anyExceptions);
    me.down('#approvals #approve').setHidden(!anyRun);
  },
});
