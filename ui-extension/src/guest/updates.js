/* global Ext, gettext */
// A guest's Updates tab (LXC and QEMU): its pending packages, the package exceptions that apply
// to it, its runs with their task logs, and "Patch now" with the run's live log.
Ext.define('PVEPatch.guest.Updates', {
  extend: 'Ext.panel.Panel',
  xtype: 'pvepatchGuestUpdates',

  layout: { type: 'vbox', align: 'stretch' },
  border: false,
  scrollable: true,

  initComponent: function () {
    var me = this;
    var node = me.pveSelNode.data;
    me.vmid = Number(node.vmid);
    me.packages = Ext.create('Ext.grid.Panel', {
      title: gettext('Pending updates'),
      itemId: 'packages',
      flex: 2,
      minHeight: 150,
      store: { fields: ['package', 'current_version', 'new_version', 'security', 'repository'] },
      emptyText: gettext('No pending updates known - use "Check for updates"'),
      columns: PVEPatch.Utils.packageColumns(),
    });
    me.exceptions = Ext.create('Ext.grid.Panel', {
      title: gettext('Package exceptions'),
      itemId: 'exceptions',
      flex: 1,
      minHeight: 110,
      store: { fields: ['id', 'target', 'package', 'reason', 'expires_at', 'state'] },
      emptyText: gettext('No package exceptions'),
      columns: [
        { header: gettext('Package'), dataIndex: 'package', width: 180, renderer: PVEPatch.Utils.enc },
        { header: gettext('Reason'), dataIndex: 'reason', flex: 1, renderer: PVEPatch.Utils.enc },
        { header: gettext('Expires'), dataIndex: 'expires_at', width: 150, renderer: PVEPatch.Utils.renderTime },
        { header: gettext('Target'), dataIndex: 'target', width: 100, renderer: PVEPatch.Utils.enc },
        { header: gettext('State'), dataIndex: 'state', width: 80, renderer: PVEPatch.Utils.enc },
      ],
    });
    me.runs = Ext.create('Ext.grid.Panel', {
      title: gettext('Runs'),
      itemId: 'runs',
      flex: 2,
      minHeight: 150,
      store: { fields: ['id', 'state', 'outcome', 'started_at', 'ended_at', 'dry_run'] },
      emptyText: gettext('No runs yet'),
      columns: [
        { header: gettext('Start Time'), dataIndex: 'started_at', width: 150, renderer: PVEPatch.Utils.renderTime },
        { header: gettext('End Time'), dataIndex: 'ended_at', width: 150, renderer: PVEPatch.Utils.renderTime },
        { header: gettext('Outcome'), dataIndex: 'outcome', width: 130, renderer: PVEPatch.Utils.renderOutcome },
        { header: gettext('Run'), dataIndex: 'state', width: 100, renderer: PVEPatch.Utils.renderOutcome },
        { header: 'ID', dataIndex: 'id', flex: 1, renderer: PVEPatch.Utils.enc },
      ],
      listeners: {
        itemdblclick: function (view, rec) {
          Ext.create('PVEPatch.window.RunViewer', { runId: rec.data.id, autoShow: true });
        },
      },
    });
    me.patchBtn = Ext.create('Ext.button.Button', {
      text: gettext('Patch now'),
      itemId: 'patchNow',
      iconCls: 'fa fa-arrow-circle-up',
      hidden: true,
      handler: function () {
        Ext.Msg.confirm(
          gettext('Confirm'),
          Ext.String.format(gettext('Patch guest {0} now (snapshot first, per its policy)?'), me.vmid),
          function (btn) {
            if (btn !== 'yes') {
              return;
            }
            PVEPatch.API.post('/runs', { selector: [String(me.vmid)], exclude: [] }).then(function (answer) {
              var viewer = Ext.create('PVEPatch.window.RunViewer', { runId: answer.data.id, autoShow: true });
              viewer.on('destroy', function () {
                me.reload();
              });
              me.reload();
            }, PVEPatch.Utils.alert);
          },
        );
      },
    });
    me.checkBtn = Ext.create('Ext.button.Button', {
      text: gettext('Check for updates'),
      itemId: 'check',
      iconCls: 'fa fa-search',
      hidden: true,
      handler: function () {
        PVEPatch.Utils.checkUpdates(me, [String(me.vmid)]);
      },
    });
    me.tbar = [me.patchBtn, me.checkBtn, '->', { xtype: 'tbtext', itemId: 'summary' }];
    me.dockedItems = [{ xtype: 'pvepatchNotice', itemId: 'notice' }];
    me.items = [me.packages, me.exceptions, me.runs];
    me.callParent();
    PVEPatch.Utils.poll(me, 10);
  },

  reload: function () {
    var me = this;
    var id = String(me.vmid);
    PVEPatch.Utils.load(
      me,
      function () {
        return Promise.all([
          PVEPatch.API.get('/fleet?selector=' + id),
          PVEPatch.API.get('/permissions'),
          PVEPatch.API.get('/exceptions'),
          PVEPatch.API.get('/runs?vmid=' + id + '&limit=20'),
        ]);
      },
      function (a) {
        if (me.isDestroyed) {
          return;
        }
        me.down('#notice').setProblem(null);
        var row = a[0].data[0];
        var perm = a[1].data.guests.find(function (g) {
          return g.vmid === me.vmid;
        });
        me.patchBtn.setHidden(!(perm && perm.run));
        me.checkBtn.setHidden(!(perm && perm.run));
        me.packages.getStore().loadData(row ? row.packages : []);
        me.down('#summary').setText(
          row && row.updates_available !== null
            ? Ext.String.format(
                gettext('{0} pending, {1} security, checked {2}'),
                row.updates_available,
                row.security_updates,
                PVEPatch.Utils.renderTime(row.planned_at),
              )
            : '',
        );
        var tags = row && Ext.isArray(row.tags) ? row.tags : [];
        me.exceptions.getStore().loadData(
          a[2].data.filter(function (e) {
            return (
              e.target === id ||
              (e.target.indexOf('tag:') === 0 && tags.indexOf(e.target.slice(4)) !== -1) ||
              (row && row.pool && e.target === 'pool:' + row.pool)
            );
          }),
        );
        me.runs.getStore().loadData(a[3].data);
      },
    );
  },
});
