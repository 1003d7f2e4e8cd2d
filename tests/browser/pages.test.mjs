// Real-browser test of the UI's pages against a real `maskdetect serve` started with a serve config file (two
// cameras looping clips made from dataset images, a token, a fresh data folder), at desktop width and at
// 390 px (a phone):
//  - Cameras: one card per camera of GET /api/v1/cameras, its MJPEG displayed, table headers, the counts the
//    API gives; a third camera whose stream URL nobody serves shows as down; the theme switch (light/dark,
//    kept across a reload);
//  - Events: the table of GET /api/v1/events, paging with `next`, the label filter, a row enlarged (the clean
//    snapshot with the event's face box drawn where its box / frame_size puts it, and the crop), DELETE with the
//    token; an event without box (null) and with a previous label;
//  - History: uPlot charts of GET /api/v1/history with axes, legend and a tooltip, the 24 h range.
// No page may be wider than the window. A server without one of these endpoints (an older build) gets a
// page that says "not available" (web/ui/common.js unavailable()): checked on the History page by answering
// its request with what this server answers for a path it does not have. Screenshots in $MASKDETECT_BROWSER_OUT: {grid,events,event,history,live}-{desktop,phone}.png,
// grid-dark.png.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { check, failures, finish, launch, makeClip, names, newPage, outDir, requirements, startServer, stopServer,
  work } from './support.mjs';

const chromium = await requirements();
const TOKEN = 'browser-pages-token';
const AUTH = { Authorization: 'Bearer ' + TOKEN };
const door = path.join(work, 'door.avi');
const hall = path.join(work, 'hall.avi');
makeClip({ avi: door });
makeClip({ avi: hall, pictures: [...names].reverse() });
// A port nothing listens on: the stream camera "gate" stays down (the server keeps reconnecting).
const closedPort = await new Promise((resolve) => {
  const probe = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});
const DOWN = 'gate';
const config = path.join(work, 'serve.yaml');
fs.writeFileSync(config, `token: ${TOKEN}
data_dir: ${path.join(work, 'data')}
# The clips are still dataset pictures held 1 s each: their faces never move, so they count as people only with
# count_stationary, and sooner than the default confirm_s (the server's people section; the cameras inherit it).
people: {count_stationary: true, confirm_s: 0.4, min_face_px: 12}
cameras:
  - name: door
    source: ${door}
    fps: 5
    events: {labels: [no_mask, incorrect], min_seen_s: 0.5, cooldown_s: 1}
  - name: hall
    source: ${hall}
    fps: 5
    events: {labels: [no_mask, incorrect], min_seen_s: 0.5, cooldown_s: 1}
  - name: ${DOWN}
    source: http://127.0.0.1:${closedPort}/live
`);

let server;
let base;
let context;
const VIEWPORTS = { desktop: { width: 1280, height: 860 }, phone: { width: 390, height: 844 } };

async function get(pathname) {
  const res = await fetch(base + pathname, { headers: AUTH });
  return { status: res.status, body: res.headers.get('content-type')?.startsWith('application/json') ? await res.json() : null };
}
const url = (hash) => `${base}/?token=${TOKEN}#${hash}`;

async function noOverflow(page, what) {
  const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
  check(scroll <= inner, `${what}: no horizontal overflow (${scroll} <= ${inner} px)`);
}
async function shot(page, name) {
  await page.screenshot({ path: path.join(outDir, name + '.png'), fullPage: name.endsWith('phone') });
}
/// Every table of the visible page has a header row.
async function tablesHaveHeaders(page, what) {
  const bad = await page.evaluate(() => [...document.querySelectorAll('section.page:not([hidden]) table')]
    .filter((t) => t.querySelectorAll('th').length === 0).length);
  check(bad === 0, `${what}: every table has headers`);
}

