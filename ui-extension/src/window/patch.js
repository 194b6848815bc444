/* global Ext, gettext */
// "Patch": a rollout of the selected guests - batch size (guests at once), a canary group, the
// reboot policy, what to do on failure and when to halt - then its live progress from the daemon's
// event stream.

Ext.define('PVEPatch.window.Patch', {
  extend: 'Ext.window.Window',
  xtype: 'pvepatchPatchWindow',

  title: gettext('Patch'),
  width: 460,
  modal: true,
  layout: 'fit',
  guests: [],

  initComponent: function () {
    var me = this;
    var policy = gettext('Guest policy');
    var vmids = me.guests.map(function (g) {
      return g.vmid;
    });
    me.form = Ext.create('Ext.form.Panel', {
      bodyPadding: 10,
      border: false,
      defaults: { anchor: '100%', labelWidth: 170 },
      items: [
        {
          xtype: 'displayfield',
          fieldLabel: gettext('Guests'),
          value: PVEPatch.Utils.enc(
            me.guests
              .map(function (g) {
                return g.vmid + ' (' + g.name + ')';
              })
              .join(', '),
          ),
        },
        {
          xtype: 'proxmoxintegerfield',
          name: 'batch',
          fieldLabel: gettext('Guests at once'),
          minValue: 1,
          maxValue: 64,
          value: Math.min(2, Math.max(1, vmids.length)),
          allowBlank: false,
        },
        {
          xtype: 'proxmoxintegerfield',
          name: 'canary',
          fieldLabel: gettext('Canary guests first'),
          minValue: 0,
          maxValue: 100,
          value: 0,
          allowBlank: false,
        },
        {
          xtype: 'combobox',
          name: 'reboot',
          fieldLabel: gettext('Reboot'),
          editable: false,
          value: '',
          store: [
            ['', policy],
            ['never', gettext('Never')],
            ['if-required', gettext('If required')],
            ['always', gettext('Always')],
          ],
        },
        {
          xtype: 'combobox',
          name: 'on_failure',
          fieldLabel: gettext('On failure'),
          editable: false,
          value: '',
          store: [
            ['', policy],
            ['keep', gettext('Keep the guest as it is')],
            ['rollback', gettext('Roll back to the snapshot')],
          ],
        },
        {
          xtype: 'proxmoxintegerfield',
          name: 'max_failures',
          fieldLabel: gettext('Halt after failures'),
          minValue: 0,
          maxValue: 10000,
          value: 0,
          allowBlank: false,
        },
        {
          xtype: 'proxmoxcheckbox',
          name: 'security_only',
          fieldLabel: gettext('Security updates only'),
          defaultValue: 0,
        },
      ],
    });
    me.items = [me.form];
    me.buttons = [
      {
        text: gettext('Patch'),
        itemId: 'start',
        iconCls: 'fa fa-arrow-circle-up',
        handler: function () {
          me.start(vmids);
        },
      },
    ];
    me.callParent();
  },

  start: function (vmids) {
    var me = this;
    if (!me.form.isValid()) {
      return;
    }
    var v = me.form.getValues();
    var body = {
      selector: PVEPatch.Utils.selector(vmids),
      batch: Number(v.batch),
      canary: Number(v.canary),
      max_failures: Number(v.max_failures),
      security_only: v.security_only === 1 || v.security_only === '1' || v.security_only === true,
    };
    if (v.reboot) {
      body.reboot = v.reboot;
    }
    if (v.on_failure) {
      body.on_failure = v.on_failure;
    }
    me.setLoading(true);
    PVEPatch.API.post('/rollouts', body).then(
      function (answer) {
        me.setLoading(false);
        // this window stays (hidden) while the rollout runs, so its listeners hear the end
        me.hide();
        var viewer = Ext.create('PVEPatch.window.RolloutViewer', { rollout: answer.data, autoShow: true });
        viewer.on('finished', function () {
          me.fireEvent('finished', vmids);
        });
        viewer.on('destroy', function () {
          me.close();
        });
      },
      function (err) {
        me.setLoading(false);
        PVEPatch.Utils.alert(err);
      },
    );
  },
});

