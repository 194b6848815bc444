/* global Ext, gettext */
// A bar above a grid that says why it is empty: the API unreachable (with how to fix it), the
// user's login refused, or a privilege missing - instead of an empty grid.
Ext.define('PVEPatch.panel.Notice', {
  extend: 'Ext.Component',
  xtype: 'pvepatchNotice',

  dock: 'top',
  hidden: true,
  cls: 'pvepatch-notice',

  setProblem: function (err) {
    var me = this;
    if (!err) {
      me.setHidden(true);
      return;
    }
    var title;
    var body;
    if (err.status === 0) {
      title = gettext('pvepatch is not reachable');
      body = err.message; // built from this page's own address, encoded there
    } else if (err.status === 401) {
      title = gettext('pvepatch did not accept your login');
      body =
        PVEPatch.Utils.enc(err.message) +
        '<br>' +
        gettext('Log out and in again; pvepatch checks every ticket with this node.');
    } else if (err.status === 403) {
      title = gettext('Permission denied');
      body = PVEPatch.Utils.enc(err.message);
    } else {
      title = gettext('pvepatch answered with an error');
      body = PVEPatch.Utils.enc(err.message);
    }
    me.update(
      '<div class="pvepatch-unreachable"><h2><i class="fa fa-exclamation-triangle critical"></i> ' +
        title +
        '</h2>' +
        body +
        '</div>',
    );
    me.setHidden(false);
  },
});
