// Real-browser test of `maskdetect serve`: Debian's chromium, headless, driven by playwright-core.
// 1. Server stream: the server reads a looped clip made from dataset images; the page shows the MJPEG and
//    the counters fill from the stream's WebSocket.
// 2. Browser camera: chromium's fake camera plays a Y4M made from the same images; the page sends frames over
//    the WebSocket and draws the boxes on its canvas.
//    The boxes are drawn on the frame that was analysed: the overlay paints that frame over the video.
// 3. Picture: a dataset picture chosen in the page's file input goes through POST /api/v1/detect; its boxes
//    are drawn over it, as many as the API finds in the same picture.
// Screenshots go to $MASKDETECT_BROWSER_OUT (the build tree). Exit 77 (CTest: skipped) when chromium or
// playwright-core is missing outside CI.
import fs from 'node:fs';
import path from 'node:path';

import { check, failures, finish, images, launch, makeClip, names, newPage, outDir, requirements, startServer, stopServer,
  work }
  from './support.mjs';

const chromium = await requirements();
const y4m = path.join(work, 'camera.y4m');
const avi = path.join(work, 'source.avi');
makeClip({ y4m, avi });

let server;
let context;

async function counters(page) {
  return page.evaluate(() => ({
    mask: Number(document.getElementById('count-mask').textContent),
    no_mask: Number(document.getElementById('count-no_mask').textContent),
    incorrect: Number(document.getElementById('count-incorrect').textContent),
    compliance: document.getElementById('compliance').textContent,
    frames: Number(document.body.dataset.frames || 0),
    facesSeen: Number(document.body.dataset.facesSeen || 0),
    boxes: Number(document.getElementById('overlay').dataset.boxes || 0),
    events: document.querySelectorAll('#events .event').length,
    status: document.getElementById('status').textContent,
  }));
}

/// Waits until the current frame shows faces (counters and, in camera mode, canvas boxes).
async function waitForFaces(page, needBoxes) {
  await page.waitForFunction((boxes) => {
    const n = ['mask', 'no_mask', 'incorrect'].map((l) => Number(document.getElementById('count-' + l).textContent));
    const total = n.reduce((a, b) => a + b, 0);
    const drawn = Number(document.getElementById('overlay').dataset.boxes || 0);
    return total > 0 && (!boxes || drawn > 0) && Number(document.body.dataset.frames || 0) >= 3;
  }, needBoxes, { timeout: 60000, polling: 100 });
}

let base;
try {
  ({ server, base } = await startServer(['--source', avi, '--workers', '2', '--source-fps', '5']));
  context = await launch(chromium, { extraArgs: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    `--use-file-for-fake-video-capture=${y4m}`] });
  await context.grantPermissions(['camera'], { origin: base });
  const page = await newPage(context);

  // 1. Server stream.
  await page.goto(`${base}/?mode=stream`);
  await waitForFaces(page, false);
  await page.waitForFunction(() => document.getElementById('stream-img').naturalWidth > 0, null, { timeout: 30000 });
  await page.waitForTimeout(2500);  // a few more frames: events, history, totals
  await waitForFaces(page, false);
  let c = await counters(page);
  console.log('stream mode:', JSON.stringify(c));
  check(c.mask + c.no_mask + c.incorrect > 0, 'stream: counters show faces');
  check(c.compliance.endsWith('%'), 'stream: compliance rate shown');
  check(c.status.startsWith('live'), 'stream: status live');
  const img = await page.evaluate(() => {
    const i = document.getElementById('stream-img');
    return { w: i.naturalWidth, h: i.naturalHeight };
  });
  check(img.w === 640 && img.h === 480, `stream: MJPEG frames displayed (${img.w}x${img.h})`);
  await page.screenshot({ path: path.join(outDir, 'stream.png') });

  // 2. Browser camera (switch with the page's own control).
  await page.click('label[for="mode-camera"]');
  await page.waitForFunction(() => document.body.dataset.mode === 'camera');
  await waitForFaces(page, true);
  await page.waitForTimeout(2500);
  await waitForFaces(page, true);
  c = await counters(page);
  console.log('camera mode:', JSON.stringify(c));
  check(c.boxes > 0, 'camera: boxes drawn on the overlay canvas');
  check(c.mask + c.no_mask + c.incorrect === c.boxes, 'camera: counters match the boxes');
  check(c.compliance.endsWith('%'), 'camera: compliance rate shown');
  const video = await page.evaluate(() => document.getElementById('camera-video').videoWidth);
  check(video === 640, `camera: fake camera playing (${video} px wide)`);
  // The overlay holds the analysed frame itself (opaque pixels), not only boxes over the moving video.
  const alpha = await page.evaluate(() => {
    const canvas = document.getElementById('overlay');
    return canvas.getContext('2d').getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1).data[3];
  });
  check(alpha === 255, `camera: the analysed frame is painted under its boxes (alpha ${alpha})`);
  await page.screenshot({ path: path.join(outDir, 'camera.png') });

  // 3. Picture mode: the file input, POST /api/v1/detect, boxes over the picture.
  await page.click('label[for="mode-picture"]');
  await page.waitForFunction(() => document.body.dataset.mode === 'picture');
  const picture = path.join(images, names[0]);
  await page.setInputFiles('#picture-input', picture);
  await page.waitForFunction(() => /face/.test(document.getElementById('status').textContent), null, { timeout: 30000 });
  const threshold = await page.evaluate(() => document.getElementById('threshold').value);
  const type = picture.endsWith('.png') ? 'image/png' : 'image/jpeg';
  const direct = await (await fetch(`${base}/api/v1/detect?threshold=${threshold}`,
    { method: 'POST', body: fs.readFileSync(picture), headers: { 'Content-Type': type } })).json();
  c = await counters(page);
  console.log('picture mode:', JSON.stringify(c), `API: ${direct.faces.length} faces`);
  check(direct.faces.length > 0 && c.boxes === direct.faces.length,
    `picture: ${c.boxes} boxes drawn, as many as POST /api/v1/detect finds (${direct.faces.length})`);
  check(c.mask + c.no_mask + c.incorrect === c.boxes, 'picture: counters match the boxes');
  const shown = await page.evaluate(() => document.getElementById('picture-img').naturalWidth);
  check(shown > 0, `picture: the picture is shown (${shown} px wide)`);
  await page.screenshot({ path: path.join(outDir, 'picture.png') });

  // The threshold slider reaches the server: at 0.95 fewer (or no) faces.
  const stats = await page.evaluate(async () => (await fetch('/api/v1/stats')).json());
  check(stats.api.frames > 0 && stats.sources[0].frames > 0, 'stats count both modes');
  console.log(`screenshots: ${path.join(outDir, 'stream.png')} ${path.join(outDir, 'camera.png')}`);
} catch (e) {
  failures.push(String(e && e.stack ? e.stack : e));
} finally {
  if (context) await context.close().catch(() => {});
  await stopServer(server);
}
finish('browser test');