Ext.define('PVEPatch.window.RolloutViewer', {
  extend: 'Ext.window.Window',
  xtype: 'pvepatchRolloutViewer',

  width: 900,
  height: 560,
  layout: 'fit',
  /** The rollout as the API returned it. */
  rollout: undefined,

  initComponent: function () {
    var me = this;
    var ro = me.rollout;
    me.title = gettext('Rollout') + ' ' + ro.id;
    me.guestStore = Ext.create('Ext.data.Store', {
      fields: ['vmid', 'name', 'group', 'stage', 'outcome', 'reason', 'changes', 'run_id'],
      data: ro.guests,
    });
    me.progress = Ext.create('Ext.ProgressBar', { itemId: 'progress', text: gettext('starting') });
    me.logText = Ext.create('PVEPatch.panel.LogText', { title: gettext('Output'), itemId: 'output' });
    me.guestGrid = Ext.create('Ext.grid.Panel', {
      title: gettext('Guests'),
      itemId: 'guests',
      store: me.guestStore,
      viewConfig: { markDirty: false },
      columns: [
        { header: 'ID', dataIndex: 'vmid', width: 70 },
        { header: gettext('Name'), dataIndex: 'name', width: 130, renderer: PVEPatch.Utils.enc },
        { header: gettext('Group'), dataIndex: 'group', width: 60 },
        { header: gettext('Stage'), dataIndex: 'stage', width: 90, renderer: PVEPatch.Utils.enc },
        { header: gettext('Outcome'), dataIndex: 'outcome', width: 110, renderer: PVEPatch.Utils.renderOutcome },
        {
          header: gettext('Packages'),
          dataIndex: 'changes',
          flex: 1,
          cellWrap: true,
          renderer: function (v, meta, rec) {
            return v || PVEPatch.Utils.enc(rec.data.reason);
          },
        },
      ],
    });
    me.items = [{ xtype: 'tabpanel', items: [me.guestGrid, me.logText] }];
    me.tbar = [
      {
        text: gettext('Pause'),
        itemId: 'pause',
        handler: function () {
          me.steer('pause');
        },
      },
      {
        text: gettext('Resume'),
        itemId: 'resume',
        handler: function () {
          me.steer('resume');
        },
      },
      {
        text: gettext('Cancel'),
        itemId: 'cancel',
        handler: function () {
          me.steer('cancel');
        },
      },
      '->',
      me.progress,
    ];
    me.callParent();
    me.runSources = {};
    me.on('show', me.follow, me);
    me.on('destroy', function () {
      if (me.source) {
        me.source.close();
      }
      Object.keys(me.runSources).forEach(function (id) {
        me.runSources[id].close();
      });
    });
    me.showState(ro);
  },

  steer: function (action) {
    var me = this;
    PVEPatch.API.post('/rollouts/' + encodeURIComponent(me.rollout.id) + '/' + action).then(function (answer) {
      me.showState(answer.data);
    }, PVEPatch.Utils.alert);
  },

  showState: function (ro) {
    var me = this;
    me.rollout = ro;
    var done = ro.guests.filter(function (g) {
      return g.outcome && g.outcome !== 'interrupted';
    }).length;
    var total = ro.guests.length || 1;
    me.progress.updateProgress(
      done / total,
      ro.state + ' - ' + done + '/' + ro.guests.length + ' ' + gettext('guests'),
    );
    ro.guests.forEach(function (g) {
      var rec = me.guestStore.findRecord('vmid', g.vmid, 0, false, true, true);
      if (rec) {
        rec.set({ outcome: g.outcome, reason: g.reason, run_id: g.run_id }, { silent: false });
      }
    });
    var running = ro.state === 'running';
    me.down('#pause').setDisabled(!running);
    me.down('#resume').setDisabled(ro.state !== 'paused');
    me.down('#cancel').setDisabled(!running && ro.state !== 'paused');
    (ro.runs || []).forEach(function (id) {
      me.followRun(id);
    });
    if (!running && ro.state !== 'paused' && !me.finishedFired) {
      me.finishedFired = true;
      me.fireEvent('finished', me, ro);
    }
  },

  /** The rollout's own events: its progress, halts and end. */
  follow: function () {
    var me = this;
    var id = encodeURIComponent(me.rollout.id);
    me.source = PVEPatch.API.events('/rollouts/' + id + '/events', function (type) {
      if (type === 'rollout' || type === 'rollout-halted' || type === 'rollout-finished') {
        PVEPatch.API.get('/rollouts/' + id).then(function (answer) {
          if (!me.isDestroyed) {
            me.showState(answer.data);
          }
        });
      }
    });
  },

  /** A group's run: stages, log lines and each guest's result with its changed packages. */
  followRun: function (runId) {
    var me = this;
    if (me.runSources[runId]) {
      return;
    }
    me.runSources[runId] = PVEPatch.API.events('/runs/' + encodeURIComponent(runId) + '/events', function (type, e) {
      if (me.isDestroyed) {
        return;
      }
      var rec =
        e.vmid !== undefined && e.vmid !== null ? me.guestStore.findRecord('vmid', e.vmid, 0, false, true, true) : null;
      if (type === 'stage' && rec) {
        rec.set('stage', e.stage);
      } else if (type === 'log') {
        me.logText.appendLines([(e.vmid ? e.vmid + ': ' : '') + e.line]);
      } else if (type === 'guest-result') {
        const r = e.result;
        rec = me.guestStore.findRecord('vmid', r.vmid, 0, false, true, true);
        if (rec) {
          rec.set({
            stage: '',
            outcome: r.outcome,
            reason: r.reason || '',
            changes: (r.changed || [])
              .map(function (c) {
                return PVEPatch.Utils.enc(c.package) + ' ' + PVEPatch.Utils.renderVersionChange(c.before, c.after);
              })
              .join(', '),
          });
        }
      } else if (type === 'run-finished') {
        PVEPatch.API.get('/rollouts/' + encodeURIComponent(me.rollout.id)).then(function (answer) {
          if (!me.isDestroyed) {
            me.showState(answer.data);
          }
        });
      }
    });
  },
});
