// The History page: people counted per label and compliance over the last hour, 24 h or 7 days, per camera or
// for all cameras together, from GET /api/v1/history; drawn with uPlot (web/node_modules/uplot, embedded).
'use strict';

(() => {
  const { el, api, COLORS, message, unavailable } = window.MD;
  const $ = (id) => document.getElementById(id);
  const box = $('history-message');
  const cameraSelect = $('history-camera');
  const info = $('history-info');
  const page = $('page-history');
  const holders = { people: $('chart-people'), compliance: $('chart-compliance') };
  const STEPS = { 3600: 60, 86400: 600, 604800: 3600 };  // range (s) -> step (s): 60, 144 and 168 points
  const HEIGHT = 260;
  let charts = {};
  let data = null;      // { x, mask, no_mask, incorrect, in_view, compliance } of the range shown
  let range = null;     // [since, until]
  let timer = null;
  let request = 0;

  function rangeSeconds() {
    return Number(document.querySelector('input[name="range"]:checked').value);
  }

  /// Points of the cameras asked for, summed per step on a full time grid (null where no point: the chart
  /// shows a gap, not a zero). Compliance of several cameras: weighted by the people counted.
  function series(answer, since, until, step) {
    const first = Math.floor(since / step) * step;
    const n = Math.max(1, Math.ceil((until - first) / step));
    const x = Array.from({ length: n }, (_, i) => first + i * step);
    const keys = ['mask', 'no_mask', 'incorrect', 'in_view'];
    const out = { x, compliance: new Array(n).fill(null), points: 0 };
    for (const key of keys) out[key] = new Array(n).fill(null);
    const weighted = new Array(n).fill(0);
    const weights = new Array(n).fill(0);
    for (const camera of answer.cameras) {
      for (const p of camera.points) {
        const i = Math.floor((p.t - first) / step);
        if (i < 0 || i >= n) continue;
        out.points += 1;
        for (const key of keys) out[key][i] = (out[key][i] ?? 0) + Number(p[key] ?? 0);
        const people = Number(p.mask ?? 0) + Number(p.no_mask ?? 0) + Number(p.incorrect ?? 0);
        if (p.compliance !== null && p.compliance !== undefined && people > 0) {
          weighted[i] += p.compliance * people;
          weights[i] += people;
        }
      }
    }
    for (let i = 0; i < n; ++i) if (weights[i] > 0) out.compliance[i] = (100 * weighted[i]) / weights[i];
    return out;
  }

  /// A tooltip that follows the cursor: the time and each series' value (uPlot plugin).
  function tooltip() {
    let tip;
    return {
      hooks: {
        init(u) {
          tip = el('div', { class: 'chart-tooltip', role: 'presentation', hidden: true });
          u.over.append(tip);
          u.over.addEventListener('mouseleave', () => { tip.hidden = true; });
        },
        setCursor(u) {
          const i = u.cursor.idx;
          if (i === null || i === undefined || u.cursor.left < 0) {
            tip.hidden = true;
            return;
          }
          const when = new Date(u.data[0][i] * 1000);
          const lines = [el('div', { class: 'fw-semibold', text: when.toLocaleString() })];
          u.series.forEach((s, k) => {
            if (k === 0 || !s.show) return;
            const v = u.data[k][i];
            lines.push(el('div', {}, el('span', { class: 'swatch', style: `background:${s.stroke()}` }),
              `${s.label}: ${v === null || v === undefined ? 'no data' : s.fmt(v)}`));
          });
          tip.replaceChildren(...lines);
          tip.hidden = false;
          const left = u.cursor.left + 12;
          tip.style.left = (left + tip.offsetWidth > u.over.clientWidth ? u.cursor.left - tip.offsetWidth - 12 : left) + 'px';
          tip.style.top = Math.max(0, u.cursor.top - tip.offsetHeight - 8) + 'px';
        },
      },
    };
  }

  function axisColors() {
    const css = getComputedStyle(document.documentElement);
    return { text: css.getPropertyValue('--bs-body-color').trim() || '#888',
      grid: css.getPropertyValue('--bs-border-color-translucent').trim() || 'rgba(128,128,128,.2)' };
  }

  function draw() {
    for (const chart of Object.values(charts)) chart.destroy();
    charts = {};
    if (!data) return;
    const { text, grid } = axisColors();
    const axis = (label, values) => ({ label, stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid },
      values, size: 50 });
    const timeAxis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    const count = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
    // A value between two gaps has no line to show it: draw it as a dot.
    const isolated = (u, k) => {
      const ys = u.data[k];
      const out = [];
      for (let i = 0; i < ys.length; ++i) {
        if (ys[i] !== null && (i === 0 || ys[i - 1] === null) && (i === ys.length - 1 || ys[i + 1] === null)) out.push(i);
      }
      return out.length ? out : null;
    };
    const line = (label, color, extra = {}) => ({ label, stroke: color, width: 2, spanGaps: false, fmt: count,
      points: { show: true, size: 6, fill: color, filter: isolated },
      value: (u, v) => (v === null || v === undefined ? '–' : count(v)), ...extra });
    const common = { height: HEIGHT, legend: { live: true },
      scales: { x: { time: true, range: () => range } }, cursor: { drag: { x: true, y: false } } };
    const width = (holder) => Math.max(200, holder.clientWidth);
    charts.people = new window.uPlot({ ...common, width: width(holders.people), plugins: [tooltip()],
      series: [{ label: 'time' }, line('mask', COLORS.mask), line('no_mask', COLORS.no_mask),
        line('incorrect', COLORS.incorrect), line('in view (mean)', '#6ea8fe', { dash: [6, 4], width: 1.5 })],
      axes: [timeAxis, axis('people', (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? t : '')))],
      scales: { ...common.scales, y: { range: (u, min, max) => [0, Math.max(1, max ?? 1)] } } },
    [data.x, data.mask, data.no_mask, data.incorrect, data.in_view], holders.people);
    const pct = (v) => Math.round(v) + '%';
    charts.compliance = new window.uPlot({ ...common, width: width(holders.compliance), plugins: [tooltip()],
      series: [{ label: 'time' }, line('compliance', '#0d6efd', { fmt: pct, value: (u, v) => (v === null || v === undefined ? '–' : pct(v)),
        fill: 'rgba(13,110,253,0.12)' })],
      axes: [timeAxis, axis('compliance', (u, ticks) => ticks.map((t) => t + '%'))],
      scales: { ...common.scales, y: { range: [0, 100] } } },
    [data.x, data.compliance], holders.compliance);
  }

  async function load() {
    const seconds = rangeSeconds();
    const step = STEPS[seconds];
    const until = Math.floor(Date.now() / 1000);
    const since = until - seconds;
    const p = new URLSearchParams({ since: String(since), until: String(until), step: String(step) });
    if (cameraSelect.value) p.set('camera', cameraSelect.value);
    const mine = ++request;
    page.dataset.state = 'loading';
    let answer;
    try {
      answer = await api('/api/v1/history?' + p.toString());
    } catch (e) {
      if (mine !== request) return;
      page.dataset.state = e.status === 404 ? 'unavailable' : 'error';
      message(box, unavailable('History', e), e.status === 404 ? 'secondary' : 'warning');
      data = null;
      draw();
      info.textContent = '';
      return;
    }
    if (mine !== request || document.body.dataset.page !== 'history') return;
    for (const c of answer.cameras) {
      if (![...cameraSelect.options].some((o) => o.value === c.name)) cameraSelect.append(el('option', { value: c.name, text: c.name }));
    }
    const answerStep = Number(answer.step) || step;
    range = [since, until];
    data = series(answer, since, until, answerStep);
    page.dataset.state = 'ok';
    page.dataset.points = String(data.points);
    message(box, data.points ? '' : 'No history in this range yet: cameras record a point per minute while they run.');
    info.textContent = `${data.points} point${data.points === 1 ? '' : 's'} of ${answerStep} s, ` +
      `${answer.cameras.length} camera${answer.cameras.length === 1 ? '' : 's'}; updated ${new Date().toLocaleTimeString()}`;
    draw();
  }

  for (const input of document.querySelectorAll('input[name="range"]')) input.addEventListener('change', load);
  cameraSelect.addEventListener('change', load);
  document.addEventListener('maskdetect:theme', () => {
    if (document.body.dataset.page === 'history') draw();
  });
  const resize = new ResizeObserver(() => {
    for (const [key, chart] of Object.entries(charts)) {
      if (!holders[key].clientWidth) continue;  // page hidden
      const width = Math.max(200, holders[key].clientWidth);
      if (Math.abs(chart.width - width) > 1) chart.setSize({ width, height: HEIGHT });
    }
  });
  for (const holder of Object.values(holders)) resize.observe(holder);

  window.MD.pages.history = {
    show(params) {
      const camera = params.get('camera');
      if (camera && ![...cameraSelect.options].some((o) => o.value === camera)) cameraSelect.append(el('option', { value: camera, text: camera }));
      if (camera) cameraSelect.value = camera;
      load();
      clearInterval(timer);
      timer = setInterval(load, 60000);
    },
    hide() {
      clearInterval(timer);
      timer = null;
    },
  };
})();
