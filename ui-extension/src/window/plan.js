/* global Ext, gettext */
// "Plan": what a patch of the selected guests would do, per guest - each package with its current
// and new version and whether it is a security update, what is held or excepted, and the snapshot
// and reboot plan. Nothing is installed.
Ext.define('PVEPatch.window.Plan', {
  extend: 'Ext.window.Window',
  xtype: 'pvepatchPlanWindow',

  title: gettext('Patch plan'),
  width: 900,
  height: 560,
  modal: true,
  layout: 'fit',
  /** The guests (fleet rows) to plan. */
  guests: [],

  initComponent: function () {
    var me = this;
    var store = Ext.create('Ext.data.Store', {
      fields: ['vmid', 'guest', 'package', 'current_version', 'new_version', 'security', 'repository', 'header'],
      groupField: 'guest',
    });
    me.items = [
      {
        xtype: 'grid',
        itemId: 'packages',
        store: store,
        emptyText: gettext('Planning...'),
        features: [
          {
            ftype: 'grouping',
            enableGroupingMenu: false,
            groupHeaderTpl: new Ext.XTemplate('{[this.header(values)]}', {
              header: function (values) {
                var first = values.children && values.children[0];
                return first ? first.get('header') : '';
              },
            }),
          },
        ],
        columns: PVEPatch.Utils.packageColumns(),
      },
    ];
    me.buttons = [
      {
        text: gettext('Close'),
        handler: function () {
          me.close();
        },
      },
    ];
    me.callParent();
    var vmids = me.guests.map(function (g) {
      return g.vmid;
    });
    me.setTitle(gettext('Patch plan') + ': ' + vmids.join(', '));
    me.on('show', function () {
      me.setLoading(gettext('Planning...'));
      PVEPatch.API.post('/plan', { selector: PVEPatch.Utils.selector(vmids), exclude: [] }).then(
        function (answer) {
          if (me.isDestroyed) {
            return;
          }
          me.setLoading(false);
          store.loadData(me.rowsOf(answer.data));
        },
        function (err) {
          if (me.isDestroyed) {
            return;
          }
          me.setLoading(false);
          me.close();
          PVEPatch.Utils.alert(err);
        },
      );
    });
  },

  /** One row per package, each carrying its guest's header (the grouping shows it once). */
  rowsOf: function (plans) {
    var enc = PVEPatch.Utils.enc;
    var rows = [];
    plans.forEach(function (p) {
      var guest = p.vmid + ' (' + p.name + ')';
      var facts = [];
      if (p.skip_reason) {
        facts.push('<span class="critical">' + gettext('skipped') + ': ' + enc(p.skip_reason) + '</span>');
      } else {
        facts.push(
          p.updates_available +
            ' ' +
            gettext('updates') +
            (p.security_updates
              ? ', <span class="pvepatch-security">' + p.security_updates + ' ' + gettext('security') + '</span>'
              : ''),
        );
        facts.push(
          gettext('Snapshot') + ': ' + (p.protection === 'snapshot' ? gettext('before the upgrade') : gettext('none')),
        );
        facts.push(gettext('Reboot') + ': ' + enc(p.reboot));
        facts.push(gettext('On failure') + ': ' + enc(p.on_failure));
      }
      if (p.exclusions && p.exclusions.length > 0) {
        facts.push(gettext('Held') + ': ' + enc(p.exclusions.join(', ')));
      }
      (p.excepted || []).forEach(function (e) {
        facts.push(gettext('Exception') + ': ' + enc(e.package + ' (' + e.reason + ')'));
      });
      var header =
        '<b>' +
        enc(guest) +
        '</b> &middot; ' +
        enc((p.os || '?') + ' / ' + (p.driver || '?')) +
        ' &middot; ' +
        facts.join(' &middot; ');
      if (!p.packages || p.packages.length === 0) {
        rows.push({
          vmid: p.vmid,
          guest: guest,
          header: header,
          package: p.skip_reason ? '' : gettext('(up to date)'),
        });
        return;
      }
      p.packages.forEach(function (pkg) {
        rows.push({
          vmid: p.vmid,
          guest: guest,
          header: header,
          package: pkg.package,
          current_version: pkg.current_version || gettext('(new)'),
          new_version: pkg.new_version,
          security: pkg.security,
          repository: pkg.repository,
        });
      });
    });
    return rows;
  },
});
