/* global Ext, gettext */
// The Patching view's other tabs: runs, rollouts, schedules, package exceptions and plans waiting
// for approval. Each is a grid over one API list, reloaded while shown, with a notice instead of
// an empty grid when the list cannot be read.

Ext.define('PVEPatch.grid.ApiList', {
  extend: 'Ext.grid.Panel',
  xtype: 'pvepatchApiList',

  /** API path of the list. */
  path: undefined,
  fields: [],
  /** Seconds between reloads while shown. */
  interval: 5,
  /** Maps the answer's data to rows. */
  rowsOf: function (data) {
    return data;
  },

  initComponent: function () {
    var me = this;
    me.store = Ext.create('Ext.data.Store', { fields: me.fields });
    me.dockedItems = [{ xtype: 'pvepatchNotice', itemId: 'notice' }];
    me.callParent();
    PVEPatch.Utils.poll(me, me.interval);
  },

  reload: function () {
    var me = this;
    PVEPatch.Utils.load(
      me,
      function () {
        return PVEPatch.API.get(me.path);
      },
      function (answer) {
        me.store.loadData(me.rowsOf(answer.data));
      },
      function () {
        me.store.removeAll();
      },
    );
  },

  selected: function () {
    var sel = this.getSelection();
    return sel.length > 0 ? sel[0].data : undefined;
  },
});

Ext.define('PVEPatch.dc.Runs', {
  extend: 'PVEPatch.grid.ApiList',
  xtype: 'pvepatchRuns',

  path: '/runs?limit=200',
  fields: ['id', 'state', 'started_at', 'ended_at', 'selector', 'dry_run', 'guest_count', 'counts', 'outcome'],
  emptyText: gettext('No runs yet'),

  columns: [
    { header: gettext('Start Time'), dataIndex: 'started_at', width: 150, renderer: PVEPatch.Utils.renderTime },
    { header: gettext('End Time'), dataIndex: 'ended_at', width: 150, renderer: PVEPatch.Utils.renderTime },
    { header: gettext('Guests'), dataIndex: 'selector', width: 160, renderer: PVEPatch.Utils.enc },
    {
      header: gettext('Outcomes'),
      dataIndex: 'counts',
      flex: 1,
      renderer: function (v) {
        return Object.keys(v || {})
          .map(function (k) {
            return PVEPatch.Utils.renderOutcome(k) + ': ' + v[k];
          })
          .join(', ');
      },
    },
    {
      header: gettext('Dry run'),
      dataIndex: 'dry_run',
      width: 70,
      renderer: function (v) {
        return v ? gettext('Yes') : '';
      },
    },
    { header: gettext('Status'), dataIndex: 'state', width: 110, renderer: PVEPatch.Utils.renderOutcome },
  ],

  initComponent: function () {
    var me = this;
    var open = function () {
      var run = me.selected();
      if (run) {
        Ext.create('PVEPatch.window.RunViewer', { runId: run.id, autoShow: true });
      }
    };
    me.tbar = [{ text: gettext('View'), itemId: 'view', handler: open }];
    me.callParent();
    me.on('itemdblclick', open);
  },
});

Ext.define('PVEPatch.dc.Rollouts', {
  extend: 'PVEPatch.grid.ApiList',
  xtype: 'pvepatchRollouts',

  path: '/rollouts',
  fields: [
    'id',
    'state',
    'created_at',
    'created_by',
    'ended_at',
    'guests',
    'group',
    'groups',
    'note',
    'runs',
    'options',
  ],
  emptyText: gettext('No rollouts'),

  columns: [
    { header: gettext('Created'), dataIndex: 'created_at', width: 150, renderer: PVEPatch.Utils.renderTime },
    { header: gettext('User'), dataIndex: 'created_by', width: 120, renderer: PVEPatch.Utils.enc },
    {
      header: gettext('Progress'),
      dataIndex: 'guests',
      width: 120,
      renderer: function (v) {
        var done = (v || []).filter(function (g) {
          return g.outcome && g.outcome !== 'interrupted';
        }).length;
        return done + ' / ' + (v || []).length;
      },
    },
    { header: gettext('Note'), dataIndex: 'note', flex: 1, renderer: PVEPatch.Utils.enc },
    { header: gettext('Status'), dataIndex: 'state', width: 110, renderer: PVEPatch.Utils.renderOutcome },
  ],

  rowsOf: function (data) {
    return data.slice().reverse();
  },

  initComponent: function () {
    var me = this;
    var open = function () {
      var ro = me.selected();
      if (ro) {
        Ext.create('PVEPatch.window.RolloutViewer', { rollout: ro, autoShow: true });
      }
    };
    me.tbar = [{ text: gettext('View'), itemId: 'view', handler: open }];
    me.callParent();
    me.on('itemdblclick', open);
  },
});

