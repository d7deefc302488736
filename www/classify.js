// @ts-check
// The Classify tab: photos chosen, dropped, pasted or taken with the camera, each on a card with
// the model's top classes, and its heat map ("Where did it look?") on request.

import { openCamera } from './camera.js';
import { modelReady, state } from './state.js';
import { $, showError } from './ui.js';

/** @typedef {import('./state.js').Current} Current */

function card(file) {
  const el = document.createElement('article');
  el.className = 'card';
  const figure = document.createElement('div');
  figure.className = 'figure';
  const img = document.createElement('img');
  img.alt = file.name || 'photo';
  img.src = URL.createObjectURL(file);
  figure.append(img);
  const body = document.createElement('div');
  body.className = 'card-body';
  body.innerHTML = '<p class="hint">Looking…</p>';
  el.append(figure, body);
  $('results').prepend(el);
  return { el, figure, img, body };
}

function bars(top) {
  const list = document.createElement('ol');
  list.className = 'bars';
  for (const p of top) {
    const li = document.createElement('li');
    const pct = Math.max(0, Math.min(100, p.score * 100));
    li.innerHTML = '<span class="label"></span><span class="pct"></span><span class="bar"><span></span></span>';
    /** @type {HTMLElement} */ (li.querySelector('.label')).textContent = p.label;
    /** @type {HTMLElement} */ (li.querySelector('.pct')).textContent = `${pct.toFixed(1)} %`;
    /** @type {HTMLElement} */ (li.querySelector('.bar > span')).style.width = `${pct}%`;
    list.append(li);
  }
  return list;
}

/** Classifies `files` with the model in use, each on its card (newest first). */
export async function classifyFiles(files) {
  const images = [...files];
  if (images.length === 0) return;
  // Every photo gets its card now; while the engine or model is still loading they wait for
  // it (nothing the user gave is lost) and are classified as soon as it is ready.
  const cards = images.map((file) => ({ file, c: card(file) }));
  if (!state.current) {
    for (const { c } of cards) /** @type {HTMLElement} */ (c.body.querySelector('.hint')).textContent = 'Waiting for the model to finish loading…';
    try {
      await modelReady;
    } catch (e) {
      for (const { file, c } of cards) {
        c.el.classList.add('failed');
        const msg = document.createElement('p');
        msg.className = 'error-text';
        msg.textContent = `${file.name || 'This file'}: not classified, ${e.message}`;
        c.body.replaceChildren(msg);
      }
      showError(`Your photos could not be classified: ${e.message}`);
      return;
    }
    for (const { c } of cards) /** @type {HTMLElement} */ (c.body.querySelector('.hint')).textContent = 'Looking…';
  }
  const { model, name } = /** @type {Current} */ (state.current);
  for (const { file, c } of cards) {
    const t0 = performance.now();
    try {
      const top = await model.classify(file, { topK: Math.min(5, model.labels?.length ?? 5) });
      const ms = performance.now() - t0;
      c.body.replaceChildren(bars(top));
      const meta = document.createElement('p');
      meta.className = 'hint';
      meta.textContent = `${name} · ${state.info.backend === 'webgpu' ? 'WebGPU' : 'CPU'} · ${Math.round(ms)} ms`;
      const look = document.createElement('button');
      look.className = 'button small';
      look.textContent = 'Where did it look?';
      look.addEventListener('click', () => heatmap(model, file, c, top[0], look));
      c.body.append(meta, look);
      c.el.dataset.top = top[0].label;
    } catch (e) {
      c.el.classList.add('failed');
      c.img.remove();
      const msg = document.createElement('p');
      msg.className = 'error-text';
      msg.textContent = `${file.name || 'This file'}: ${e.message}`;
      c.body.replaceChildren(msg);
      showError(`${file.name || 'A file'} could not be classified: ${e.message}`);
    }
  }
}

async function heatmap(model, file, c, top, button) {
  button.disabled = true;
  button.textContent = 'Looking closer…';
  try {
    const occ = await model.occlusion(file, { index: top.index, grid: 7 });
    const canvas = document.createElement('canvas');
    canvas.className = 'heat';
    canvas.width = occ.grid;
    canvas.height = occ.grid;
    const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
    const max = Math.max(1e-6, ...occ.values);
    const img = ctx.createImageData(occ.grid, occ.grid);
    occ.values.forEach((v, i) => {
      // Blue (hiding the cell changes nothing) through yellow to red (the score collapses).
      const t = Math.max(0, v) / max;
      const rgb = t < 0.5 ? [Math.round(510 * t), Math.round(510 * t), Math.round(255 * (1 - 2 * t))] : [255, Math.round(255 * (2 - 2 * t)), 0];
      img.data.set([...rgb, 150], i * 4);
    });
    ctx.putImageData(img, 0, 0);
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `Regions that matter most for "${top.label}"`);
    c.figure.classList.add('cropped');
    c.figure.append(canvas);
    button.textContent = `Red: where "${top.label}" depends on the photo`;
  } catch (e) {
    showError(`Heat map failed: ${e.message}`);
    button.disabled = false;
    button.textContent = 'Where did it look?';
  }
}

// A real button opens the (hidden) file chooser: in the tab order, announced as a button.
$('choose-photos').addEventListener('click', () => $('classify-files').click());
$('classify-files').addEventListener('change', (e) => {
  classifyFiles([...e.target.files]);
  e.target.value = '';
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  classifyFiles([...e.dataTransfer.files]);
});
document.addEventListener('paste', (e) => {
  const files = [...(e.clipboardData?.files ?? [])].filter((f) => f.type.startsWith('image/'));
  if (files.length && !$('panel-classify').hidden) classifyFiles(files);
});
$('classify-camera').addEventListener('click', () => openCamera($('panel-classify'), (photo) => classifyFiles([photo])));
