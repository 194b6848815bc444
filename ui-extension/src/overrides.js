/* global Ext, PVE, gettext */
// Where the panels go: Datacenter → Patching, and an Updates tab on every container and VM. Plain
// function expressions, so ExtJS' callParent can find the overridden methods.

Ext.define(null, {
  override: 'PVE.dc.Config',

  initComponent: function () {
    this.callParent(arguments);
    var caps = Ext.state.Manager.get('GuiCap');
    if (caps && caps.vms && caps.vms['VM.Audit']) {
      this.insertNodes([
        {
          xtype: 'pvepatchDatacenter',
          itemId: 'pvepatch',
          title: gettext('Patching'),
          iconCls: 'fa fa-arrow-circle-up',
        },
      ]);
    }
  },
});

Ext.define(null, {
  override: 'PVE.panel.Config',

  initComponent: function () {
    var me = this;
    if ((me instanceof PVE.lxc.Config || me instanceof PVE.qemu.Config) && Ext.isArray(me.items)) {
      let tab = {
        xtype: 'pvepatchGuestUpdates',
        itemId: 'pvepatch',
        title: gettext('Updates'),
        iconCls: 'fa fa-arrow-circle-up',
      };
      let at = me.items.findIndex(function (item) {
        return item && item.itemId === 'snapshot';
      });
      if (at === -1) {
        me.items.push(tab);
      } else {
        me.items.splice(at + 1, 0, tab);
      }
    }
    me.callParent(arguments);
  },
});
