// Shared by the browser tests: the environment (binary, chromium, dataset), the clip made from pictures, a real
// `maskdetect serve` started on a free port, a headless Debian chromium driven by playwright-core, and the
// pass/fail bookkeeping. Exit 77 (CTest: skipped) when chromium, playwright-core or the dataset is missing
// outside CI; under CI=true that is a failure.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
export const bin = process.env.MASKDETECT_BIN;
export const outDir = process.env.MASKDETECT_BROWSER_OUT || path.join(os.tmpdir(), 'maskdetect-browser');
const shared = process.env.MASKDETECT_SHARED_DIR;
// The clip's pictures: dataset photos for the tests; scripts/make_readme_demo.sh passes shippable media
// through MASKDETECT_BROWSER_IMAGES (a folder) and MASKDETECT_BROWSER_NAMES (comma-separated file names).
export const images = process.env.MASKDETECT_BROWSER_IMAGES ||
  path.join(shared || '', 'datasets/detection/andrewmvd_face_mask/images');
export const names = process.env.MASKDETECT_BROWSER_NAMES?.split(',') ??
  ['maksssksksss0.jpg', 'maksssksksss10.jpg', 'maksssksksss1.jpg'];
const inCi = process.env.CI === 'true';

export function skip(reason) {
  if (inCi) {
    console.error(`FAIL (CI=true): ${reason}`);
    process.exit(1);
  }
  console.log(`SKIP: ${reason}`);
  process.exit(77);
}

/// Checks what every browser test needs; returns playwright-core's chromium.
export async function requirements() {
  if (!bin || !fs.existsSync(bin)) skip(`maskdetect binary not found (${bin})`);
  if (!fs.existsSync(chromiumPath)) skip(`${chromiumPath} is missing (scripts/setup.sh installs chromium)`);
  if (!fs.existsSync(images)) skip(`dataset missing: ${images}`);
  try {
    return (await import('playwright-core')).chromium;
  } catch (e) {
    return skip('playwright-core is missing (scripts/setup.sh runs npm ci in tests/browser)');
  }
}

export const work = fs.mkdtempSync(path.join(os.tmpdir(), 'maskdetect-browser-'));
fs.mkdirSync(outDir, { recursive: true });

/// make_clip.py: { y4m, avi } (either may be omitted) from `pictures` of the images folder.
export function makeClip({ y4m, avi, pictures = names }) {
  const args = [path.join(here, 'make_clip.py'), '--images', images, '--names', ...pictures];
  if (y4m) args.push('--y4m', y4m);
  if (avi) args.push('--avi', avi);
  execFileSync(process.env.PYTHON || '/usr/bin/python3', args, { stdio: 'inherit' });
}

export const failures = [];
export function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

/// Starts `maskdetect serve args...` on a free loopback port; returns { server, base }.
export async function startServer(args) {
  const portFile = path.join(work, 'port');
  fs.rmSync(portFile, { force: true });
  const server = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--port-file', portFile, ...args],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  server.exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
  for (let i = 0; i < 600; ++i) {
    if (fs.existsSync(portFile) && fs.readFileSync(portFile, 'utf8').trim()) {
      const base = `http://127.0.0.1:${Number(fs.readFileSync(portFile, 'utf8').trim())}`;
      console.log(`server at ${base}`);
      return { server, base };
    }
    if (server.exitCode !== null) throw new Error(`maskdetect serve exited with ${server.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  server.kill('SIGKILL');
  throw new Error('maskdetect serve did not start within 60 s');
}

/// SIGTERM, then checks the graceful exit (status 0 within 10 s).
export async function stopServer(server) {
  if (!server || server.exitCode !== null) return;
  server.kill('SIGTERM');
  const result = await Promise.race([server.exited, new Promise((r) => setTimeout(() => r(null), 10000))]);
  check(result !== null && result.code === 0, `server stopped gracefully on SIGTERM (${JSON.stringify(result)})`);
  if (result === null) server.kill('SIGKILL');
}

/// A headless chromium with its own profile; `extraArgs` e.g. the fake camera's.
export async function launch(chromium, { viewport = { width: 1280, height: 860 }, extraArgs = [] } = {}) {
  const userDataDir = fs.mkdtempSync(path.join(work, 'chromium-'));
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    viewport,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

/// A page that records console errors and page errors as failures.
export async function newPage(context) {
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (msg) => { if (msg.type() === 'error') console.log(`page console error: ${msg.text()}`); });
  page.on('pageerror', (err) => failures.push(`page error: ${err.message}`));
  return page;
}

/// Prints the failures and exits (1 if any); removes the work folder.
export function finish(name) {
  fs.rmSync(work, { recursive: true, force: true });
  if (failures.length) {
    console.error(`${failures.length} failure(s):\n${failures.join('\n')}`);
    process.exit(1);
  }
  console.log(`${name} passed`);
  process.exit(0);
}
