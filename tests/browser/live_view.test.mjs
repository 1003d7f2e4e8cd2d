// Real-browser test of `maskdetect serve`: Debian's chromium, headless, driven by playwright-core.
// 1. Server stream: the server reads a looped clip made from dataset images; the page shows the MJPEG and
//    the counters fill from the stream's WebSocket.
// 2. Browser camera: chromium's fake camera plays a Y4M made from the same images; the page sends frames over
//    the WebSocket and draws the boxes on its canvas.
// Screenshots go to $MASKDETECT_BROWSER_OUT (the build tree). Exit 77 (CTest: skipped) when chromium or
// playwright-core is missing outside CI.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const bin = process.env.MASKDETECT_BIN;
const outDir = process.env.MASKDETECT_BROWSER_OUT || path.join(os.tmpdir(), 'maskdetect-browser');
const shared = process.env.MASKDETECT_SHARED_DIR;
// The clip's pictures: dataset photos for the test; scripts/make_readme_demo.sh passes shippable media
// through MASKDETECT_BROWSER_IMAGES (a folder) and MASKDETECT_BROWSER_NAMES (comma-separated file names).
const images = process.env.MASKDETECT_BROWSER_IMAGES || path.join(shared || '', 'datasets/detection/andrewmvd_face_mask/images');
const inCi = process.env.CI === 'true';
const names = process.env.MASKDETECT_BROWSER_NAMES?.split(',') ?? ['maksssksksss0.jpg', 'maksssksksss10.jpg', 'maksssksksss1.jpg'];

function skip(reason) {
  if (inCi) {
    console.error(`FAIL (CI=true): ${reason}`);
    process.exit(1);
  }
  console.log(`SKIP: ${reason}`);
  process.exit(77);
}

if (!bin || !fs.existsSync(bin)) skip(`maskdetect binary not found (${bin})`);
if (!fs.existsSync(chromiumPath)) skip(`${chromiumPath} is missing (scripts/setup.sh installs chromium)`);
if (!fs.existsSync(images)) skip(`dataset missing: ${images}`);
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  skip('playwright-core is missing (scripts/setup.sh runs npm ci in tests/browser)');
}

fs.mkdirSync(outDir, { recursive: true });
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'maskdetect-browser-'));
const y4m = path.join(work, 'camera.y4m');
const avi = path.join(work, 'source.avi');
execFileSync(process.env.PYTHON || '/usr/bin/python3', [path.join(here, 'make_clip.py'), '--images', images, '--names', ...names, '--y4m', y4m,
  '--avi', avi], { stdio: 'inherit' });

let server;
let context;
const failures = [];
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

async function startServer() {
  const portFile = path.join(work, 'port');
  server = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--port-file', portFile, '--source', avi,
    '--workers', '2', '--source-fps', '5'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
  server.exited = exited;
  for (let i = 0; i < 600; ++i) {
    if (fs.existsSync(portFile) && fs.readFileSync(portFile, 'utf8').trim()) {
      return Number(fs.readFileSync(portFile, 'utf8').trim());
    }
    if (server.exitCode !== null) throw new Error(`maskdetect serve exited with ${server.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('maskdetect serve did not start within 60 s');
}

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

try {
  const port = await startServer();
  const base = `http://127.0.0.1:${port}`;
  console.log(`server at ${base}`);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'maskdetect-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`],
  });
  await context.grantPermissions(['camera'], { origin: base });
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (msg) => { if (msg.type() === 'error') console.log(`page console error: ${msg.text()}`); });
  page.on('pageerror', (err) => failures.push(`page error: ${err.message}`));

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
  await page.screenshot({ path: path.join(outDir, 'camera.png') });

  // The threshold slider reaches the server: at 0.95 fewer (or no) faces.
  const stats = await page.evaluate(async () => (await fetch('/api/v1/stats')).json());
  check(stats.api.frames > 0 && stats.sources[0].frames > 0, 'stats count both modes');
  console.log(`screenshots: ${path.join(outDir, 'stream.png')} ${path.join(outDir, 'camera.png')}`);
} catch (e) {
  failures.push(String(e && e.stack ? e.stack : e));
} finally {
  if (context) await context.close().catch(() => {});
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    const result = await Promise.race([server.exited, new Promise((r) => setTimeout(() => r(null), 10000))]);
    check(result !== null && result.code === 0, `server stopped gracefully on SIGTERM (${JSON.stringify(result)})`);
    if (result === null) server.kill('SIGKILL');
  }
  fs.rmSync(work, { recursive: true, force: true });
}

if (failures.length) {
  console.error(`${failures.length} failure(s):\n${failures.join('\n')}`);
  process.exit(1);
}
console.log('browser test passed');
