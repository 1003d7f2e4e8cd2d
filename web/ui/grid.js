// The camera grid (the Cameras page): per server camera its live MJPEG view, state, fps, compliance, people
// counted per label, people in view and its last event, refreshed every 2 s from GET /api/v1/cameras.
'use strict';

(() => {
  const { el, api, withToken, percent, badge, ago, time, message, unavailable } = window.MD;
  const grid = document.getElementById('grid');
  const box = document.getElementById('grid-message');
  const updated = document.getElementById('grid-updated');
  const STATE_BADGES = { up: 'text-bg-success', down: 'text-bg-danger', starting: 'text-bg-secondary' };
  const REFRESH_MS = 2000;
  let timer = null;
  let cards = new Map();  // camera name -> the card's elements

  function makeCard(camera) {
    const id = 'camera-' + camera.name;
    const title = el('h2', { class: 'h6 mb-0 text-truncate', id: id + '-title', text: camera.name });
    const state = el('span', { class: 'badge' });
    const fps = el('span', { class: 'small text-body-secondary ms-auto text-nowrap' });
    // The big figure says what it counts: people counted with a mask among all people counted.
    const compliance = el('span', { class: 'fs-5 fw-semibold text-nowrap' });
    const complianceBox = el('div', { class: 'camera-compliance', title: 'compliance: people counted with a mask / people counted' },
      compliance, el('div', { class: 'caption', text: 'masked / people counted' }));
    const img = el('img', { alt: `Live view of camera ${camera.name}` });
    const note = el('div', { class: 'view-message', hidden: true });
    img.addEventListener('load', () => {
      img.dataset.loaded = '1';
      note.hidden = true;
    }, { once: true });
    img.addEventListener('error', () => {
      img.dataset.failed = '1';
      note.hidden = false;
      note.textContent = 'no picture';
    });
    const cells = {};
    const head = el('tr');
    const row = el('tr');
    for (const [key, text, hint] of [['in_view', 'In view', 'people in the current frame'],
      ['total', 'People', 'people counted (tracked)'], ['mask', 'Mask', null], ['no_mask', 'No mask', null],
      ['incorrect', 'Incorrect', null]]) {
      const isLabel = window.MD.LABELS.includes(key);
      head.append(el('th', { scope: 'col', text, title: hint || undefined, class: isLabel ? 'label-dot label-dot-' + key : undefined }));
      cells[key] = el('td');
      row.append(cells[key]);
    }
    const table = el('table', { class: 'table table-sm mb-2 camera-stats' },
      el('caption', { class: 'visually-hidden', text: `Counts of camera ${camera.name}` }),
      el('thead', {}, head), el('tbody', {}, row));
    const last = el('div', { class: 'small d-flex align-items-center gap-2 last-event' });
    const card = el('article', { class: 'card h-100 camera-card', 'data-camera': camera.name, 'aria-labelledby': id + '-title' },
      el('div', { class: 'card-header d-flex align-items-center gap-2' }, title, state, fps, complianceBox),
      el('div', { class: 'camera-view' }, img, note),
      el('div', { class: 'card-body p-2' }, el('div', { class: 'table-responsive' }, table), last));
    grid.append(el('div', { class: 'col-12 col-md-6 col-xxl-4' }, card));
    return { card, state, fps, compliance, img, note, cells, last, mjpeg: null };
  }

  function update(c, camera) {
    c.card.dataset.state = camera.state;
    c.state.className = 'badge ' + (STATE_BADGES[camera.state] || 'text-bg-secondary');
    c.state.textContent = camera.state;
    c.state.title = 'camera state';
    c.fps.textContent = `${Number(camera.fps || 0).toFixed(1)} fps`;
    c.compliance.textContent = percent(camera.compliance);
    const people = camera.people || {};
    c.cells.in_view.textContent = String(camera.in_view ?? '–');
    for (const key of ['total', 'mask', 'no_mask', 'incorrect']) c.cells[key].textContent = String(people[key] ?? 0);
    // (Re)open the MJPEG when the camera is up and the stream is not showing (first time, or it broke).
    if (camera.mjpeg && (c.mjpeg !== camera.mjpeg || (c.img.dataset.failed && camera.state === 'up'))) {
      c.mjpeg = camera.mjpeg;
      delete c.img.dataset.failed;
      c.img.src = withToken(camera.mjpeg);
    }
    if (camera.state !== 'up' && !c.img.dataset.loaded) {
      c.note.hidden = false;
      c.note.textContent = camera.state === 'down' ? 'camera down' : 'starting…';
    }
    c.last.replaceChildren();
    const event = camera.last_event;
    if (!event) {
      c.last.append(el('span', { class: 'text-body-secondary', text: 'No event yet' }));
      return;
    }
    if (event.crop) c.last.append(el('img', { class: 'event-thumb', src: withToken(event.crop), alt: `face of event ${event.id}` }));
    c.last.append(el('span', { text: 'Last event' }), badge(event.label),
      el('time', { dateTime: new Date(event.last_seen * 1000).toISOString(), title: time(event.last_seen), text: ago(event.last_seen) }),
      el('a', { class: 'ms-auto', href: '#events?camera=' + encodeURIComponent(camera.name), text: 'events' }));
  }

  async function refresh() {
    let body;
    try {
      body = await api('/api/v1/cameras');
    } catch (e) {
      if (document.body.dataset.page !== 'grid') return;
      grid.dataset.state = e.status === 404 ? 'unavailable' : 'error';
      message(box, unavailable('The camera grid', e) + (e.status === 404 ? ' The Live page shows the server streams.' : ''),
        e.status === 404 ? 'secondary' : 'warning');
      return;
    }
    if (document.body.dataset.page !== 'grid') return;
    const names = new Set(body.cameras.map((c) => c.name));
    for (const [name, c] of cards) {
      if (!names.has(name)) {
        c.img.removeAttribute('src');
        c.card.parentElement.remove();
        cards.delete(name);
      }
    }
    for (const camera of body.cameras) {
      if (!cards.has(camera.name)) cards.set(camera.name, makeCard(camera));
      update(cards.get(camera.name), camera);
    }
    grid.dataset.state = 'ok';
    grid.dataset.cameras = String(body.cameras.length);
    message(box, body.cameras.length ? '' : 'No cameras: add them to the serve config file (cameras:) or start with --source.');
    updated.textContent = 'updated ' + new Date().toLocaleTimeString();
  }

  window.MD.pages.grid = {
    show() {
      grid.dataset.state = 'loading';
      refresh();
      clearInterval(timer);
      timer = setInterval(refresh, REFRESH_MS);
    },
    hide() {
      clearInterval(timer);
      timer = null;
      for (const c of cards.values()) c.img.removeAttribute('src');  // closes the MJPEG connections
      grid.replaceChildren();
      cards = new Map();
    },
  };
})();