async function gridPage(page, view, cameras) {
  await page.goto(url('grid'));
  const expected = cameras.body.cameras.map((c) => c.name);
  // Every card of a camera that is up shows its MJPEG; the camera nobody serves says it is down.
  const shows = await page.waitForFunction(([n, down]) => {
    const cards = [...document.querySelectorAll('.camera-card')];
    return cards.length === n && cards.every((card) => {
      const img = card.querySelector('img[alt^="Live view"]');
      const note = card.querySelector('.view-message');
      if (card.dataset.camera === down)
        return card.dataset.state === 'down' && !note.hidden && note.textContent === 'camera down' &&
          card.querySelector('.badge').textContent === 'down';
      return img.naturalWidth > 0;
    });
  }, [expected.length, DOWN], { timeout: 60000 }).then(() => true, () => false);
  check(shows, `grid (${view}): live views of the cameras that are up, "camera down" on ${DOWN}`);
  const shown = await page.$$eval('.camera-card', (cards) => cards.map((c) => c.dataset.camera));
  check(JSON.stringify(shown) === JSON.stringify(expected), `grid (${view}): one card per camera (${shown})`);
  // The counts on the cards are the API's (the page refreshes every 2 s: wait until a refresh matches).
  const matched = await page.waitForFunction(async (auth) => {
    const answer = await (await fetch('/api/v1/cameras', { headers: auth })).json();
    return answer.cameras.every((c) => {
      const card = document.querySelector(`.camera-card[data-camera="${c.name}"]`);
      const cells = [...card.querySelectorAll('tbody td')].map((td) => td.textContent);
      return card.dataset.state === c.state && cells[1] === String(c.people.total) && cells[2] === String(c.people.mask) &&
        cells[3] === String(c.people.no_mask) && cells[4] === String(c.people.incorrect);
    }) && answer.cameras.some((c) => c.people.total > 0);
  }, AUTH, { timeout: 60000, polling: 1000 }).then(() => true, () => false);
  check(matched, `grid (${view}): the cards show the API's state and people per label, people counted`);
  const heads = await page.$$eval('.camera-card thead th', (ths) => ths.map((th) => th.textContent));
  check(heads.length === 5 * expected.length && heads.includes('No mask'), `grid (${view}): table headers (${heads.slice(0, 5)})`);
  await tablesHaveHeaders(page, `grid (${view})`);
  await noOverflow(page, `grid (${view})`);
  await shot(page, `grid-${view}`);
  // A card's "events" link: the Events page filtered on that camera.
  const name = expected.filter((c) => c !== DOWN).at(-1);
  await page.click(`.camera-card[data-camera="${name}"] a[href^="#events"]`);
  await page.waitForFunction((camera) => location.hash === '#events?camera=' + camera &&
    document.getElementById('filter-camera').value === camera &&
    ['ok', 'error'].includes(document.getElementById('events-body').dataset.state), name, { timeout: 20000 });
  const filtered = await page.evaluate(() => ({ select: document.getElementById('filter-camera').value,
    cells: [...document.querySelectorAll('#events-body tr td:nth-child(3)')].map((td) => td.textContent) }));
  check(filtered.select === name && filtered.cells.every((c) => c === name),
    `grid (${view}): "events" of ${name} opens its events (${filtered.cells.length} shown, all ${name}; filter ${filtered.select}; ${await page.evaluate(() => location.hash)})`);
}

