/* global Ext, PVE, Proxmox, gettext */
// Renderers and small helpers shared by the panels. Everything that came from a guest (names,
// package names, versions, reasons, log lines) is HTML-encoded before it reaches the page.

var OUTCOME_ICONS = {
  updated: 'fa fa-check good',
  'up-to-date': 'fa fa-check good',
  planned: 'fa fa-list-alt',
  skipped: 'fa fa-minus-circle',
  refused: 'fa fa-ban warning',
  failed: 'fa fa-times critical',
  'rolled-back': 'fa fa-undo critical',
  interrupted: 'fa fa-exclamation-triangle warning',
  cancelled: 'fa fa-stop',
  ok: 'fa fa-check good',
  error: 'fa fa-times critical',
  partial: 'fa fa-exclamation-triangle warning',
  running: 'fa fa-spinner fa-pulse',
  paused: 'fa fa-pause',
  halted: 'fa fa-hand-paper-o critical',
  completed: 'fa fa-check good',
};

Ext.define('PVEPatch.Utils', {
  singleton: true,

  enc: function (v) {
    return Ext.htmlEncode(v === undefined || v === null ? '' : String(v));
  },

  renderOutcome: function (value) {
    if (!value) {
      return '';
    }
    var icon = OUTCOME_ICONS[value] || 'fa fa-question-circle';
    return '<i class="' + icon + '"></i> ' + PVEPatch.Utils.enc(value);
  },

  renderTime: function (value, format) {
    if (!value) {
      return '';
    }
    var t = Date.parse(value);
    return Number.isNaN(t)
      ? PVEPatch.Utils.enc(value)
      : Ext.Date.format(new Date(t), typeof format === 'string' ? format : 'Y-m-d H:i:s');
  },

  renderGuest: function (value, meta, rec) {
    var d = rec.data;
    var icon = '';
    if (typeof PVE !== 'undefined' && PVE.Utils && PVE.Utils.get_object_icon_class) {
      icon = PVE.Utils.get_object_icon_class(d.type, { status: d.status, template: 0 });
    }
    return '<i class="' + icon + '"></i> ' + PVEPatch.Utils.enc(d.vmid + ' (' + (d.name || '') + ')');
  },

  renderCount: function (value) {
    return value === null || value === undefined ? '<span class="pvepatch-muted">?</span>' : String(value);
  },

  renderSecurity: function (value) {
    if (value === null || value === undefined) {
      return '<span class="pvepatch-muted">?</span>';
    }
    return value > 0 ? '<span class="pvepatch-security">' + value + '</span>' : '0';
  },

  renderList: function (value) {
    if (!Ext.isArray(value) || value.length === 0) {
      return '';
    }
    return PVEPatch.Utils.enc(value.join(', '));
  },

  renderVersionChange: function (from, to) {
    return PVEPatch.Utils.enc(from || gettext('(new)')) + ' &rarr; ' + PVEPatch.Utils.enc(to || gettext('(removed)'));
  },

  /** `vmid` as a selector the API understands. */
  selector: function (vmids) {
    return vmids.map(function (v) {
      return String(v);
    });
  },

  /** Calls `comp.reload` when it is shown and every `seconds` while it is visible; stops with it. */
  poll: function (comp, seconds) {
    var task = { run: comp.reload, scope: comp, interval: seconds * 1000 };
    comp.on('activate', comp.reload, comp);
    Ext.TaskManager.start(task);
    comp.on('destroy', function () {
      Ext.TaskManager.stop(task);
    });
  },

  /**
   * One load at a time, only while `comp` is visible: `load()` (a promise), then `show(answer)`; a
   * failure goes to the component's notice (and `clear()`, when given, empties what it showed).
   */
  load: function (comp, load, show, clear) {
    if (comp.loadingNow || comp.isDestroyed || !comp.isVisible(true)) {
      return;
    }
    comp.loadingNow = true;
    load().then(
      function (answer) {
        comp.loadingNow = false;
        if (!comp.isDestroyed) {
          comp.down('#notice').setProblem(null);
          show(answer);
        }
      },
      function (err) {
        comp.loadingNow = false;
        if (!comp.isDestroyed) {
          if (clear) {
            clear();
          }
          comp.down('#notice').setProblem(err);
        }
      },
    );
  },

  /** "Check for updates": plans the guests again (masking `comp`), then reloads it. */
  checkUpdates: function (comp, selector) {
    comp.setLoading(gettext('Checking for updates...'));
    PVEPatch.API.post('/fleet/refresh', { selector: selector }).then(
      function () {
        comp.setLoading(false);
        comp.reload();
      },
      function (err) {
        comp.setLoading(false);
        PVEPatch.Utils.alert(err);
      },
    );
  },

  /** Package, current → new, security and repository columns (a plan's or a guest's pending updates). */
  packageColumns: function () {
    return [
      { header: gettext('Package'), dataIndex: 'package', width: 220, renderer: PVEPatch.Utils.enc },
      { header: gettext('current'), dataIndex: 'current_version', width: 170, renderer: PVEPatch.Utils.enc },
      { header: gettext('new'), dataIndex: 'new_version', width: 170, renderer: PVEPatch.Utils.enc },
      {
        header: gettext('Security'),
        dataIndex: 'security',
        width: 80,
        renderer: function (v) {
          return v ? '<span class="pvepatch-security"><i class="fa fa-shield"></i> ' + gettext('Yes') + '</span>' : '';
        },
      },
      { header: gettext('Repository'), dataIndex: 'repository', flex: 1, renderer: PVEPatch.Utils.enc },
    ];
  },

  /** Shows an API error the Proxmox way (an unreachable API gets the whole explanation). */
  alert: function (err) {
    Ext.Msg.alert(gettext('Error'), err.status === 0 ? err.message : PVEPatch.Utils.enc(err.message));
  },
});
