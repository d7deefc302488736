// @ts-check
// The training chart of the Teach tab: loss (left axis) and accuracy (right axis, %) per epoch.

import { $ } from './ui.js';

/** @type {{ points: { loss: number, accuracy: number }[], epochs: number }} */
const chart = { points: [], epochs: 0 };
/** The training chart: loss (left axis) and accuracy (right axis, %) per epoch (bottom axis). */
function drawChart() {
  const cv = $('chart');
  const ctx = cv.getContext('2d');
  const { width: w, height: h } = cv;
  const left = 52, right = w - 52, top = 12, bottom = h - 44;
  ctx.clearRect(0, 0, w, h);
  ctx.font = '12px system-ui, sans-serif';
  const pts = chart.points;
  const n = Math.max(chart.epochs, pts.length, 2);
  const maxLoss = niceCeil(Math.max(...pts.map((p) => p.loss), 1e-3));
  const x = (i) => left + (i * (right - left)) / (n - 1);
  const y = (v) => bottom - v * (bottom - top);
  // Grid and the two value axes.
  for (let i = 0; i <= 4; i++) {
    const yy = y(i / 4);
    ctx.strokeStyle = '#e3e6ec';
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(left, yy);
    ctx.lineTo(right, yy);
    ctx.stroke();
    ctx.fillStyle = '#2b59c3';
    ctx.textAlign = 'right';
    ctx.fillText(formatLoss((maxLoss * i) / 4), left - 6, yy + 4);
    ctx.fillStyle = '#0b7a45';
    ctx.textAlign = 'left';
    ctx.fillText(`${25 * i} %`, right + 6, yy + 4);
  }
  // Epochs along the bottom: about six labelled ticks.
  ctx.fillStyle = '#555';
  ctx.textAlign = 'center';
  const step = Math.max(1, Math.ceil(n / 6));
  for (let i = 0; i < n; i += step) ctx.fillText(String(i + 1), x(i), bottom + 16);
  ctx.fillText('epoch', (left + right) / 2, h - 6);
  ctx.textAlign = 'left';
  ctx.fillStyle = '#2b59c3';
  ctx.fillText('— loss', left, h - 6);
  ctx.fillStyle = '#0b7a45';
  ctx.textAlign = 'right';
  ctx.fillText('accuracy —', right, h - 6);
  ctx.textAlign = 'left';
  const line = (key, scale, color) => {
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    pts.forEach((p, i) => (i ? ctx.lineTo(x(i), y(p[key] / scale)) : ctx.moveTo(x(i), y(p[key] / scale))));
    ctx.stroke();
    if (pts.length === 1) {
      ctx.beginPath();
      ctx.arc(x(0), y(pts[0][key] / scale), 3, 0, 2 * Math.PI);
      ctx.fill();
    }
  };
  if (pts.length === 0) return;
  line('loss', maxLoss, '#2b59c3');
  line('accuracy', 1, '#0b7a45');
  const last = /** @type {{ loss: number, accuracy: number }} */ (pts.at(-1));
  cv.setAttribute('aria-label', `Training: after epoch ${pts.length} of ${n}, loss ${formatLoss(last.loss)}, accuracy ${(100 * last.accuracy).toFixed(0)} %`);
}

// 1, 2 or 5 times a power of ten, at least v: the loss axis' top.
/** @param {number} v */
function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  return /** @type {number} */ ([1, 2, 5, 10].map((m) => m * p).find((c) => c >= v * 0.999));
}

function formatLoss(v) {
  return v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2);
}

/** A new chart for a training of `epochs` epochs in all (empty until its first point). */
export function startChart(epochs) {
  chart.points = [];
  chart.epochs = epochs;
  drawChart();
}

/** One more epoch on the chart. @param {{ loss: number, accuracy: number }} point */
export function chartPoint(point) {
  chart.points.push(point);
  drawChart();
}