Ext.define('PVEPatch.dc.Schedules', {
  extend: 'PVEPatch.grid.ApiList',
  xtype: 'pvepatchSchedules',

  path: '/schedules',
  interval: 30,
  fields: ['id', 'cron', 'tz', 'selector', 'mode', 'window_minutes', 'enabled', 'next', 'require_approval'],
  emptyText: gettext('No schedules'),

  columns: [
    { header: 'ID', dataIndex: 'id', width: 140, renderer: PVEPatch.Utils.enc },
    {
      header: gettext('Enabled'),
      dataIndex: 'enabled',
      width: 70,
      renderer: function (v) {
        return v ? gettext('Yes') : gettext('No');
      },
    },
    { header: gettext('Schedule'), dataIndex: 'cron', width: 110, renderer: PVEPatch.Utils.enc },
    { header: gettext('Guests'), dataIndex: 'selector', width: 150, renderer: PVEPatch.Utils.renderList },
    { header: gettext('Mode'), dataIndex: 'mode', width: 70 },
    { header: gettext('Window (min)'), dataIndex: 'window_minutes', width: 95 },
    {
      header: gettext('Next Run'),
      dataIndex: 'next',
      flex: 1,
      renderer: function (v) {
        return Ext.isArray(v) && v.length > 0 ? PVEPatch.Utils.renderTime(v[0]) : '';
      },
    },
  ],

  initComponent: function () {
    var me = this;
    me.tbar = [
      {
        text: gettext('Run now'),
        itemId: 'run',
        handler: function () {
          var s = me.selected();
          if (s) {
            PVEPatch.API.post('/schedules/' + encodeURIComponent(s.id) + '/run').then(function () {
              me.reload();
            }, PVEPatch.Utils.alert);
          }
        },
      },
    ];
    me.callParent();
  },
});

Ext.define('PVEPatch.dc.Exceptions', {
  extend: 'PVEPatch.grid.ApiList',
  xtype: 'pvepatchExceptions',

  path: '/exceptions',
  interval: 30,
  fields: ['id', 'target', 'package', 'reason', 'expires_at', 'active', 'state', 'created_by'],
  emptyText: gettext('No package exceptions'),

  columns: [
    { header: gettext('Target'), dataIndex: 'target', width: 110, renderer: PVEPatch.Utils.enc },
    { header: gettext('Package'), dataIndex: 'package', width: 150, renderer: PVEPatch.Utils.enc },
    { header: gettext('Reason'), dataIndex: 'reason', flex: 1, renderer: PVEPatch.Utils.enc },
    { header: gettext('Expires'), dataIndex: 'expires_at', width: 150, renderer: PVEPatch.Utils.renderTime },
    { header: gettext('State'), dataIndex: 'state', width: 80, renderer: PVEPatch.Utils.enc },
    { header: gettext('User'), dataIndex: 'created_by', width: 120, renderer: PVEPatch.Utils.enc },
  ],

  initComponent: function () {
    var me = this;
    me.tbar = [
      {
        text: gettext('Add'),
        itemId: 'add',
        handler: function () {
          Ext.create('PVEPatch.window.Exception', {
            autoShow: true,
            listeners: {
              destroy: function () {
                me.reload();
              },
            },
          });
        },
      },
      {
        text: gettext('Remove'),
        itemId: 'remove',
        handler: function () {
          var e = me.selected();
          if (!e) {
            return;
          }
          Ext.Msg.confirm(
            gettext('Confirm'),
            Ext.String.format(gettext('Remove the exception for {0}?'), PVEPatch.Utils.enc(e.package)),
            function (btn) {
              if (btn === 'yes') {
                PVEPatch.API.request('DELETE', '/exceptions/' + encodeURIComponent(e.id)).then(function () {
                  me.reload();
                }, PVEPatch.Utils.alert);
              }
            },
          );
        },
      },
    ];
    me.callParent();
  },
});

