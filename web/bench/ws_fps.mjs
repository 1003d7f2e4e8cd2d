// WebSocket frames per second against /api/v1/ws: `sessions` clients each send a JPEG, wait for the answer,
// send the next, for `seconds`. Node 20: run with --experimental-websocket.
//   node --experimental-websocket ws_fps.mjs ws://127.0.0.1:8080/api/v1/ws image.jpg 10 4
import fs from 'node:fs';

const [url, image, seconds = '10', sessions = '1'] = process.argv.slice(2);
const bytes = fs.readFileSync(image);
const deadline = Date.now() + Number(seconds) * 1000;
const latencies = [];
let errors = 0;

function client() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    let sentAt = 0;
    const send = () => {
      if (Date.now() >= deadline) return ws.close();
      sentAt = performance.now();
      ws.send(bytes);
    };
    ws.onopen = send;
    ws.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.error) errors += 1;
      else latencies.push(performance.now() - sentAt);
      send();
    };
    ws.onerror = (e) => reject(new Error(`websocket error: ${e.message || e.type}`));
    ws.onclose = () => resolve();
  });
}

const started = Date.now();
await Promise.all(Array.from({ length: Number(sessions) }, client));
const elapsed = (Date.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const p = (q) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] : 0);
console.log(`ws sessions=${sessions} frames=${latencies.length} errors=${errors} fps=${(latencies.length / elapsed).toFixed(1)} ` +
  `p50=${p(0.5).toFixed(1)}ms p99=${p(0.99).toFixed(1)}ms`);