async function eventsPage(page, view) {
  await page.goto(url('events?limit=1'));
  await page.waitForFunction(() => ['ok', 'unavailable', 'error'].includes(document.getElementById('events-body').dataset.state),
    null, { timeout: 20000 });
  await tablesHaveHeaders(page, `events (${view})`);
  await noOverflow(page, `events (${view})`);
  let all = await get('/api/v1/events?limit=1000');
  check(all.status === 200, `events API answers (${all.status})`);
  if (all.body.events.length < 2) {
    // Events come from the cameras' tracked people: wait for two (two pages of one).
    for (let i = 0; i < 60 && all.body.events.length < 2; ++i) {
      await new Promise((r) => setTimeout(r, 1000));
      all = await get('/api/v1/events?limit=1000');
    }
    check(all.body.events.length >= 2, `events: the cameras recorded events (${all.body.events.length})`);
  }
  // Events older than the newest one now (before=id): those recorded meanwhile are not in the pages compared.
  const cut = all.body.events.length ? all.body.events[0].id + 1 : 1;
  await page.goto(url(`events?limit=1&before=${cut}`));
  await page.waitForFunction(() => document.getElementById('events-body').dataset.state === 'ok');
  const rows = () => page.$$eval('#events-body tr', (trs) => trs.map((tr) => Number(tr.dataset.id)));
  // The first page is the API's first page (newest first), then "Older" follows `next`.
  const first = await get(`/api/v1/events?limit=1&before=${cut}`);
  let ids = await rows();
  check(JSON.stringify(ids) === JSON.stringify(first.body.events.map((e) => e.id)), `events (${view}): first page ${ids}`);
  check(Boolean(first.body.next), `events (${view}): more than one page of one event`);
  if (first.body.next) {
    await page.click('#events-older');
    await page.waitForFunction((old) => document.querySelector('#events-body tr')?.dataset.id !== String(old), ids[0]);
    const second = await get(first.body.next);
    ids = await rows();
    check(JSON.stringify(ids) === JSON.stringify(second.body.events.map((e) => e.id)), `events (${view}): "Older" shows the next page ${ids}`);
    await page.click('#events-newer');
    await page.waitForFunction((id) => document.querySelector('#events-body tr')?.dataset.id === String(id), first.body.events[0].id);
    check(await page.isDisabled('#events-newer'), `events (${view}): "Newer" back to the first page`);
  }
  // The label filter.
  const label = all.body.events[0].label;
  await page.selectOption('#filter-label', label);
  await page.click('#event-filters button[type=submit]');
  await page.waitForFunction((l) => location.hash.includes('label=' + l), label);
  await page.waitForFunction(() => document.getElementById('events-body').dataset.state === 'ok');
  const labels = await page.$$eval('#events-body .badge', (bs) => bs.map((b) => b.textContent));
  check(labels.length > 0 && labels.every((l) => l === label), `events (${view}): label filter ${label} (${labels})`);
  await shot(page, `events-${view}`);

  // A row enlarged: the clean snapshot and the crop, then deleted with the token.
  const id = Number(await page.getAttribute('#events-body tr', 'data-id'));
  await page.click('#events-body tr');
  await page.waitForSelector('#event-modal.show');
  const sizes = await page.waitForFunction(() => {
    const s = document.getElementById('event-snapshot');
    const c = document.getElementById('event-crop');
    return s.complete && s.naturalWidth > 0 && c.complete && c.naturalWidth > 0 &&
      { snapshot: [s.naturalWidth, s.naturalHeight], crop: [c.naturalWidth, c.naturalHeight] };
  }, null, { timeout: 20000 }).then((h) => h.jsonValue(), () => null);
  check(sizes && sizes.snapshot[0] === 640 && sizes.snapshot[1] === 480 && sizes.crop[0] > 0,
    `events (${view}): event ${id} enlarged, snapshot and crop shown (${JSON.stringify(sizes)})`);
  await page.waitForTimeout(400);  // the dialog's fade
  await faceBox(page, view, id);
  await shot(page, `event-${view}`);
  page.once('dialog', (dialog) => dialog.accept());
  await page.click('#event-delete');
  await page.waitForFunction((gone) => ![...document.querySelectorAll('#events-body tr')].some((tr) => tr.dataset.id === String(gone)), id);
  const after = await get(`/api/v1/events/${id}`);
  check(after.status === 404, `events (${view}): event ${id} deleted with the token (GET answers ${after.status})`);
}

/// The open event's face box: an outline over the snapshot at box / frame_size of the displayed picture (within
/// 1.5 px), in the colour of the label's badge, its tag inside the picture.
async function faceBox(page, view, id) {
  const event = (await get(`/api/v1/events/${id}`)).body;
  check(Array.isArray(event.box) && Array.isArray(event.frame_size) && event.frame_size[0] === 640,
    `events (${view}): event ${id} has its box ${JSON.stringify(event.box)} in a frame of ${JSON.stringify(event.frame_size)}`);
  if (!event.box || !event.frame_size) return;
  const drawn = await page.waitForFunction(() => {
    const rect = (node) => { const r = node.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; };
    const box = document.querySelector('#event-picture .event-box');
    const tag = document.querySelector('#event-picture .event-box-tag');
    const badge = document.querySelector('#event-details .badge');
    return box && tag && tag.style.top && {
      img: rect(document.getElementById('event-snapshot')), box: rect(box), tag: rect(tag), text: tag.textContent,
      color: getComputedStyle(box).borderTopColor, width: getComputedStyle(box).borderTopWidth,
      badge: getComputedStyle(badge).backgroundColor };
  }, null, { timeout: 10000 }).then((h) => h.jsonValue(), () => null);
  check(Boolean(drawn), `events (${view}): a face box drawn over the snapshot of event ${id}`);
  if (!drawn) return;
  const [fw, fh] = event.frame_size;
  const [x, y, w, h] = event.box;
  const [ix, iy, iw, ih] = drawn.img;
  const x0 = Math.max(0, x);
  const y0 = Math.max(0, y);
  const want = [ix + (x0 * iw) / fw, iy + (y0 * ih) / fh, ((Math.min(x + w, fw) - x0) * iw) / fw, ((Math.min(y + h, fh) - y0) * ih) / fh];
  const off = Math.max(...want.map((v, i) => Math.abs(v - drawn.box[i])));
  const fmt = (r) => r.map((v) => v.toFixed(1)).join(', ');
  check(off <= 1.5, `events (${view}): the box [${fmt(drawn.box)}] is the event's box scaled to the displayed ${iw.toFixed(0)} px picture [${fmt(want)}] (off by ${off.toFixed(2)} px)`);
  check(drawn.color === drawn.badge && drawn.width === '2px',
    `events (${view}): a ${drawn.width} outline in the ${event.label} colour (${drawn.color}, badge ${drawn.badge})`);
  const [tx, ty, tw, th] = drawn.tag;
  check(drawn.text === event.label && tx >= ix - 0.5 && ty >= iy - 0.5 && tx + tw <= ix + iw + 0.5 && ty + th <= iy + ih + 0.5,
    `events (${view}): the tag "${drawn.text}" inside the picture [${fmt(drawn.tag)}]`);
}

