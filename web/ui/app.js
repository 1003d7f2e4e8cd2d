// maskdetect live view (the Live page). Three modes:
//  - stream: the server's annotated MJPEG (<img>) plus its detections over /api/v1/streams/<id>/ws;
//  - camera: getUserMedia frames sent as JPEG over /api/v1/ws; each answer's boxes are drawn on the very frame
//    that was analysed (kept when sent), painted over the <video> that has moved on meanwhile;
//  - picture: a dropped or chosen image goes through POST /api/v1/detect, its boxes drawn over it.
// A bearer token, when the server needs one, is taken from the page URL (?token=...): see common.js.
'use strict';

(() => {
  const { params, token, LABELS, COLORS, TEXT_ON, withToken, api, badge } = window.MD;
  const HISTORY = 60;
  const MAX_EVENTS = 12;

  const $ = (id) => document.getElementById(id);
  const el = {
    img: $('stream-img'), video: $('camera-video'), picture: $('picture-img'), pictureControls: $('picture-controls'),
    pictureInput: $('picture-input'), view: $('view'), overlay: $('overlay'), message: $('view-message'),
    status: $('status'), select: $('stream-select'), frameInfo: $('frame-info'), fps: $('fps'),
    compliance: $('compliance'), history: $('history'), threshold: $('threshold'),
    thresholdValue: $('threshold-value'), events: $('events'), noEvents: $('no-events'), totals: $('totals'),
  };

  const state = {
    info: null, mode: null, ws: null, stream: null, camera: null, history: [], frames: 0, facesSeen: 0,
    frameTimes: [], lastEventAt: 0, lastResult: null, generation: 0, analysed: null, pictureUrl: null,
    statsTimer: null, started: false, stored: false,
  };
  window.maskdetect = state;  // for the browser test and for debugging

  // ---- helpers -------------------------------------------------------------------------------------
  function wsUrl(path) {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + withToken(path);
  }
  function setStatus(text, kind) {
    el.status.textContent = text;
    el.status.className = 'badge ms-auto text-bg-' + kind;
  }
  function showMessage(text) {
    el.message.textContent = text || '';
    el.message.hidden = !text;
  }

  async function fetchImage(url) {
    const res = await fetch(url, { headers: token ? { Authorization: 'Bearer ' + token } : {} });
    if (!res.ok) throw new Error(res.statusText);
    return createImageBitmap(await res.blob());
  }

  // ---- results -------------------------------------------------------------------------------------
  function handleResult(result, source) {
    state.lastResult = result;
    state.frames += 1;
    const now = performance.now();
    state.frameTimes.push(now);
    while (state.frameTimes.length > 1 && now - state.frameTimes[0] > 3000) state.frameTimes.shift();
    const counts = { mask: 0, no_mask: 0, incorrect: 0 };
    for (const face of result.faces) counts[face.label] += 1;
    for (const label of LABELS) $('count-' + label).textContent = String(counts[label]);
    const total = result.faces.length;
    state.facesSeen += total;
    document.body.dataset.frames = String(state.frames);
    document.body.dataset.facesSeen = String(state.facesSeen);
    if (total > 0) {
      const rate = counts.mask / total;
      el.compliance.textContent = Math.round(rate * 100) + '%';
      state.history.push(rate);
      if (state.history.length > HISTORY) state.history.shift();
      drawHistory();
    }
    const span = (state.frameTimes[state.frameTimes.length - 1] - state.frameTimes[0]) / 1000;
    el.fps.textContent = (span > 0 ? ((state.frameTimes.length - 1) / span).toFixed(1) : '–') + ' fps';
    el.frameInfo.textContent = `frame ${result.frame ?? state.frames} · ${result.width}×${result.height} · ` +
      `${total} face${total === 1 ? '' : 's'}` +
      (result.timing_ms ? ` · ${(result.timing_ms.detect + result.timing_ms.classify).toFixed(1)} ms` : '');
    addEvents(result, source);
  }

  /// Draws `result`'s boxes over `media` (object-fit: contain); with `frame`, first paints that picture (the
  /// frame the boxes belong to) over the media.
  function drawBoxes(result, media, naturalWidth, naturalHeight, frame) {
    const canvas = el.overlay;
    const width = media.clientWidth;
    const height = media.clientHeight;
    const dpr = window.devicePixelRatio || 1;
    canvas.style.left = media.offsetLeft + 'px';
    canvas.style.top = media.offsetTop + 'px';
    canvas.style.width = width + 'px';
    canvas.style.height = height + 'px';
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    if (!result || !naturalWidth) {
      canvas.dataset.boxes = '0';
      return;
    }
    // object-fit: contain.
    const scale = Math.min(width / naturalWidth, height / naturalHeight);
    const ox = (width - naturalWidth * scale) / 2;
    const oy = (height - naturalHeight * scale) / 2;
    if (frame) ctx.drawImage(frame, ox, oy, naturalWidth * scale, naturalHeight * scale);
    ctx.lineWidth = 2;
    ctx.font = '600 13px system-ui, sans-serif';
    ctx.textBaseline = 'top';
    for (const face of result.faces) {
      const [x, y, w, h] = face.box;
      const bx = ox + x * scale;
      const by = oy + y * scale;
      const color = COLORS[face.label] || '#fff';
      ctx.strokeStyle = color;
      ctx.strokeRect(bx, by, w * scale, h * scale);
      // As the SDK writes its tags ("mask 0.97"), kept inside the picture (never cut at its right or bottom edge).
      const text = `${face.label} ${face.score.toFixed(2)}`;
      const tw = ctx.measureText(text).width + 8;
      const right = ox + naturalWidth * scale;
      const bottom = oy + naturalHeight * scale;
      const tx = Math.max(ox, Math.min(bx, right - tw));
      const ty = Math.max(oy, Math.min(by - 18 >= oy ? by - 18 : by + h * scale, bottom - 18));
      ctx.fillStyle = color;
      ctx.fillRect(tx, ty, tw, 18);
      ctx.fillStyle = TEXT_ON[face.label] || '#111';
      ctx.fillText(text, tx + 4, ty + 2);
    }
    canvas.dataset.boxes = String(result.faces.length);
  }

  function drawHistory() {
    const canvas = el.history;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue('--bs-border-color') || '#888';
    ctx.lineWidth = 1;
    for (const level of [0, 0.5, 1]) {
      const y = 4 + (1 - level) * (height - 8);
      ctx.beginPath();
      ctx.moveTo(0, y);
      ctx.lineTo(width, y);
      ctx.stroke();
    }
    if (state.history.length === 0) return;
    const step = width / Math.max(HISTORY - 1, 1);
    ctx.beginPath();
    state.history.forEach((rate, i) => {
      const x = i * step;
      const y = 4 + (1 - rate) * (height - 8);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.strokeStyle = '#0d6efd';
    ctx.lineWidth = 2;
    ctx.stroke();
  }

  /// A thumbnail of `box` cut from what the viewer shows.
  function thumbnail(source, box) {
    const [x, y, w, h] = box;
    const side = Math.max(w, h) * 1.3;
    const canvas = document.createElement('canvas');
    canvas.width = 64;
    canvas.height = 64;
    try {
      canvas.getContext('2d').drawImage(source, x + w / 2 - side / 2, y + h / 2 - side / 2, side, side, 0, 0, 64, 64);
      return canvas.toDataURL('image/jpeg', 0.8);
    } catch (e) {
      return '';
    }
  }

  function addEvents(result, source) {
    if (state.stored) return;  // the list shows the camera's stored events instead
    const now = Date.now();
    if (now - state.lastEventAt < 1000) return;  // at most one event a second
    const face = result.faces.find((f) => f.label !== 'mask');
    if (!face) return;
    state.lastEventAt = now;
    el.noEvents.hidden = true;
    const item = document.createElement('li');
    item.className = 'list-group-item d-flex align-items-center gap-2 event';
    const img = document.createElement('img');
    img.alt = face.label;
    item.appendChild(img);
    const setThumb = (from) => {
      const src = thumbnail(from, face.box);
      if (src) img.src = src; else img.remove();
    };
    if (typeof source === 'function') {
      source().then(setThumb, () => img.remove());
    } else if (source) {
      setThumb(source);
    } else {
      img.remove();
    }
    const text = document.createElement('span');
    text.className = 'small text-body-secondary ms-auto';
    text.textContent = `${Math.round(face.score * 100)}% · ${new Date(now).toLocaleTimeString()}`;
    item.append(badge(face.label), text);
    el.events.insertBefore(item, el.events.firstChild);
    while (el.events.querySelectorAll('.event').length > MAX_EVENTS) el.events.removeChild(el.events.lastChild);
  }

  // ---- stream mode ---------------------------------------------------------------------------------
  function startStream(id) {
    const generation = state.generation;
    const stream = state.info.streams[id];
    state.stream = stream;
    el.video.hidden = true;
    el.img.hidden = false;
    drawBoxes(null, el.img, 0, 0);
    showMessage('Connecting to ' + stream.name + '…');
    el.img.onload = () => showMessage('');
    el.img.onerror = () => showMessage('The stream is not available');
    el.img.src = withToken(stream.mjpeg);
    pollStoredEvents();
    const ws = new WebSocket(wsUrl(stream.ws));
    state.ws = ws;
    ws.onopen = () => {
      setStatus('live: stream ' + stream.id, 'success');
      ws.send(JSON.stringify({ threshold: Number(el.threshold.value) }));
    };
    ws.onmessage = (event) => {
      if (generation !== state.generation) return;
      const msg = JSON.parse(event.data);
      if (msg.error) return setStatus(msg.error.message, 'warning');
      if (!msg.faces) return;  // threshold acknowledgement
      showMessage('');
      // The MJPEG frames carry the server's boxes and labels, drawn on the very frame they belong to.
      document.body.dataset.boxes = String(msg.faces.length);
      // Thumbnails: the source's latest frame, fetched when an event happens (the frame of these detections,
      // unless the source has moved on since).
      handleResult(msg, () => fetchImage(withToken(stream.snapshot)));
    };
    ws.onclose = () => {
      if (generation === state.generation) setStatus('disconnected', 'danger');
    };
  }

  // ---- camera mode ---------------------------------------------------------------------------------
  async function startCamera() {
    const generation = state.generation;
    el.img.hidden = true;
    el.img.removeAttribute('src');
    el.video.hidden = false;
    showMessage('Asking for the camera…');
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showMessage('This browser has no camera access (a secure context is needed: https or localhost)');
      return setStatus('no camera', 'danger');
    }
    let media;
    try {
      media = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    } catch (e) {
      showMessage('Camera refused: ' + e.message);
      return setStatus('no camera', 'danger');
    }
    if (generation !== state.generation) return media.getTracks().forEach((t) => t.stop());
    state.camera = media;
    el.video.srcObject = media;
    await el.video.play().catch(() => {});
    showMessage('');

    // Two canvases: the one sent stays untouched until its answer is drawn on it, while the next is grabbed.
    const grabs = [document.createElement('canvas'), document.createElement('canvas')];
    let next = 0;
    const ws = new WebSocket(wsUrl('/api/v1/ws?threshold=' + el.threshold.value));
    ws.binaryType = 'arraybuffer';
    state.ws = ws;
    const maxFps = state.info.limits.max_fps > 0 ? Math.min(state.info.limits.max_fps, 15) : 15;
    const interval = 1000 / maxFps;
    let inFlight = false;
    let lastSent = 0;
    let sentFrame = null;  // the canvas of the frame being processed (for thumbnails)

    const sendFrame = () => {
      if (generation !== state.generation || ws.readyState !== WebSocket.OPEN) return;
      const now = performance.now();
      if (inFlight || now - lastSent < interval || !el.video.videoWidth) {
        requestAnimationFrame(sendFrame);
        return;
      }
      const scale = Math.min(1, 640 / el.video.videoWidth);
      const grab = grabs[next];
      next = 1 - next;
      grab.width = Math.round(el.video.videoWidth * scale);
      grab.height = Math.round(el.video.videoHeight * scale);
      grab.getContext('2d').drawImage(el.video, 0, 0, grab.width, grab.height);
      inFlight = true;
      lastSent = now;
      grab.toBlob((blob) => {
        if (!blob || ws.readyState !== WebSocket.OPEN) {
          inFlight = false;
          return;
        }
        sentFrame = grab;
        ws.send(blob);
      }, 'image/jpeg', 0.8);
      requestAnimationFrame(sendFrame);
    };
    ws.onopen = () => {
      setStatus('live: browser camera', 'success');
      requestAnimationFrame(sendFrame);
    };
    ws.onmessage = (event) => {
      if (generation !== state.generation) return;
      const msg = JSON.parse(event.data);
      if (msg.error) {
        inFlight = false;
        if (msg.error.code !== 'rate_limited') setStatus(msg.error.message, 'warning');
        return;
      }
      if (!msg.faces) return;  // threshold acknowledgement
      inFlight = false;
      // Boxes are in pixels of the frame sent, and drawn on that frame (not on the video, which has moved on).
      state.analysed = sentFrame;
      drawBoxes(msg, el.video, sentFrame.width, sentFrame.height, sentFrame);
      document.body.dataset.boxes = String(msg.faces.length);
      handleResult(msg, sentFrame);
    };
    ws.onclose = () => {
      if (generation === state.generation) setStatus('disconnected', 'danger');
    };
  }

  // ---- picture mode --------------------------------------------------------------------------------
  const PICTURE_TYPES = ['image/jpeg', 'image/png', 'image/webp'];

  function startPicture() {
    el.img.hidden = true;
    el.video.hidden = true;
    el.pictureControls.hidden = false;
    el.picture.hidden = !state.pictureUrl;
    showMessage(state.pictureUrl ? '' : 'Drop a picture here, or choose one below');
    setStatus('picture', 'secondary');
  }

  async function detectPicture(file) {
    if (state.mode !== 'picture') setMode('picture');
    const generation = state.generation;
    if (!PICTURE_TYPES.includes(file.type)) {
      showMessage(`${file.name}: not a JPEG, PNG or WebP picture (${file.type || 'unknown type'})`);
      return setStatus('not a picture', 'warning');
    }
    if (state.pictureUrl) URL.revokeObjectURL(state.pictureUrl);
    state.pictureUrl = URL.createObjectURL(file);
    el.picture.src = state.pictureUrl;
    el.picture.hidden = false;
    drawBoxes(null, el.picture, 0, 0);
    showMessage('');
    setStatus('detecting…', 'info');
    try {
      await el.picture.decode();
      const result = await api('/api/v1/detect?threshold=' + Number(el.threshold.value),
        { method: 'POST', body: file, headers: { 'Content-Type': file.type } });
      if (generation !== state.generation) return;
      drawBoxes(result, el.picture, el.picture.naturalWidth, el.picture.naturalHeight);
      document.body.dataset.boxes = String(result.faces.length);
      state.frameTimes = [];
      handleResult(result, el.picture);
      el.frameInfo.textContent = `${file.name} · ` + el.frameInfo.textContent;
      setStatus(`${result.faces.length} face${result.faces.length === 1 ? '' : 's'}`, 'success');
    } catch (e) {
      if (generation !== state.generation) return;
      showMessage(`${file.name}: ${e.message}`);
      setStatus('error', 'danger');
    }
  }

  el.pictureInput.addEventListener('change', () => {
    if (el.pictureInput.files.length) detectPicture(el.pictureInput.files[0]);
  });
  for (const zone of [el.view, el.pictureControls]) {
    zone.addEventListener('dragover', (event) => {
      event.preventDefault();
      zone.classList.add('drag-over');
    });
    zone.addEventListener('dragleave', () => zone.classList.remove('drag-over'));
    zone.addEventListener('drop', (event) => {
      event.preventDefault();
      zone.classList.remove('drag-over');
      const file = event.dataTransfer.files[0];
      if (file) detectPicture(file);
    });
  }

  // ---- mode switching ------------------------------------------------------------------------------
  function stopAll() {
    state.generation += 1;
    if (state.ws) state.ws.close();
    state.ws = null;
    if (state.camera) state.camera.getTracks().forEach((t) => t.stop());
    state.camera = null;
    el.img.removeAttribute('src');  // closes the MJPEG connection
    el.video.srcObject = null;
    el.picture.hidden = true;
    el.pictureControls.hidden = true;
    state.analysed = null;
    state.lastResult = null;
    state.stream = null;
    if (state.stored) {
      state.stored = false;
      for (const item of [...el.events.querySelectorAll('.event')]) item.remove();
      el.noEvents.hidden = false;
      $('events-title-live').textContent = 'Recent faces';
      $('events-note').textContent = 'no_mask / incorrect, this page only';
    }
    drawBoxes(null, el.video, 0, 0);
    state.history = [];
    drawHistory();
    el.compliance.textContent = '–';
    for (const label of LABELS) $('count-' + label).textContent = '0';
  }

  function setMode(mode) {
    stopAll();
    state.mode = mode;
    document.body.dataset.mode = mode;
    $('mode-' + mode).checked = true;
    el.select.hidden = mode !== 'stream' || state.info.streams.length === 0;
    if (mode === 'camera') return startCamera();
    if (mode === 'picture') return startPicture();
    if (state.info.streams.length === 0) {
      el.img.hidden = true;
      el.video.hidden = true;
      showMessage('The server has no streams (start it with --source); use the browser camera or a picture');
      return setStatus('no stream', 'secondary');
    }
    startStream(Number(el.select.value || 0));
  }

  el.threshold.addEventListener('input', () => {
    el.thresholdValue.textContent = Number(el.threshold.value).toFixed(2);
  });
  el.threshold.addEventListener('change', () => {
    if (state.ws && state.ws.readyState === WebSocket.OPEN)
      state.ws.send(JSON.stringify({ threshold: Number(el.threshold.value) }));
  });
  for (const input of document.querySelectorAll('input[name="mode"]'))
    input.addEventListener('change', () => setMode(input.value));
  el.select.addEventListener('change', () => setMode('stream'));
  function redraw() {
    if (document.body.dataset.page !== 'live') return;
    drawHistory();
    if (state.mode === 'camera' && state.analysed && state.lastResult)
      drawBoxes(state.lastResult, el.video, state.analysed.width, state.analysed.height, state.analysed);
    if (state.mode === 'picture' && state.lastResult)
      drawBoxes(state.lastResult, el.picture, el.picture.naturalWidth, el.picture.naturalHeight);
  }
  window.addEventListener('resize', redraw);
  document.addEventListener('maskdetect:theme', redraw);

  /// Stream mode: the camera's stored events (GET /api/v1/events?camera=), whose crops come from the frame
  /// that was analysed, without drawn boxes, and last across reloads. Where the server keeps no events (an
  /// error or 404), the list keeps the faces seen by this page, cut from the stream's annotated snapshot.
  async function pollStoredEvents() {
    if (state.mode !== 'stream' || !state.stream) return;
    const generation = state.generation;
    let answer;
    try {
      answer = await api('/api/v1/events?limit=' + MAX_EVENTS + '&camera=' + encodeURIComponent(state.stream.name));
    } catch (e) {
      state.stored = false;
      return;
    }
    if (generation !== state.generation) return;
    if (!state.stored) {
      state.stored = true;
      $('events-title-live').textContent = 'Events';
      const link = document.createElement('a');
      link.href = '#events?camera=' + encodeURIComponent(state.stream.name);
      link.textContent = 'stored events of ' + state.stream.name;
      $('events-note').replaceChildren(link);
    }
    for (const item of [...el.events.querySelectorAll('.event')]) item.remove();
    el.noEvents.hidden = answer.events.length > 0;
    for (const event of answer.events) {
      const item = document.createElement('li');
      item.className = 'list-group-item d-flex align-items-center gap-2 event';
      if (event.crop) {
        const img = document.createElement('img');
        img.src = withToken(event.crop);
        img.alt = `face of event ${event.id}`;
        item.appendChild(img);
      }
      const text = document.createElement('span');
      text.className = 'small text-body-secondary ms-auto';
      text.textContent = `${Math.round(event.confidence * 100)}% · ${window.MD.time(event.last_seen)}`;
      item.append(badge(event.label), text);
      el.events.appendChild(item);
    }
  }

  async function pollStats() {
    pollStoredEvents();
    try {
      const stats = await api('/api/v1/stats');
      const short = (name) => (name.length > 28 ? '…' + name.slice(-27) : name);
      const rows = [['api + browser', stats.api], ...stats.sources.map((s) => [`${s.id}: ${short(s.name)}`, s])];
      el.totals.innerHTML = '';
      for (const [name, s] of rows) {
        const tr = document.createElement('tr');
        const faces = LABELS.map((l) => s.faces[l]).join(' / ');
        const c = s.compliance === null ? '–' : Math.round(s.compliance * 100) + '%';
        [name, String(s.frames), s.fps.toFixed(1), faces, c].forEach((text, i) => {
          const cell = document.createElement(i === 0 ? 'th' : 'td');
          if (i === 0) cell.scope = 'row';
          if (i === 1) cell.className = 'd-none d-sm-table-cell';  // frames: not on a phone
          cell.textContent = text;
          tr.appendChild(cell);
        });
        el.totals.appendChild(tr);
      }
    } catch (e) {
      // shown by the status badge when it matters
    }
  }

  async function init() {
    try {
      state.info = await api('/api/v1/info');
    } catch (e) {
      showMessage('Cannot reach the server API: ' + e.message + (token ? '' : ' (add ?token=... to the URL?)'));
      setStatus('error', 'danger');
      return false;
    }
    el.threshold.value = state.info.threshold;
    el.thresholdValue.textContent = Number(state.info.threshold).toFixed(2);
    for (const stream of state.info.streams) {
      const option = document.createElement('option');
      option.value = String(stream.id);
      option.textContent = `${stream.id}: ${stream.name}`;
      el.select.appendChild(option);
    }
    if (state.info.streams.length === 0) el.select.hidden = true;
    return true;
  }

  window.MD.pages.live = {
    async show(pageParams) {
      if (!state.started) {
        state.started = true;
        if (!(await init())) {
          state.started = false;
          return;
        }
      }
      if (document.body.dataset.page !== 'live') return;  // left while loading
      const wanted = pageParams.get('mode') || state.mode || params.get('mode');
      const fallback = state.info.streams.length ? 'stream' : 'camera';
      setMode(['camera', 'stream', 'picture'].includes(wanted) ? wanted : fallback);
      pollStats();
      clearInterval(state.statsTimer);
      state.statsTimer = setInterval(pollStats, 2000);
    },
    hide() {
      stopAll();
      clearInterval(state.statsTimer);
      state.statsTimer = null;
      setStatus('stopped', 'secondary');
    },
  };
})();
