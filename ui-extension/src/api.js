/* global Ext, Proxmox, gettext */
// The daemon's HTTPS API, called from the browser with the logged-in user's own Proxmox ticket (the
// PVEAuthCookie, sent because the daemon listens on another port of the same host) and CSRF token.
// The port comes from this script's own URL (`?ver=…&port=…`, written by `pvepatch ui install`).

var DEFAULT_PORT = 8016;

function scriptPort(src) {
  var query = (src || '').split('?')[1] || '';
  var parts = query.split('&');
  for (let i = 0; i < parts.length; i++) {
    const kv = parts[i].split('=');
    if (kv[0] === 'port' && /^[0-9]{1,5}$/.test(kv[1] || '') && Number(kv[1]) > 0 && Number(kv[1]) < 65536) {
      return Number(kv[1]);
    }
  }
  return DEFAULT_PORT;
}

// read now: document.currentScript is only set while this file runs
var PORT = scriptPort(document.currentScript ? document.currentScript.src : '');

function errorOf(status, body, fallback) {
  var message = body && body.error && typeof body.error.message === 'string' ? body.error.message : fallback;
  return { status: status, code: (body && body.error && body.error.code) || 'http-' + status, message: message };
}

Ext.define('PVEPatch.API', {
  singleton: true,

  port: PORT,

  /** https://<the host this page came from>:<port> */
  origin: function () {
    return 'https://' + window.location.hostname + ':' + this.port;
  },

  /**
   * Resolves with the answer's `data` (and `total`), rejects with {status, code, message};
   * status 0 means the browser could not reach the API at all.
   */
  request: function (method, path, body) {
    var me = this;
    var headers = { Accept: 'application/json' };
    if (method !== 'GET') {
      headers.CSRFPreventionToken = Proxmox.CSRFPreventionToken;
      headers['Content-Type'] = 'application/json';
    }
    return fetch(me.origin() + '/api/v1' + path, {
      method: method,
      mode: 'cors',
      credentials: 'include',
      cache: 'no-store',
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(
      function (resp) {
        return resp.text().then(function (text) {
          var json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          if (!resp.ok || !json) {
            throw errorOf(resp.status, json, 'HTTP ' + resp.status + ' ' + resp.statusText);
          }
          return json;
        });
      },
      function () {
        throw { status: 0, code: 'unreachable', message: me.unreachableText() };
      },
    );
  },

  get: function (path) {
    return this.request('GET', path);
  },

  post: function (path, body) {
    return this.request('POST', path, body || {});
  },

  /** Server-sent events of a run or rollout; `onEvent(type, data)`; returns the EventSource. */
  events: function (path, onEvent, onError) {
    var source = new EventSource(this.origin() + '/api/v1' + path, { withCredentials: true });
    var types = [
      'run-started',
      'stage',
      'log',
      'guest-result',
      'run-finished',
      'rollout',
      'rollout-halted',
      'rollout-finished',
    ];
    types.forEach(function (type) {
      source.addEventListener(type, function (ev) {
        var data;
        try {
          data = JSON.parse(ev.data);
        } catch {
          return;
        }
        onEvent(type, data);
        if (type === 'run-finished' || type === 'rollout-finished') {
          source.close();
        }
      });
    });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED && onError) {
        onError();
      }
    };
    return source;
  },

  unreachableText: function () {
    var url = this.origin() + '/';
    return Ext.String.format(
      gettext('The browser cannot reach the pvepatch API at {0}.') +
        '<ul>' +
        '<li>' +
        gettext('Is the daemon running on this node? Check with {1}.') +
        '</li>' +
        '<li>' +
        gettext(
          'Does this browser trust its certificate? pvepatch uses the node\'s own certificate on port {2}; open <a href="{0}api/v1/version" target="_blank" rel="noopener noreferrer">{0}</a> once and accept it, or give the node a trusted certificate (node → System → Certificates).',
        ) +
        '</li>' +
        '<li>' +
        gettext("Is this page's address {3} allowed? Add it to api_origins in /etc/pvepatch/pvepatch.conf.") +
        '</li>' +
        '</ul>',
      Ext.htmlEncode(url),
      '<code>systemctl status pvepatchd</code>',
      this.port,
      Ext.htmlEncode(window.location.origin),
    );
  },
});