Ext.define('PVEPatch.window.Exception', {
  extend: 'Ext.window.Window',

  title: gettext('Add') + ': ' + gettext('Package exception'),
  width: 460,
  modal: true,
  layout: 'fit',
  /** Preset target (a guest's tab). */
  target: '',

  initComponent: function () {
    var me = this;
    var form = Ext.create('Ext.form.Panel', {
      bodyPadding: 10,
      border: false,
      defaults: { anchor: '100%', labelWidth: 120, allowBlank: false },
      items: [
        {
          xtype: 'textfield',
          name: 'target',
          fieldLabel: gettext('Target'),
          value: me.target,
          emptyText: '101, tag:web, pool:prod',
        },
        { xtype: 'textfield', name: 'package', fieldLabel: gettext('Package'), emptyText: 'nginx, linux-image-*' },
        { xtype: 'textfield', name: 'reason', fieldLabel: gettext('Reason') },
        { xtype: 'datefield', name: 'expires', fieldLabel: gettext('Expires'), allowBlank: true, format: 'Y-m-d' },
      ],
    });
    me.items = [form];
    me.buttons = [
      {
        text: gettext('Add'),
        handler: function () {
          if (!form.isValid()) {
            return;
          }
          var v = form.getValues();
          var body = { target: v.target, package: v.package, reason: v.reason };
          if (v.expires) {
            body.expires_at = v.expires + 'T23:59:59Z';
          }
          PVEPatch.API.post('/exceptions', body).then(function () {
            me.close();
          }, PVEPatch.Utils.alert);
        },
      },
    ];
    me.callParent();
  },
});

Ext.define('PVEPatch.dc.Approvals', {
  extend: 'PVEPatch.grid.ApiList',
  xtype: 'pvepatchApprovals',

  path: '/plans',
  interval: 30,
  fields: ['id', 'state', 'created_by', 'created_at', 'approved_by', 'approved_at', 'guests', 'schedule', 'runs'],
  emptyText: gettext('No saved plans'),

  columns: [
    { header: 'ID', dataIndex: 'id', width: 150, renderer: PVEPatch.Utils.enc },
    { header: gettext('Created'), dataIndex: 'created_at', width: 150, renderer: PVEPatch.Utils.renderTime },
    { header: gettext('User'), dataIndex: 'created_by', width: 110, renderer: PVEPatch.Utils.enc },
    {
      header: gettext('Guests'),
      dataIndex: 'guests',
      flex: 1,
      renderer: function (v) {
        return PVEPatch.Utils.enc(
          (v || [])
            .map(function (g) {
              return g.vmid + ' (' + (g.packages || []).length + ')';
            })
            .join(', '),
        );
      },
    },
    { header: gettext('Approved by'), dataIndex: 'approved_by', width: 120, renderer: PVEPatch.Utils.enc },
    { header: gettext('Status'), dataIndex: 'state', width: 90, renderer: PVEPatch.Utils.enc },
  ],

  initComponent: function () {
    var me = this;
    me.tbar = [
      {
        text: gettext('Approve'),
        itemId: 'approve',
        handler: function () {
          var p = me.selected();
          if (p) {
            PVEPatch.API.post('/plans/' + encodeURIComponent(p.id) + '/approve').then(function () {
              me.reload();
            }, PVEPatch.Utils.alert);
          }
        },
      },
    ];
    me.callParent();
  },
});