/// An event stored before boxes (box and frame_size null) that is also a mask removal (previous_label): the
/// dialog draws no box and says so; the server's own answer, changed on its way to the page.
async function eventWithoutBox(page) {
  await page.route('**/api/v1/events?*', async (route) => {
    const answer = await (await route.fetch()).json();
    if (answer.events.length)
      Object.assign(answer.events[0], { label: 'no_mask', box: null, frame_size: null, previous_label: 'mask' });
    await route.fulfill({ json: answer });
  });
  await page.goto(url('events?limit=1'));
  await page.waitForFunction(() => document.getElementById('events-body').dataset.state === 'ok');
  const listed = await page.textContent('#events-body tr');
  await page.click('#events-body tr');
  await page.waitForSelector('#event-modal.show');
  const shown = await page.waitForFunction(() => document.getElementById('event-snapshot').naturalWidth > 0 && {
    boxes: document.querySelectorAll('#event-picture .event-box, #event-picture .event-box-tag').length,
    details: document.getElementById('event-details').textContent }, null, { timeout: 20000 }).then((h) => h.jsonValue(), () => null);
  check(shown && shown.boxes === 0 && shown.details.includes('mask removed: was mask') && listed.includes('mask removed: was mask'),
    `events: an event without box shows its snapshot and no box; its previous label in the row and the dialog (${JSON.stringify(shown)})`);
  await page.click('#event-modal .btn-close');
  await page.waitForSelector('#event-modal', { state: 'hidden' });
  await page.unroute('**/api/v1/events?*');
}

async function historyPage(page, view) {
  await page.goto(url('history'));
  await page.click('label[for="range-hour"]');
  // A point a minute per camera: wait for the first (the page reloads when asked again).
  let points = 0;
  for (let i = 0; i < 15 && points === 0; ++i) {
    if (i > 0) {
      await page.waitForTimeout(5000);
      await page.click('label[for="range-day"]');
      await page.click('label[for="range-hour"]');
    }
    await page.waitForFunction(() => document.getElementById('page-history').dataset.state === 'ok', null, { timeout: 20000 });
    points = Number(await page.getAttribute('#page-history', 'data-points'));
  }
  check(points > 0, `history (${view}): points drawn (${points})`);
  const legend = await page.$$eval('#chart-people .u-legend .u-label', (ls) => ls.map((l) => l.textContent));
  check(['mask', 'no_mask', 'incorrect'].every((l) => legend.includes(l)), `history (${view}): legend ${legend}`);
  const axes = await page.$$eval('.chart .u-axis', (as) => as.length);
  check(axes === 4, `history (${view}): two axes per chart (${axes})`);
  await page.locator('#chart-people .u-over').scrollIntoViewIfNeeded();
  const boxOver = await (await page.$('#chart-people .u-over')).boundingBox();
  await page.mouse.move(boxOver.x + 2, boxOver.y + 2);
  await page.mouse.move(boxOver.x + boxOver.width - 4, boxOver.y + boxOver.height / 2, { steps: 5 });
  const tip = await page.waitForSelector('#chart-people .chart-tooltip:not([hidden])', { timeout: 5000 }).then((h) => h.textContent(), () => '');
  check(/mask:/.test(tip), `history (${view}): tooltip at the cursor (${tip})`);
  await noOverflow(page, `history (${view})`);
  await shot(page, `history-${view}`);
  await page.click('label[for="range-day"]');
  await page.waitForFunction(() => /600 s/.test(document.getElementById('history-info').textContent), null, { timeout: 20000 })
    .then(() => check(true, `history (${view}): 24 h range in 10-minute steps`),
      () => check(false, `history (${view}): 24 h range in 10-minute steps`));
  // One camera: the API asked for that camera only.
  const asked = page.waitForRequest((r) => r.url().includes('/api/v1/history?') && r.url().includes('camera=door'));
  await page.selectOption('#history-camera', 'door');
  await asked;
  await page.waitForFunction(() => /, 1 camera;/.test(document.getElementById('history-info').textContent), null, { timeout: 20000 })
    .then(() => check(true, `history (${view}): one camera's series`), () => check(false, `history (${view}): one camera's series`));
  await page.selectOption('#history-camera', '');
}

