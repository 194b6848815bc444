/* global Ext, gettext */
// Datacenter → Patching → Fleet: every guest the user may see, its pending and security updates,
// what is held back, the last run and a pending reboot; Plan and Patch for the selected guests, each
// shown only as far as the user's privileges (as the daemon answers them) allow.

Ext.define('PVEPatch.data.Guest', {
  extend: 'Ext.data.Model',
  idProperty: 'vmid',
  fields: [
    { name: 'vmid', type: 'int' },
    'name',
    'node',
    'type',
    'status',
    'tags',
    'pool',
    'transport',
    'skip_reason',
    'unreachable',
    'driver',
    'os',
    { name: 'updates_available', allowNull: true },
    { name: 'security_updates', allowNull: true },
    'packages',
    'held',
    'excepted',
    'planned_at',
    'last_run',
    'reboot',
    'next_schedule',
    { name: 'may_run', type: 'boolean' },
    'run_refused',
    {
      name: 'last_outcome',
      calculate: function (d) {
        return d.last_run ? d.last_run.outcome : '';
      },
    },
    {
      name: 'tag_list',
      calculate: function (d) {
        return Ext.isArray(d.tags) ? d.tags.join(' ') : '';
      },
    },
  ],
});

Ext.define('PVEPatch.dc.Fleet', {
  extend: 'Ext.grid.Panel',
  xtype: 'pvepatchFleet',

  stateful: true,
  stateId: 'grid-pvepatch-fleet',
  emptyText: gettext('No guests'),
  /** Seconds between reloads while shown. */
  interval: 10,

  selModel: { selType: 'checkboxmodel', mode: 'MULTI' },
  viewConfig: { markDirty: false },

  columns: [
    { header: gettext('Guest'), dataIndex: 'vmid', width: 150, renderer: PVEPatch.Utils.renderGuest },
    { header: gettext('Node'), dataIndex: 'node', width: 70 },
    { header: gettext('Type'), dataIndex: 'type', width: 60 },
    {
      header: gettext('OS') + ' / ' + gettext('Driver'),
      dataIndex: 'os',
      width: 140,
      renderer: function (v, m, rec) {
        return PVEPatch.Utils.enc((v || '') + (rec.data.driver ? ' / ' + rec.data.driver : ''));
      },
    },
    { header: gettext('Transport'), dataIndex: 'transport', width: 75, renderer: PVEPatch.Utils.enc },
    {
      header: gettext('Pending'),
      dataIndex: 'updates_available',
      width: 80,
      align: 'right',
      renderer: function (v, meta, rec) {
        return rec.data.skip_reason ? '-' : PVEPatch.Utils.renderCount(v);
      },
    },
    {
      header: gettext('Security'),
      dataIndex: 'security_updates',
      width: 80,
      align: 'right',
      renderer: function (v, meta, rec) {
        return rec.data.skip_reason ? '-' : PVEPatch.Utils.renderSecurity(v);
      },
    },
    {
      header: gettext('Held') + ' / ' + gettext('Exceptions'),
      dataIndex: 'held',
      width: 100,
      renderer: function (v, meta, rec) {
        var held = Ext.isArray(v) ? v : [];
        var excepted = Ext.isArray(rec.data.excepted) ? rec.data.excepted : [];
        if (held.length + excepted.length === 0) {
          return '';
        }
        var tip = held
          .map(function (p) {
            return PVEPatch.Utils.enc(p) + ': ' + gettext('held');
          })
          .concat(
            excepted.map(function (e) {
              return PVEPatch.Utils.enc(e.package + ': ' + e.reason);
            }),
          );
        meta.tdAttr = 'data-qtip="' + Ext.htmlEncode(tip.join('<br>')) + '"';
        return held.length + ' / ' + excepted.length;
      },
    },
    {
      header: gettext('Last run'),
      dataIndex: 'last_outcome',
      width: 200,
      renderer: function (v, m, rec) {
        var r = rec.data.last_run;
        return r
          ? PVEPatch.Utils.renderOutcome(r.outcome) + ' ' + PVEPatch.Utils.renderTime(r.ended_at, 'Y-m-d H:i')
          : '';
      },
    },
    {
      header: gettext('Reboot'),
      dataIndex: 'reboot',
      width: 80,
      renderer: function (v) {
        return v === 'pending' ? '<i class="fa fa-refresh warning"></i> ' + gettext('pending') : PVEPatch.Utils.enc(v);
      },
    },
    {
      header: gettext('Next schedule'),
      dataIndex: 'next_schedule',
      width: 210,
      renderer: function (v) {
        return v ? PVEPatch.Utils.renderTime(v.at, 'Y-m-d H:i') + ' (' + PVEPatch.Utils.enc(v.id) + ')' : '';
      },
    },
    { header: gettext('Tags'), dataIndex: 'tag_list', width: 100, hidden: true },
    { header: gettext('Pool'), dataIndex: 'pool', width: 80, hidden: true },
    {
      header: gettext('Note'),
      dataIndex: 'skip_reason',
      flex: 1,
      minWidth: 120,
      renderer: function (v, meta, rec) {
        // a guest on a node without a running pvepatchd: nothing about it is known
        if (rec.data.unreachable) {
          return '<i class="fa fa-exclamation-triangle warning"></i> ' + PVEPatch.Utils.enc(v || rec.data.unreachable);
        }
        return PVEPatch.Utils.enc(v);
      },
    },
  ],

  initComponent: function () {
    var me = this;
    me.store = Ext.create('Ext.data.Store', {
      model: 'PVEPatch.data.Guest',
      sorters: 'vmid',
    });

    var selected = function () {
      return me.getSelection().map(function (rec) {
        return rec.data;
      });
    };
    var allMayRun = function () {
      var sel = selected();
      return (
        sel.length > 0 &&
        sel.every(function (g) {
          return g.may_run;
        })
      );
    };

    me.planBtn = Ext.create('Ext.button.Button', {
      text: gettext('Plan'),
      iconCls: 'fa fa-list-alt',
      itemId: 'plan',
      hidden: true,
      disabled: true,
      handler: function () {
        Ext.create('PVEPatch.window.Plan', { guests: selected(), autoShow: true });
      },
    });
    me.patchBtn = Ext.create('Ext.button.Button', {
      text: gettext('Patch'),
      iconCls: 'fa fa-arrow-circle-up',
      itemId: 'patch',
      hidden: true,
      disabled: true,
      handler: function () {
        Ext.create('PVEPatch.window.Patch', {
          guests: selected(),
          autoShow: true,
          listeners: {
            finished: function (vmids) {
              me.refreshGuests(vmids);
            },
          },
        });
      },
    });
    me.refreshBtn = Ext.create('Ext.button.Button', {
      text: gettext('Check for updates'),
      iconCls: 'fa fa-search',
      itemId: 'refresh',
      hidden: true,
      handler: function () {
        var sel = selected().filter(function (g) {
          return g.may_run;
        });
        me.refreshGuests(
          sel.length > 0
            ? sel.map(function (g) {
                return g.vmid;
              })
            : undefined,
        );
      },
    });

    var filterCombo = function (itemId, label, field, matches) {
      return Ext.create('Ext.form.field.ComboBox', {
        itemId: itemId,
        fieldLabel: label,
        labelWidth: 35,
        width: 160,
        editable: false,
        queryMode: 'local',
        displayField: 'value',
        valueField: 'value',
        store: { fields: ['value'], data: [] },
        emptyText: gettext('All'),
        triggers: {
          clear: {
            cls: 'pmx-clear-trigger',
            weight: -1,
            hidden: true,
            handler: function () {
              this.setValue(null);
            },
          },
        },
        listeners: {
          change: function (combo, value) {
            combo.triggers.clear.setVisible(!!value);
            me.store.removeFilter(itemId);
            if (value) {
              me.store.addFilter({
                id: itemId,
                filterFn: function (rec) {
                  return matches(rec.data[field], value);
                },
              });
            }
          },
        },
      });
    };
    var equals = function (a, b) {
      return a === b;
    };
    me.nodeFilter = filterCombo('nodeFilter', gettext('Node'), 'node', equals);
    me.tagFilter = filterCombo('tagFilter', gettext('Tag'), 'tags', function (tags, v) {
      return Ext.isArray(tags) && tags.indexOf(v) !== -1;
    });
    me.poolFilter = filterCombo('poolFilter', gettext('Pool'), 'pool', equals);

    me.clusterText = Ext.create('Ext.toolbar.TextItem', { itemId: 'cluster', hidden: true });

    me.tbar = {
      // with the cluster line a narrow window may not fit it all
      overflowHandler: 'scroller',
      items: [me.planBtn, me.patchBtn, me.refreshBtn, '->', me.clusterText, me.nodeFilter, me.tagFilter, me.poolFilter],
    };
    me.dockedItems = [{ xtype: 'pvepatchNotice', itemId: 'notice' }];

    me.callParent();

    me.on('selectionchange', function () {
      var ok = allMayRun();
      me.planBtn.setDisabled(!ok);
      me.patchBtn.setDisabled(!ok);
    });
    me.on('itemdblclick', function (view, rec) {
      if (rec.data.may_run) {
        Ext.create('PVEPatch.window.Plan', { guests: [rec.data], autoShow: true });
      }
    });
    PVEPatch.Utils.poll(me, me.interval);
  },

  /** Re-plans guests (all the user may plan when none given), then reloads. */
  refreshGuests: function (vmids) {
    PVEPatch.Utils.checkUpdates(this, vmids ? PVEPatch.Utils.selector(vmids) : ['all']);
  },

  reload: function () {
    var me = this;
    PVEPatch.Utils.load(
      me,
      function () {
        return Promise.all([
          PVEPatch.API.get('/fleet'),
          PVEPatch.API.get('/permissions'),
          // an older daemon, or any failure: no cluster line (the notice speaks for an unreachable API)
          PVEPatch.API.get('/cluster').then(
            function (answer) {
              return answer.data;
            },
            function () {
              return null;
            },
          ),
        ]);
      },
      function (answers) {
        me.applyAnswers(answers[0].data, answers[1].data);
        me.showCluster(answers[2]);
      },
      function () {
        me.store.removeAll();
        me.showCluster(null);
      },
    );
  },

  /** The toolbar's cluster line (GET /cluster): leader, quorum, nodes without pvepatchd; hidden standalone. */
  showCluster: function (view) {
    var me = this;
    var enc = PVEPatch.Utils.enc;
    if (!view || view.mode !== 'cluster') {
      me.clusterText.setHidden(true);
      return;
    }
    var nodes = Ext.isArray(view.nodes) ? view.nodes : [];
    var down = nodes.filter(function (n) {
      return !n.alive;
    });
    if (view.quorate === false) {
      // no node can publish its status without quorum: what the others seem to be says nothing now
      me.clusterText.update(
        '<i class="fa fa-exclamation-triangle warning"></i> ' +
          gettext('Cluster') +
          ': ' +
          gettext('No quorum - nothing new starts until it returns'),
      );
      me.clusterText.setHidden(false);
      return;
    }
    var parts = [
      Ext.String.format(gettext('leader {0}'), view.leader ? enc(view.leader) : gettext('none')),
      view.quorate ? gettext('quorum OK') : gettext('quorum unknown'),
      Ext.String.format(gettext('pvepatchd on {0}/{1} nodes'), nodes.length - down.length, nodes.length),
    ];
    var downText = '';
    if (down.length > 0) {
      const tip = down
        .map(function (n) {
          return n.reason ? enc(n.reason) : enc(n.node) + ': ' + gettext('not running');
        })
        .join('<br>');
      downText =
        ' · <span data-qtip="' +
        Ext.htmlEncode(tip) +
        '">' +
        Ext.String.format(
          gettext('not running on {0}'),
          enc(
            down
              .map(function (n) {
                return n.node;
              })
              .join(', '),
          ),
        ) +
        '</span>';
    }
    me.clusterText.update(
      (down.length > 0 ? '<i class="fa fa-exclamation-triangle warning"></i> ' : '') +
        gettext('Cluster') +
        ': ' +
        parts.join(' · ') +
        downText,
    );
    me.clusterText.setHidden(false);
  },

  applyAnswers: function (rows, perms) {
    var me = this;
    var may = {};
    perms.guests.forEach(function (g) {
      may[g.vmid] = g;
    });
    rows.forEach(function (r) {
      var p = may[r.vmid];
      r.may_run = !!(p && p.run);
      r.run_refused = p ? p.run_refused : undefined;
    });
    var anyRun = rows.some(function (r) {
      return r.may_run;
    });
    // a user who may patch nothing gets no Plan or Patch at all
    me.planBtn.setHidden(!anyRun);
    me.patchBtn.setHidden(!anyRun);
    me.refreshBtn.setHidden(!anyRun);
    me.permissions = perms;
    me.fireEvent('permissions', perms);

    var selectedIds = me.getSelection().map(function (rec) {
      return rec.getId();
    });
    me.store.loadData(rows);
    var again = selectedIds
      .map(function (id) {
        return me.store.getById(id);
      })
      .filter(Boolean);
    if (again.length > 0) {
      me.getSelectionModel().select(again, false, true);
    }
    me.fireEvent('selectionchange', me, me.getSelection());

    var values = function (field) {
      var seen = {};
      rows.forEach(function (r) {
        [].concat(r[field] || []).forEach(function (v) {
          if (v) {
            seen[v] = true;
          }
        });
      });
      return Object.keys(seen)
        .sort()
        .map(function (v) {
          return { value: v };
        });
    };
    me.nodeFilter.getStore().loadData(values('node'));
    me.tagFilter.getStore().loadData(values('tags'));
    me.poolFilter.getStore().loadData(values('pool'));
  },
});
