/* global Ext, Proxmox, gettext */
// A run's task log, the way Proxmox's task viewer shows a task: "Output" (the log, followed while
// the run is running) and "Status" (state, times, guests per outcome), a Stop button for a running
// run.

Ext.define('PVEPatch.panel.LogText', {
  extend: 'Ext.panel.Panel',
  xtype: 'pvepatchLogText',

  scrollable: true,
  bodyPadding: 5,
  bodyStyle: 'white-space: pre; font-family: monospace;',
  /** Lines kept on the page. */
  maxLines: 20000,

  initComponent: function () {
    this.lines = [];
    this.callParent();
  },

  setLines: function (lines) {
    this.lines = [];
    this.appendLines(lines);
  },

  appendLines: function (lines) {
    var me = this;
    if (lines.length === 0 && me.rendered && me.lines.length > 0) {
      return;
    }
    me.lines = me.lines.concat(lines);
    if (me.lines.length > me.maxLines) {
      me.lines = me.lines.slice(me.lines.length - me.maxLines);
    }
    var body = me.body;
    var atEnd = !body || body.dom.scrollTop + body.dom.clientHeight >= body.dom.scrollHeight - 20;
    me.update(Ext.htmlEncode(me.lines.join('\n')));
    // plain DOM: Ext's scroller answers a hidden panel with a rejected promise
    if (atEnd && me.body) {
      me.body.dom.scrollTop = me.body.dom.scrollHeight;
    }
  },

  getText: function () {
    return this.lines.join('\n');
  },
});

/** Rows of `key: value`, as Proxmox's object grids show a task's status (filled by setValues). */
Ext.define('PVEPatch.grid.KeyValue', {
  extend: 'Ext.grid.Panel',
  xtype: 'pvepatchKeyValue',

  hideHeaders: true,
  disableSelection: true,
  /** [key, header, renderer?] in display order. */
  rows: [],

  initComponent: function () {
    var me = this;
    me.store = Ext.create('Ext.data.Store', { fields: ['key', 'header', 'value'] });
    me.columns = [
      {
        dataIndex: 'header',
        width: 150,
        renderer: function (v) {
          return '<b>' + PVEPatch.Utils.enc(v) + '</b>';
        },
      },
      {
        dataIndex: 'value',
        flex: 1,
        renderer: function (v, meta, rec) {
          var row = me.rows.find(function (r) {
            return r[0] === rec.data.key;
          });
          return row && row[2] ? row[2](v) : PVEPatch.Utils.enc(v);
        },
      },
    ];
    me.callParent();
  },

  setValues: function (values) {
    this.store.loadData(
      this.rows
        .filter(function (r) {
          return values[r[0]] !== undefined && values[r[0]] !== null && values[r[0]] !== '';
        })
        .map(function (r) {
          return { key: r[0], header: r[1], value: values[r[0]] };
        }),
    );
  },
});

Ext.define('PVEPatch.window.RunViewer', {
  extend: 'Ext.window.Window',
  xtype: 'pvepatchRunViewer',

  width: 860,
  height: 500,
  layout: 'fit',
  modal: false,
  /** The run's id. */
  runId: undefined,

  initComponent: function () {
    var me = this;
    me.title = gettext('pvepatch run') + ' ' + me.runId;
    me.statusGrid = Ext.create('PVEPatch.grid.KeyValue', {
      title: gettext('Status'),
      itemId: 'status',
      rows: [
        ['state', gettext('Status'), PVEPatch.Utils.renderOutcome],
        ['id', gettext('Run')],
        ['selector', gettext('Guests')],
        ['started_at', gettext('Start Time'), PVEPatch.Utils.renderTime],
        ['ended_at', gettext('End Time'), PVEPatch.Utils.renderTime],
        ['outcomes', gettext('Outcomes')],
        ['dry_run', gettext('Dry run'), Proxmox.Utils.format_boolean],
        ['error', gettext('Error')],
      ],
    });
    me.logText = Ext.create('PVEPatch.panel.LogText', { title: gettext('Output'), itemId: 'output' });
    me.stopBtn = Ext.create('Ext.button.Button', {
      text: gettext('Stop'),
      itemId: 'stop',
      disabled: true,
      handler: function () {
        PVEPatch.API.post('/runs/' + encodeURIComponent(me.runId) + '/cancel').then(null, PVEPatch.Utils.alert);
      },
    });
    me.items = [{ xtype: 'tabpanel', items: [me.logText, me.statusGrid] }];
    me.tbar = [me.stopBtn];
    me.callParent();
    me.logCount = 0;
    me.on('show', me.poll, me);
    me.on('destroy', function () {
      clearTimeout(me.timer);
    });
  },

  poll: function () {
    var me = this;
    var id = encodeURIComponent(me.runId);
    Promise.all([PVEPatch.API.get('/runs/' + id), PVEPatch.API.get('/runs/' + id + '/log?start=' + me.logCount)]).then(
      function (answers) {
        if (me.isDestroyed) {
          return;
        }
        var run = answers[0].data;
        var log = answers[1];
        me.logCount += log.data.length;
        me.logText.appendLines(
          log.data.map(function (l) {
            return l.t;
          }),
        );
        var counts = {};
        Object.keys(run.guests || {}).forEach(function (k) {
          counts[run.guests[k]] = (counts[run.guests[k]] || 0) + 1;
        });
        me.statusGrid.setValues(
          Ext.apply({}, run, {
            outcomes: Object.keys(counts)
              .map(function (k) {
                return k + ': ' + counts[k];
              })
              .join(', '),
          }),
        );
        var running = run.state === 'running';
        me.stopBtn.setDisabled(!running);
        if (running) {
          me.timer = setTimeout(function () {
            me.poll();
          }, 1000);
        }
      },
      function (err) {
        if (!me.isDestroyed) {
          me.logText.appendLines([gettext('Error') + ': ' + err.message.replace(/<[^>]*>/g, ' ')]);
        }
      },
    );
  },
});