/// An older server without /api/v1/history: the page says so instead of drawing. The answer is this server's
/// own to a path it has no handler for.
async function historyUnavailable(page) {
  const res = await fetch(base + '/api/v1/no-such-endpoint', { headers: AUTH });
  const missing = { status: res.status, contentType: res.headers.get('content-type'), body: await res.text() };
  check(missing.status === 404, `a path the server does not have answers 404 (${missing.status})`);
  await page.route('**/api/v1/history?*', (route) => route.fulfill(missing));
  await page.goto(url('history'));
  const state = await page.waitForFunction(() => ['unavailable', 'error', 'ok'].includes(document.getElementById('page-history').dataset.state) &&
    document.getElementById('page-history').dataset.state, null, { timeout: 20000 }).then((h) => h.jsonValue(), () => 'timeout');
  const text = await page.textContent('#history-message');
  check(state === 'unavailable' && /not available on this server/.test(text),
    `history on a server without it: "${text}" (state ${state})`);
  await page.unroute('**/api/v1/history?*');
}

try {
  ({ server, base } = await startServer(['--config', config, '--workers', '1']));
  context = await launch(chromium);
  const page = await newPage(context);
  const cameras = await get('/api/v1/cameras');
  const history = await get('/api/v1/history');
  console.log(`/api/v1/cameras: ${cameras.status}, /api/v1/history: ${history.status}`);
  if (cameras.status !== 200 || history.status !== 200) throw new Error('the cameras and history APIs must answer 200');
  for (const [view, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    await gridPage(page, view, cameras);
    await eventsPage(page, view);
    await historyPage(page, view);
    // The Live page at this width (a server stream).
    await page.goto(url('live?mode=stream'));
    await page.waitForFunction(() => document.getElementById('stream-img').naturalWidth > 0, null, { timeout: 30000 });
    // Stream mode lists the camera's stored events, with their clean crops.
    const stored = await page.waitForFunction(() => document.querySelectorAll('#events .event img[src*="/crop.jpg"]').length > 0 &&
      /stored events of/.test(document.getElementById('events-note').textContent), null, { timeout: 20000 }).then(() => true, () => false);
    check(stored, `live (${view}): the stream's stored events with their crops`);
    await noOverflow(page, `live (${view})`);
    await tablesHaveHeaders(page, `live (${view})`);
    await shot(page, `live-${view}`);
  }
  await eventWithoutBox(page);
  await historyUnavailable(page);
  // The theme switch, kept across a reload.
  await page.setViewportSize(VIEWPORTS.desktop);
  await page.goto(url('grid'));
  const before = await page.getAttribute('html', 'data-bs-theme');
  await page.click('#theme-toggle');
  const after = await page.getAttribute('html', 'data-bs-theme');
  await page.reload();
  const kept = await page.getAttribute('html', 'data-bs-theme');
  check(before !== after && kept === after, `theme: ${before} -> ${after}, kept after a reload (${kept})`);
  await page.waitForFunction((down) => document.querySelectorAll('.camera-card').length > 0 &&
    [...document.querySelectorAll('.camera-card')].filter((c) => c.dataset.camera !== down)
      .every((c) => c.querySelector('img[alt^="Live view"]').naturalWidth > 0), DOWN, { timeout: 30000 });
  await shot(page, after === 'dark' ? 'grid-dark' : 'grid-light');
  console.log(`screenshots in ${outDir}`);
} catch (e) {
  failures.push(String(e && e.stack ? e.stack : e));
} finally {
  if (context) await context.close().catch(() => {});
  await stopServer(server);
}
finish('pages test');
