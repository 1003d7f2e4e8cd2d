// The Events page: stored events (GET /api/v1/events), newest first, filtered by camera, label and time,
// paged with the answer's `next`; a row opens its clean snapshot, with the event's face box drawn over it, and
// its face crop, deleted with DELETE when the page has the server's token (?token=...).
'use strict';

(() => {
  const { el, api, withToken, token, LABELS, percent, badge, time, message, unavailable } = window.MD;
  const $ = (id) => document.getElementById(id);
  const form = $('event-filters');
  const body = $('events-body');
  const box = $('events-message');
  const info = $('events-info');
  const older = $('events-older');
  const newer = $('events-newer');
  const camera = $('filter-camera');
  const label = $('filter-label');
  const since = $('filter-since');
  const until = $('filter-until');
  const modalEl = $('event-modal');
  let PAGE = 25;  // events a page (#events?limit=N)
  let current = null;   // the URL of the page shown
  let previous = [];    // the URLs of the newer pages
  let next = null;
  let open = null;      // the event shown in the dialog
  let before = '';      // #events?before=ID: only events older than that one (a link that stays the same)

  const toSeconds = (value) => (value ? String(Math.floor(new Date(value).getTime() / 1000)) : '');
  function fromSeconds(seconds) {
    if (!seconds) return '';
    const d = new Date(Number(seconds) * 1000);
    const local = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
    return local.toISOString().slice(0, 19);
  }

  function filterParams() {
    const p = new URLSearchParams();
    if (camera.value) p.set('camera', camera.value);
    if (label.value) p.set('label', label.value);
    if (toSeconds(since.value)) p.set('since', toSeconds(since.value));
    if (toSeconds(until.value)) p.set('until', toSeconds(until.value));
    if (before) p.set('before', before);
    return p;
  }

  function ensureCamera(name) {
    if (name && ![...camera.options].some((o) => o.value === name)) camera.append(el('option', { value: name, text: name }));
  }

  async function loadCameras() {
    try {
      const answer = await api('/api/v1/cameras');
      for (const c of answer.cameras) ensureCamera(c.name);
    } catch (e) {
      // the filter still takes the cameras seen in events
    }
  }

  /// "mask removed: was mask" when the event is a change of the person's label (previous_label), else ''.
  function change(event) {
    if (!event.previous_label) return '';
    return `${event.label === 'no_mask' ? 'mask removed' : 'label changed'}: was ${event.previous_label}`;
  }

  /// Draws `event`'s face box over `picture` (a positioned box holding the picture, sized as it is displayed):
  /// an outline in the label's colour, at box / frame_size of the displayed size, and the label's tag above it
  /// (below or inside where there is no room), both kept inside the picture. Nothing when box or frame_size
  /// is unknown (null).
  function drawBox(picture, event) {
    for (const old of picture.querySelectorAll('.event-box, .event-box-tag')) old.remove();
    picture.observer?.disconnect();
    const [fw, fh] = event.frame_size || [];
    if (!event.box || !(fw > 0 && fh > 0)) return;
    const [x, y, w, h] = event.box;
    const x0 = Math.max(0, Math.min(x, fw));
    const y0 = Math.max(0, Math.min(y, fh));
    const x1 = Math.max(x0, Math.min(x + w, fw));
    const y1 = Math.max(y0, Math.min(y + h, fh));
    const pct = (v, of) => `${(100 * v) / of}%`;
    const known = LABELS.includes(event.label);
    const outline = el('div', { class: 'event-box' + (known ? ' label-border-' + event.label : '') });
    Object.assign(outline.style, { left: pct(x0, fw), top: pct(y0, fh), width: pct(x1 - x0, fw), height: pct(y1 - y0, fh) });
    const tag = el('span', { class: 'event-box-tag rounded-1 ' + (known ? 'label-bg-' + event.label : 'text-bg-secondary'),
      text: event.label, 'aria-hidden': 'true' });
    picture.append(outline, tag);
    // The tag in pixels, placed again whenever the displayed size changes (image loaded, window resized).
    picture.observer = new ResizeObserver(() => {
      const W = picture.clientWidth;
      const H = picture.clientHeight;
      const tw = tag.offsetWidth;
      const th = tag.offsetHeight;
      const bx = (x0 / fw) * W;
      const by = (y0 / fh) * H;
      const bottom = (y1 / fh) * H;
      tag.style.left = Math.max(0, Math.min(bx, W - tw)) + 'px';
      tag.style.top = Math.max(0, Math.min(by - th >= 0 ? by - th : bottom, H - th)) + 'px';
    });
    picture.observer.observe(picture);
  }

  function row(event) {
    const framed = 'event-thumb border border-2' + (LABELS.includes(event.label) ? ' label-border-' + event.label : '');
    const thumb = event.crop
      ? el('img', { class: framed, src: withToken(event.crop), alt: `face of event ${event.id}` })
      : el('span', { class: 'text-body-secondary', text: '–' });
    const view = el('button', { type: 'button', class: 'btn btn-sm btn-outline-primary', text: 'View',
      'aria-label': `View event ${event.id}` });
    const tr = el('tr', { class: 'event-row', 'data-id': String(event.id) },
      el('td', {}, thumb),
      el('td', { class: 'text-nowrap' }, el('time', { dateTime: event.time, text: time(event.last_seen) })),
      el('td', { class: 'text-break', text: event.camera }),
      el('td', {}, badge(event.label),
        change(event) ? el('div', { class: 'small text-body-secondary', text: change(event) }) : null),
      el('td', { class: 'd-none d-md-table-cell', text: percent(event.confidence) }),
      el('td', { class: 'd-none d-md-table-cell text-nowrap', text: `${Number(event.duration_s).toFixed(1)} s` }),
      el('td', { class: 'text-end' }, view));
    tr.addEventListener('click', () => showEvent(event));
    return tr;
  }

  async function load(url) {
    let answer;
    body.setAttribute('aria-busy', 'true');
    body.dataset.state = 'loading';
    try {
      answer = await api(url);
    } catch (e) {
      body.replaceChildren();
      body.dataset.state = e.status === 404 ? 'unavailable' : 'error';
      message(box, unavailable('Events', e), e.status === 404 || e.code === 'no_event_store' ? 'secondary' : 'warning');
      older.disabled = newer.disabled = true;
      info.textContent = '';
      return;
    } finally {
      body.removeAttribute('aria-busy');
    }
    current = url;
    next = answer.next;
    for (const event of answer.events) ensureCamera(event.camera);
    body.replaceChildren(...answer.events.map(row));
    body.dataset.state = 'ok';
    body.dataset.count = String(answer.events.length);
    message(box, answer.events.length ? '' : (previous.length ? 'No older events.' : 'No events match.'));
    older.disabled = !next;
    newer.disabled = previous.length === 0;
    const first = previous.length * PAGE + 1;
    info.textContent = answer.events.length ? `${first}–${first + answer.events.length - 1}` : '';
  }

  function search() {
    const p = filterParams();
    p.set('limit', String(PAGE));
    previous = [];
    // Keep the filters in the address (without a hashchange) so that a reload or a link shows the same.
    const kept = filterParams();
    if (PAGE !== 25) kept.set('limit', String(PAGE));
    const query = kept.toString();
    history.replaceState(null, '', location.pathname + location.search + '#events' + (query ? '?' + query : ''));
    return load('/api/v1/events?' + p.toString());
  }

  function detail(name, value) {
    return el('tr', {}, el('th', { scope: 'row', class: 'fw-normal text-body-secondary', text: name }), el('td', {}, value));
  }

  function showEvent(event) {
    open = event;
    $('event-modal-title').textContent = `Event ${event.id}: ${event.label} on ${event.camera}`;
    const snapshot = $('event-snapshot');
    const crop = $('event-crop');
    const missing = $('event-snapshot-missing');
    snapshot.hidden = !event.snapshot;
    missing.hidden = !!event.snapshot;
    if (event.snapshot) {
      snapshot.src = withToken(event.snapshot);
      snapshot.alt = `Frame of event ${event.id} (${event.camera}, ${time(event.last_seen)}), as analysed` +
        (event.box ? `, the ${event.label} face outlined` : '');
    } else {
      snapshot.removeAttribute('src');
    }
    drawBox($('event-picture'), event.snapshot ? event : {});
    crop.hidden = !event.crop;
    if (event.crop) {
      crop.src = withToken(event.crop);
      crop.alt = `Face of event ${event.id}`;
    } else {
      crop.removeAttribute('src');
    }
    $('event-details').replaceChildren(
      detail('Camera', event.camera), detail('Label', badge(event.label)),
      ...(change(event) ? [detail('Change', change(event))] : []),
      detail('Confidence', percent(event.confidence)), detail('First seen', time(event.first_seen)),
      detail('Last seen', time(event.last_seen)), detail('Seen for', `${Number(event.duration_s).toFixed(1)} s`),
      detail('Track', String(event.track_id)), detail('Privacy', event.privacy), detail('Id', String(event.id)));
    $('event-delete').hidden = !token;
    $('event-delete-error').textContent = '';
    window.bootstrap.Modal.getOrCreateInstance(modalEl).show();
  }

  $('event-delete').addEventListener('click', async () => {
    if (!open || !window.confirm(`Delete event ${open.id} and its pictures?`)) return;
    try {
      await api(`/api/v1/events/${open.id}`, { method: 'DELETE' });
    } catch (e) {
      $('event-delete-error').textContent = `Not deleted: ${e.message}`;
      return;
    }
    window.bootstrap.Modal.getOrCreateInstance(modalEl).hide();
    load(current);
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    search();
  });
  form.addEventListener('reset', () => {
    before = '';
    setTimeout(search);
  });
  older.addEventListener('click', () => {
    if (!next) return;
    previous.push(current);
    load(next);
  });
  newer.addEventListener('click', () => {
    if (previous.length) load(previous.pop());
  });

  let started = false;
  window.MD.pages.events = {
    async show(params) {
      if (!started) {
        started = true;
        await loadCameras();
      }
      PAGE = Math.min(1000, Math.max(1, Number(params.get('limit')) || 25));
      ensureCamera(params.get('camera'));
      camera.value = params.get('camera') || '';
      label.value = params.get('label') || '';
      before = /^[0-9]+$/.test(params.get('before') || '') ? params.get('before') : '';
      since.value = fromSeconds(params.get('since'));
      until.value = fromSeconds(params.get('until'));
      search();
    },
    hide() {
      window.bootstrap.Modal.getInstance(modalEl)?.hide();
    },
  };
})();
