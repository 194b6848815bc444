/* global Ext, PVE, gettext */
// Where the panels go: Datacenter → Patching (after Replication), and an Updates tab on every
// container and VM (after Snapshots). PVE.panel.Config builds its menu from `items`, and the
// concrete classes fill `items` before they call it, so the tab is placed here. Plain function
// expressions, so ExtJS' callParent can find the overridden method.

function insertAfter(items, afterId, item) {
  const at = items.findIndex(function (it) {
    return it && it.itemId === afterId;
  });
  if (at === -1) {
    items.push(item);
  } else {
    items.splice(at + 1, 0, item);
  }
}

Ext.define(null, {
  override: 'PVE.panel.Config',

  initComponent: function () {
    var me = this;
    if (Ext.isArray(me.items)) {
      if (me instanceof PVE.dc.Config) {
        const caps = Ext.state.Manager.get('GuiCap');
        if (caps && caps.vms && caps.vms['VM.Audit']) {
          insertAfter(me.items, 'replication', {
            xtype: 'pvepatchDatacenter',
            itemId: 'pvepatch',
            title: gettext('Patching'),
            iconCls: 'fa fa-arrow-circle-up',
          });
        }
      } else if (me instanceof PVE.lxc.Config || me instanceof PVE.qemu.Config) {
        insertAfter(me.items, 'snapshot', {
          xtype: 'pvepatchGuestUpdates',
          itemId: 'pvepatch',
          title: gettext('Updates'),
          iconCls: 'fa fa-arrow-circle-up',
        });
      }
    }
    me.callParent(arguments);
  },
});
