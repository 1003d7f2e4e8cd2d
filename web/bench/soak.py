#!/usr/bin/python3
"""Soak of `maskdetect serve` with faults (not a test, not in CI; loopback only). Issue 17, "Delivery you can trust".

    /usr/bin/python3 web/bench/soak.py [--minutes 12] [--rate 75] [--bin build/default/bin/maskdetect]

Runs, for --minutes:
  - `maskdetect serve` with two cameras (clips made here from a dataset picture: faces, then grey, looped, so
    that people come and go and become events), MQTT to a real mosquitto, and two webhooks: the first a receiver
    that accepts and never answers (timeout_s 5, retries 3), the second a working receiver;
  - POST /api/v1/detect at --rate requests per second (a dataset JPEG), open loop, from 8 threads;
  - one MJPEG viewer and one WebSocket stream viewer per camera;
  - at 40 % of the run the broker is killed (SIGKILL), and restarted 10 s later;
then SIGTERM (timed), a look at the outbox, and a restart that must list every stored event.

Prints: detect requests/s, p50/p99 latency and errors; viewer frame rates; events; the working receiver's count
and worst delay; MQTT back after the broker (s), duplicate event ids; SIGTERM exit status and time; events after
the restart. Needs mosquitto, mosquitto_sub and the shared dataset (../shared).
"""
import argparse
import base64
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("MASKDETECT_SHARED_DIR", os.path.join(ROOT, "..", "shared"))
PICTURE = os.path.join(SHARED, "datasets/detection/andrewmvd_face_mask/images/maksssksksss0.jpg")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_clip(path, picture_index_shift):
    import cv2
    import numpy as np
    img = cv2.resize(cv2.imread(PICTURE), (640, 480))
    if picture_index_shift:
        img = cv2.flip(img, 1)
    w = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 12.0, (640, 480))
    grey = np.full_like(img, 128)
    for _ in range(12):
        w.write(img)
    for _ in range(34):
        w.write(grey)
    w.release()


class Hooks:
    """The working receiver: records (arrival time, event JSON)."""
    got = []
    lock = threading.Lock()


