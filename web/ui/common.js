// Shared by the pages of the maskdetect UI: the API helpers (bearer token from ?token=), formatting, and the
// hash router (#grid, #live, #events, #history; a page's own parameters after '?', e.g. #events?camera=door).
// Each page script registers { show(params), hide() } in MD.pages; one page is shown at a time, and a hidden
// page holds no connection (MJPEG, WebSocket, camera) and no timer.
'use strict';

window.MD = (() => {
  const params = new URLSearchParams(location.search);
  const token = params.get('token') || '';
  const LABELS = ['mask', 'no_mask', 'incorrect'];
  // One colour per label, defined once in app.css (--md-<label>, the SDK's label_color()); the text colour that
  // reads on it (black or white, as the SDK draws its tags).
  const rootStyle = getComputedStyle(document.documentElement);
  const COLORS = Object.fromEntries(LABELS.map((l) => [l, rootStyle.getPropertyValue('--md-' + l).trim() || '#888']));
  const TEXT_ON = { mask: '#000', no_mask: '#fff', incorrect: '#000' };

  /// An error of the API, with its HTTP status (0: no answer) and the error code of its JSON body.
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function withToken(path) {
    if (!token || !path) return path;
    return path + (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
  }
  function headers() {
    return token ? { Authorization: 'Bearer ' + token } : {};
  }
  /// fetch + JSON; throws ApiError (status 404 for an endpoint this server does not have).
  async function api(path, options = {}) {
    let res;
    try {
      res = await fetch(path, { ...options, headers: { ...headers(), ...(options.headers || {}) } });
    } catch (e) {
      throw new ApiError(0, 'network', 'the server does not answer');
    }
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      // not JSON: an HTML error page of a proxy, or nothing
    }
    if (!res.ok) {
      const err = body && body.error ? body.error : {};
      throw new ApiError(res.status, err.code || 'http_' + res.status, err.message || res.statusText);
    }
    return body;
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key.startsWith('data-') || key.startsWith('aria-') || key === 'role' || key === 'scope')
        node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }
  const percent = (rate) => (rate === null || rate === undefined ? '–' : Math.round(rate * 100) + '%');
  const labelText = (label) => label.replace('_', ' ');
  function badge(label) {
    return el('span', { class: 'badge ' + (LABELS.includes(label) ? 'label-bg-' + label : 'text-bg-secondary'), text: label });
  }
  /// "12:04:31" today, "3 Dec 12:04" otherwise (local time).
  function time(seconds) {
    const d = new Date(seconds * 1000);
    const today = new Date();
    if (d.toDateString() === today.toDateString()) return d.toLocaleTimeString();
    return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' }) + ' ' +
      d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  }
  function ago(seconds) {
    const s = Math.max(0, Date.now() / 1000 - seconds);
    if (s < 60) return Math.round(s) + ' s ago';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  }
  /// A message in an alert box (hidden when text is empty).
  function message(box, text, kind = 'secondary') {
    box.hidden = !text;
    box.className = 'alert alert-' + kind;
    box.textContent = text || '';
  }
  /// The text shown when an endpoint fails: 404 means this server has no such endpoint (an older build).
  function unavailable(what, error) {
    if (error.status === 404 && error.code !== 'no_such_event')
      return `${what} is not available on this server (its API answers 404: a build without it).`;
    if (error.status === 401) return `${what}: the server needs a token (add ?token=... to the page address).`;
    return `${what}: ${error.message}`;
  }

  // ---- router ----------------------------------------------------------------------------------------
  const pages = {};
  let current = null;

  function parseHash() {
    const hash = location.hash.replace(/^#/, '');
    const [name, query] = hash.split('?');
    return { name, params: new URLSearchParams(query || '') };
  }
  function show(name, pageParams) {
    if (current && current !== name && pages[current]) pages[current].hide();
    for (const section of document.querySelectorAll('section.page')) section.hidden = section.id !== 'page-' + name;
    for (const link of document.querySelectorAll('#page-nav .nav-link')) {
      const active = link.dataset.page === name;
      link.classList.toggle('active', active);
      if (active) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    document.body.dataset.page = name;
    current = name;
    pages[name].show(pageParams);
  }
  function route() {
    const { name, params: pageParams } = parseHash();
    if (pages[name]) show(name, pageParams);
  }
  /// #page?key=value: also the links' way (a plain href).
  function go(name, pageParams) {
    const query = pageParams ? new URLSearchParams(pageParams).toString() : '';
    const hash = '#' + name + (query ? '?' + query : '');
    if (location.hash === hash) route();
    else location.hash = hash;
  }
  window.addEventListener('hashchange', route);
  document.addEventListener('DOMContentLoaded', async () => {
    api('/api/v1/info').then((info) => {
      document.getElementById('version').textContent = info.version;
    }, () => {});
    if (pages[parseHash().name]) return route();
    // No page named: ?mode= asks for the live view; else the camera grid where the server has it.
    let start = 'live';
    if (!params.get('mode')) {
      try {
        await api('/api/v1/cameras');
        start = 'grid';
      } catch (e) {
        start = e.status === 404 ? 'live' : 'grid';  // 404: a server without the grid
      }
    }
    history.replaceState(null, '', location.pathname + location.search + '#' + start);
    route();
  });

  return { token, params, LABELS, COLORS, TEXT_ON, ApiError, withToken, headers, api, el, percent, labelText, badge, time,
    ago, message, unavailable, pages, go };
})();