class Good(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with Hooks.lock:
            Hooks.got.append((time.time(), json.loads(body)))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def silent_receiver(port, stop):
    """Accepts and never answers."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    s.settimeout(0.5)
    held = []
    while not stop.is_set():
        try:
            c, _ = s.accept()
            held.append(c)
        except socket.timeout:
            pass
    for c in held:
        c.close()
    s.close()


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100.0 * len(values)))]


def detect_load(port, rate, stop, stats):
    """Open loop: request i is due at start + i / rate, spread over 8 threads."""
    with open(PICTURE, "rb") as f:
        image = f.read()
    start = time.monotonic()
    counter = [0]
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while not stop.is_set():
            with lock:
                i = counter[0]
                counter[0] += 1
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t0 = time.monotonic()
            try:
                conn.request("POST", "/api/v1/detect", image, {"Content-Type": "image/jpeg"})
                res = conn.getresponse()
                res.read()
                ok = res.status == 200
            except Exception:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            with lock:
                stats["latency"].append(time.monotonic() - t0)
                stats["errors"] += 0 if ok else 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    return threads


def mjpeg_viewer(port, camera, stop, counts):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", f"/api/v1/cameras/{camera}/mjpeg")
    res = conn.getresponse()
    buf = b""
    while not stop.is_set():
        chunk = res.read1(65536)
        if not chunk:
            break
        buf += chunk
        n = buf.count(b"--maskdetectframe")
        counts[camera] += n
        buf = buf[buf.rfind(b"--maskdetectframe") + 1:] if n else buf[-32:]
    conn.close()


def ws_viewer(port, index, stop, counts):
    """A minimal WebSocket client on /api/v1/streams/<index>/ws: counts messages, answers pings."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /api/v1/streams/{index}/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    buf = buf[buf.index(b"\r\n\r\n") + 4:]

    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError
            buf += chunk

    try:
        while not stop.is_set():
            need(2)
            opcode, length = buf[0] & 0x0F, buf[1] & 0x7F
            at = 2
            if length == 126:
                need(4)
                length, at = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                need(10)
                length, at = int.from_bytes(buf[2:10], "big"), 10
            need(at + length)
            payload, buf = buf[at:at + length], buf[at + length:]
            if opcode == 1:
                counts[index] += 1
            elif opcode == 9:  # ping: a masked pong with the same payload
                mask = os.urandom(4)
                s.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask +
                          bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
            elif opcode == 8:
                break
    except (EOFError, OSError):
        pass
    s.close()


def metrics(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=12.0)
    ap.add_argument("--rate", type=float, default=75.0, help="POST /api/v1/detect per second")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/default/bin/maskdetect"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (data, logs)")
    args = ap.parse_args()
    if not os.path.exists(PICTURE):
        sys.exit(f"soak: missing {PICTURE}")
    duration = args.minutes * 60.0
    tmp = tempfile.mkdtemp(prefix="maskdetect-soak-")
    procs = []
    stop = threading.Event()
    try:
        clips = [os.path.join(tmp, f"cam{i}.avi") for i in range(2)]
        for i, clip in enumerate(clips):
            make_clip(clip, i)
        mqtt_port, good_port, slow_port = free_port(), free_port(), free_port()
        conf = os.path.join(tmp, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\nlog_dest none\n")

        def start_broker():
            p = subprocess.Popen(["/usr/sbin/mosquitto", "-c", conf])
            procs.append(p)
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", mqtt_port), timeout=0.2).close()
                    return p
                except OSError:
                    time.sleep(0.05)
            sys.exit("soak: mosquitto did not start")

        broker = start_broker()
        mqtt_lines = []  # (time, topic, payload)

        def subscribe():
            p = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mqtt_port), "-v", "-t", "maskdetect/#"],
                                 stdout=subprocess.PIPE, text=True)
            procs.append(p)

            def read():
                for line in p.stdout:
                    topic, _, payload = line.rstrip("\n").partition(" ")
                    mqtt_lines.append((time.time(), topic, payload))
            threading.Thread(target=read, daemon=True).start()
            return p

        sub = subscribe()
        good = http.server.ThreadingHTTPServer(("127.0.0.1", good_port), Good)
        threading.Thread(target=good.serve_forever, daemon=True).start()
        threading.Thread(target=silent_receiver, args=(slow_port, stop), daemon=True).start()
        with open(os.path.join(tmp, "serve.yaml"), "w") as f:
            f.write(f"mqtt: {{port: {mqtt_port}, stats_interval_s: 2}}\n"
                    f"webhooks:\n"
                    f"  - {{name: slow, url: 'http://127.0.0.1:{slow_port}/hook', timeout_s: 5, retries: 3}}\n"
                    f"  - {{name: good, url: 'http://127.0.0.1:{good_port}/hook'}}\n"
                    f"cameras:\n")
            for i, clip in enumerate(clips):
                f.write(f"  - name: cam{i}\n    source: {clip}\n    fps: 12\n"
                        f"    events: {{labels: [mask, no_mask, incorrect], min_seen_s: 0.3, cooldown_s: 0}}\n")

        def start_serve():
            port_file = os.path.join(tmp, "port")
            if os.path.exists(port_file):
                os.remove(port_file)
            p = subprocess.Popen([args.bin, "--detector", "blazeface_back", "serve", "--config",
                                  os.path.join(tmp, "serve.yaml"), "--listen", "127.0.0.1:0", "--workers", "2",
                                  "--data-dir", os.path.join(tmp, "data"), "--port-file", port_file,
                                  "--max-fps", "0"],
                                 stderr=open(os.path.join(tmp, f"serve-{len(procs)}.log"), "w"))
            procs.append(p)
            for _ in range(1200):
                if os.path.exists(port_file) and open(port_file).read().strip():
                    return p, int(open(port_file).read())
                time.sleep(0.05)
            sys.exit("soak: serve did not start")

        serve, port = start_serve()
        print(f"soak: {args.minutes} min, {args.rate} detect/s, serve on {port}, data in {tmp}", flush=True)
        load = {"latency": [], "errors": 0}
        t_start = time.monotonic()
        detect_load(port, args.rate, stop, load)
        mjpeg_counts = {"cam0": 0, "cam1": 0}
        ws_counts = {0: 0, 1: 0}
        for cam in mjpeg_counts:
            threading.Thread(target=mjpeg_viewer, args=(port, cam, stop, mjpeg_counts), daemon=True).start()
        for i in ws_counts:
            threading.Thread(target=ws_viewer, args=(port, i, stop, ws_counts), daemon=True).start()

        # The broker is killed at 40 % and restarted 10 s later.
        time.sleep(max(0.0, 0.4 * duration - (time.monotonic() - t_start)))
        broker.send_signal(signal.SIGKILL)
        broker.wait()
        sub.kill()
        killed = time.monotonic()
        time.sleep(10)
        broker = start_broker()
        restarted = time.monotonic()
        sub = subscribe()
        back_s = None
        while time.monotonic() - restarted < 60:
            if metrics(port).get("maskdetect_mqtt_connected") == 1.0:
                back_s = time.monotonic() - restarted
                break
            time.sleep(0.1)
        print(f"soak: broker killed at {killed - t_start:.0f} s, restarted 10 s later; MQTT back after "
              f"{back_s if back_s is None else round(back_s, 2)} s", flush=True)

        time.sleep(max(0.0, duration - (time.monotonic() - t_start)))
        elapsed = time.monotonic() - t_start
        m = metrics(port)
        stop.set()
        time.sleep(0.5)
        sigterm_index = len(mqtt_lines)
        t0 = time.monotonic()
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(timeout=60)
        sigterm_s = time.monotonic() - t0
        time.sleep(1.5)
        offline_after_sigterm = sum(1 for t, topic, p in mqtt_lines[sigterm_index:]
                                    if topic == "maskdetect/status" and p == "offline")

        db = sqlite3.connect(os.path.join(tmp, "data", "events.db"))
        stored = {row[0] for row in db.execute("SELECT id FROM events")}
        db.close()
        outbox_rows = sqlite3.connect(os.path.join(tmp, "data", "outbox.db")).execute(
            "SELECT count(*) FROM outbox").fetchone()[0]
        serve2, port2 = start_serve()
        conn = http.client.HTTPConnection("127.0.0.1", port2, timeout=10)
        after, target = set(), "/api/v1/events?limit=1000"
        while target:
            conn.request("GET", target)
            page = json.loads(conn.getresponse().read())
            after |= {e["id"] for e in page["events"]}
            target = page["next"]
        serve2.send_signal(signal.SIGTERM)
        serve2.wait(timeout=60)

        lat = load["latency"]
        with Hooks.lock:
            got = list(Hooks.got)
        delays = [t - e["created"] for t, e in got]
        ids = [json.loads(p)["id"] for _, topic, p in mqtt_lines if topic.endswith("/event")]
        events_total = sum(v for k, v in m.items() if k.startswith("maskdetect_events_total{"))
        print(f"detect: {len(lat) / elapsed:.1f} requests/s, p50 {percentile(lat, 50) * 1000:.0f} ms, "
              f"p99 {percentile(lat, 99) * 1000:.0f} ms, errors {load['errors']}")
        print("viewers: MJPEG " + ", ".join(f"{c} {n / elapsed:.1f} fps" for c, n in mjpeg_counts.items()) +
              "; WebSocket " + ", ".join(f"stream {c} {n / elapsed:.1f} msg/s" for c, n in ws_counts.items()))
        good_delivered = m.get('maskdetect_webhook_deliveries_total{webhook="good",result="delivered"}')
        slow_depth = m.get('maskdetect_webhook_outbox_depth{webhook="slow"}')
        slow_dropped = m.get('maskdetect_webhook_deliveries_total{webhook="slow",result="dropped"}')
        mqtt_dropped = m.get('maskdetect_mqtt_messages_total{kind="event",result="dropped"}')
        worst = max(delays) if delays else float("nan")
        print(f"events: {events_total:.0f} recorded; working webhook got {len(got)} (metric delivered "
              f"{good_delivered}), worst {worst:.2f} s after being stored; hanging webhook: {slow_depth} waiting "
              f"in the outbox (dropped {slow_dropped})")
        print(f"mqtt: back {back_s if back_s is None else round(back_s, 2)} s after the broker; {len(ids)} event "
              f"messages seen, {len(ids) - len(set(ids))} duplicate ids; events dropped {mqtt_dropped}")
        print(f"sigterm: exit {code} in {sigterm_s:.2f} s, 'offline' {offline_after_sigterm} time(s) on MQTT; "
              f"outbox rows left {outbox_rows}; "
              f"stored events {len(stored)}, listed after restart {len(after)}, missing {len(stored - after)}")
    finally:
        stop.set()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
