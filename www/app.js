// @ts-check
// The Glimpse page: classify photos with EfficientNet-Lite0, teach new classes (a new head
// trained in a Web Worker), keep taught models in IndexedDB, export and import them, look
// inside. All the engine's work runs in the worker; this thread only draws.

import { createWorker } from '../pkg/client.js';
import * as store from './store.js';

// An element of index.html by its id. (Its kind is in index.html, which the type checker does
// not read: it is `any` here.)
/** @type {(id: string) => any} */
const $ = (id) => document.getElementById(id);
// The engine's worker; made once the service worker controls the page (see start), so even
// the first visit's downloads (engine, network) pass through it and are kept once.
// (Typed as made: start() makes it before anything uses it.)
/** @type {import('../pkg/client.js').GlimpseWorker} */
let glimpse = /** @type {any} */ (null);
const MODEL_URL = new URL('../models/efficientnet-lite0/', import.meta.url).href;
// The ImageNet networks the page offers when the site has them (scripts/serve and
// scripts/build-site include Lite2 when it was fetched). Lite0 loads at start.
const NETWORKS = {
  'efficientnet-lite2': {
    label: 'EfficientNet-Lite2', note: 'more accurate; 12.6 MB to download once, about twice the work per photo',
  },
};
const netUrl = (name) => new URL(`../models/${name}/`, import.meta.url).href;

/** @typedef {import('../pkg/client.js').RemoteModel} RemoteModel */
/** @typedef {{ id: string, name: string, model: RemoteModel }} Current */
// (`info` and `pretrained` are typed as loaded: every use waits for start() to load them.)
/** @typedef {{ info: import('../pkg/index.js').BackendInfo & { requested?: string | null },
 *   pretrained: RemoteModel, current: Current | null,
 *   loaded: Map<string, RemoteModel>, classes: { id: number, name: string, files: File[], old?: any }[],
 *   training: AbortController | null, teachFrom: { id: string, name: string, model: RemoteModel, labels: string[] } | null,
 *   networks: Map<string, RemoteModel>, offered: string[], base: RemoteModel | null }} State */
/** @type {State} */
const state = {
  info: /** @type {any} */ (null),
  pretrained: /** @type {any} */ (null), // RemoteModel
  current: null, // { id, name, model: RemoteModel }
  loaded: new Map(), // saved id -> RemoteModel
  classes: [], // { id, name, files: File[], old: the taught model's own class }
  training: null, // AbortController
  teachFrom: null, // { id, name, model, labels }: a taught or imported model taught further
  networks: new Map(), // name -> RemoteModel, the ImageNet networks loaded besides Lite0
  offered: [], // the names of NETWORKS this site serves
  base: null, // the ImageNet network new classes are taught on (default: Lite0)
};

// ---------- errors and status ----------

function showError(message) {
  const box = $('errors');
  const item = document.createElement('p');
  item.textContent = message;
  const close = document.createElement('button');
  close.className = 'link';
  close.textContent = 'Dismiss';
  close.addEventListener('click', () => item.remove());
  item.append(' ', close);
  box.append(item);
  while (box.children.length > 4) box.firstChild.remove();
}

/** A message that is not an error (same place, calmer look). */
function showNote(message) {
  showError(message);
  $('errors').lastElementChild.classList.add('note');
}

function setStatus(text, kind = '') {
  const s = $('status');
  s.textContent = text;
  s.dataset.kind = kind;
  if (kind !== 'busy') $('load-progress').hidden = true;
}

/** The download bar under the status: a fraction, or null for "under way, size unknown". */
function setLoadProgress(fraction) {
  const bar = $('load-progress');
  bar.hidden = false;
  if (fraction === null) bar.removeAttribute('value');
  else bar.value = Math.max(0, Math.min(1, fraction));
}

const MB = (n) => (n / 1e6).toFixed(1);

function backendText(info) {
  if (info.backend === 'webgpu') return `WebGPU — ${info.adapter}`;
  // Which CPU engine: threads (a cross-origin-isolated page) or one thread, and why.
  const cpu = (info.threads ?? 1) > 1
    ? `CPU (WebAssembly, ${info.threads} threads)`
    : `CPU (WebAssembly, 1 thread${info.threadsReason ? `: ${info.threadsReason}` : ''})`;
  if (info.requested === 'cpu') return `${cpu}, as asked by ?backend=cpu`;
  return info.reason === 'software WebGPU adapter'
    ? `${cpu} — this browser's WebGPU runs in software, slower than Glimpse on the CPU`
    : `${cpu} — this browser has no WebGPU adapter, so Glimpse computes on the CPU`;
}

// ---------- tabs (arrow keys move between them) ----------

const tabs = [.../** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('[role=tab]'))];
function selectTab(tab) {
  const before = tabs.find((t) => t.getAttribute('aria-selected') === 'true');
  if (before !== tab) {
    // Errors belong to what was done on the tab being left; the camera stops with it.
    $('errors').replaceChildren();
    closeCamera();
  }
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(/** @type {string} */ (t.getAttribute('aria-controls'))).hidden = !on;
  }
  if (tab.id === 'tab-inside') showSummary();
  if (tab.id === 'tab-keep') renderSaved();
}
tabs.forEach((t, i) => {
  t.addEventListener('click', () => selectTab(t));
  t.addEventListener('keydown', (e) => {
    const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (!d) return;
    const next = tabs[(i + d + tabs.length) % tabs.length];
    next.focus();
    selectTab(next);
  });
});

// ---------- start-up ----------

// Resolves when the engine and the pretrained model are ready (photos chosen before then wait
// for it); rejects with what went wrong.
let modelLoaded;
const modelReady = new Promise((resolve, reject) => {
  modelLoaded = { resolve, reject };
});
modelReady.catch(() => {});

/** Registers the service worker (scope: the page's folder) and waits, briefly, until it
 * controls the page. */
async function offlineWorker() {
  if (!('serviceWorker' in navigator)) return null;
  try {
    const reg = await navigator.serviceWorker.register(new URL('../sw.js', import.meta.url), { scope: new URL('../', import.meta.url).href });
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve) => {
        navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true });
        setTimeout(resolve, 3000);
      });
    }
    return reg;
  } catch {
    return null; // Without a service worker the page still works online.
  }
}

async function start() {
  const reg = await offlineWorker();
  glimpse = createWorker(new URL('../pkg/worker.js', import.meta.url));
  // The engine and the network download at once (the engine compiles while the weights arrive),
  // under one bar.
  const got = { engine: [0, 0], net: [0, 0] };
  const showDownload = (what, { loaded, total }) => {
    got[what] = [loaded, total];
    const loadedAll = got.engine[0] + got.net[0];
    const totalAll = got.engine[1] && got.net[1] ? got.engine[1] + got.net[1] : 0;
    const prefix = state.info ? `${backendText(state.info)} · downloading` : 'Downloading the engine and';
    setStatus(`${prefix} EfficientNet-Lite0: ${MB(loadedAll)}${totalAll ? ` of ${MB(totalAll)}` : ''} MB`, 'busy');
    setLoadProgress(totalAll ? loadedAll / totalAll : null);
  };
  // ?backend=cpu or ?backend=webgpu overrides the automatic choice.
  const wanted = new URLSearchParams(location.search).get('backend');
  const requested = /** @type {'cpu' | 'webgpu' | 'auto'} */ (['cpu', 'webgpu'].includes(/** @type {string} */ (wanted)) ? wanted : 'auto');
  const readying = glimpse.ready({ backend: requested, onProgress: (p) => showDownload('engine', p) });
  const loading = glimpse.loadPretrained('efficientnet-lite0', {
    baseUrl: MODEL_URL,
    onProgress: (p) => showDownload('net', p),
  });
  loading.catch(() => {});
  try {
    state.info = { ...(await readying), requested };
  } catch (e) {
    setStatus(`The engine did not start: ${e.message}`, 'error');
    modelLoaded.reject(new Error(`the engine did not start: ${e.message}`));
    return;
  }
  setStatus(`${backendText(state.info)} · loading EfficientNet-Lite0…`, 'busy');
  try {
    state.pretrained = await loading;
  } catch (e) {
    setStatus(`${backendText(state.info)} · the pretrained model did not load: ${e.message}`, 'error');
    modelLoaded.reject(new Error(`the pretrained model did not load: ${e.message}`));
    return;
  }
  state.current = { id: 'pretrained', name: 'EfficientNet-Lite0', model: state.pretrained };
  state.base = state.pretrained;
  modelLoaded.resolve();
  // The other networks this site has (a small request each).
  state.offered = /** @type {string[]} */ ((await Promise.all(Object.keys(NETWORKS).map(async (n) => {
    const r = await fetch(new URL('labels.txt', netUrl(n)), { method: 'HEAD' }).catch(() => null);
    return r?.ok ? n : null;
  }))).filter(Boolean));
  setStatus(backendText(state.info), 'ready');
  document.body.dataset.ready = 'true';
  await refreshModelSelect();
  if (!reg) return;
  try {
    // Files loaded before the service worker controlled the page (when it took longer than
    // the wait) go into the offline cache from the HTTP cache; no download.
    // Exactly the engine files the worker loaded: a browser that ignores 'only-if-cached'
    // (WebKit) would otherwise download the engines this page never uses.
    const urls = [
      ...(await glimpse.engineFiles()),
      // The network's files as it loaded them (its float16 or float32 weights, not both).
      ...(state.pretrained?.files ?? []),
    ];
    await /** @type {Promise<void>} */ (new Promise((resolve) => {
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = () => resolve();
      /** @type {ServiceWorker} */ (reg.active).postMessage({ type: 'keep', urls }, [port2]);
    }));
    document.body.dataset.offline = 'ready';
  } catch {
    // Without a service worker the page still works online.
  }
}

// ---------- classify ----------

/** Waits for the engine and the pretrained model (rejects if they did not load). */
async function ensureReady() {
  if (!state.current) await modelReady;
}

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

async function classifyFiles(files) {
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

// Real buttons open the (hidden) file choosers: in the tab order, announced as buttons.
$('choose-photos').addEventListener('click', () => $('classify-files').click());
$('import-button').addEventListener('click', () => $('import-files').click());
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

// ---------- camera ----------

/** @type {MediaStream | null} */
let stream = null;
/** @type {State['classes'][number] | null} */
let snapTarget = null; // null: classify; else a class to add the photo to
/** @param {State['classes'][number] | null} [target] */
async function openCamera(target = null) {
  snapTarget = target;
  try {
    stream ??= await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
  } catch (e) {
    showError(`No camera: ${e.message}`);
    return;
  }
  const cam = $('camera');
  $('camera-video').srcObject = stream;
  cam.hidden = false;
  (target ? $(`class-${target.id}`) : $('panel-classify')).append(cam);
  $('camera-snap').focus();
}
function closeCamera() {
  stream?.getTracks().forEach((t) => t.stop());
  stream = null;
  $('camera').hidden = true;
}
$('classify-camera').addEventListener('click', () => openCamera(null));
// A camera left on in a background tab keeps its light on: it stops when the page is hidden.
document.addEventListener('visibilitychange', () => {
  if (document.hidden) closeCamera();
});
$('camera-close').addEventListener('click', closeCamera);
$('camera-snap').addEventListener('click', async () => {
  const v = $('camera-video');
  const c = new OffscreenCanvas(v.videoWidth || 640, v.videoHeight || 480);
  /** @type {OffscreenCanvasRenderingContext2D} */ (c.getContext('2d')).drawImage(v, 0, 0, c.width, c.height);
  const blob = await c.convertToBlob({ type: 'image/jpeg', quality: 0.92 });
  const file = new File([blob], `camera-${Date.now()}.jpg`, { type: 'image/jpeg' });
  if (snapTarget) addPhotos(snapTarget, [file]);
  else classifyFiles([file]);
});

// ---------- teach ----------

let nextClass = 1;
const NAME_MAX = 60;
function addClass(name) {
  const cls = { id: nextClass++, name: name ?? `Class ${nextClass - 1}`, files: [] };
  state.classes.push(cls);
  const el = document.createElement('div');
  el.className = 'class';
  el.id = `class-${cls.id}`;
  el.innerHTML = `
    <div class="row">
      <label class="sr-only" for="class-name-${cls.id}">Class name</label>
      <input id="class-name-${cls.id}" class="class-name" type="text" maxlength="${NAME_MAX}" aria-describedby="class-note-${cls.id}">
      <button class="button small add-photos" type="button">Add photos</button>
      <input type="file" accept="image/*" multiple hidden>
      <button class="button small snap">Camera</button>
      <button class="button small remove" aria-label="Remove this class">Remove</button>
    </div>
    <p class="name-note" id="class-note-${cls.id}" hidden>Class names are at most ${NAME_MAX} characters.</p>
    <p class="count hint">No photos yet</p>
    <div class="thumbs"></div>`;
  const input = /** @type {HTMLInputElement} */ (el.querySelector('.class-name'));
  input.value = cls.name;
  input.addEventListener('input', () => {
    cls.name = input.value.trim();
    // The field stops taking characters at the limit: say so instead of cutting silently.
    /** @type {HTMLElement} */ (el.querySelector('.name-note')).hidden = input.value.length < NAME_MAX;
  });
  const chooser = /** @type {HTMLInputElement} */ (el.querySelector('input[type=file]'));
  /** @type {HTMLElement} */ (el.querySelector('.add-photos')).addEventListener('click', () => chooser.click());
  chooser.addEventListener('change', () => {
    addPhotos(cls, chooser.files);
    chooser.value = '';
  });
  /** @type {HTMLElement} */ (el.querySelector('.snap')).addEventListener('click', () => openCamera(cls));
  /** @type {HTMLElement} */ (el.querySelector('.remove')).addEventListener('click', () => {
    state.classes = state.classes.filter((c) => c !== cls);
    el.remove();
  });
  el.addEventListener('dragover', (e) => e.preventDefault());
  el.addEventListener('drop', (e) => {
    e.preventDefault();
    addPhotos(cls, /** @type {DataTransfer} */ (e.dataTransfer).files);
  });
  $('classes').append(el);
  return cls;
}

function addPhotos(cls, files) {
  const el = $(`class-${cls.id}`);
  for (const f of files) {
    if (!f.type.startsWith('image/')) {
      showError(`${f.name} is not an image; it was not added to ${cls.name}`);
      continue;
    }
    cls.files.push(f);
    // Each thumbnail is a button that takes its photo out of the class.
    const t = document.createElement('button');
    t.type = 'button';
    t.className = 'thumb';
    t.setAttribute('aria-label', `Remove ${f.name || 'this photo'} from the class`);
    t.title = `Remove ${f.name || 'this photo'}`;
    const img = document.createElement('img');
    img.src = URL.createObjectURL(f);
    img.alt = '';
    img.loading = 'lazy';
    const x = document.createElement('span');
    x.textContent = '×';
    x.setAttribute('aria-hidden', 'true');
    t.append(img, x);
    t.addEventListener('click', () => {
      cls.files = cls.files.filter((g) => g !== f);
      URL.revokeObjectURL(img.src);
      const next = t.nextElementSibling ?? t.previousElementSibling;
      t.remove();
      countPhotos(cls);
      (next ?? el.querySelector('.add-photos')).focus();
    });
    el.querySelector('.thumbs').append(t);
  }
  countPhotos(cls);
}

function countPhotos(cls) {
  updateCost();
  const n = cls.files.length;
  $(`class-${cls.id}`).querySelector('.count').textContent = n ? `${n} photo${n === 1 ? '' : 's'}` : 'No photos yet';
}

// A taught or imported classifier opens in Teach with its classes (no photos): training goes
// on from its head's current weights (transfer({ keepHead })).
function teachFrom(rec, model) {
  for (const c of state.classes) $(`class-${c.id}`)?.remove();
  state.classes = [];
  const labels = model.labels ?? [];
  state.teachFrom = { id: rec.id, name: rec.name, model, labels };
  for (const l of labels) addClass(l).old = true;
  $('teach-from-text').textContent = `Teaching "${rec.name}" further: its ${labels.length} classes are below. ` +
    'Add photos to any of them or add new classes, then train. A class you give no photos keeps what it ' +
    'learned, but the model will choose it less often after training on the others.';
  $('teach-from').hidden = false;
  $('taught').hidden = true;
  updateCost();
  selectTab($('tab-teach'));
}

$('teach-fresh').addEventListener('click', () => {
  for (const c of state.classes) $(`class-${c.id}`)?.remove();
  state.classes = [];
  state.teachFrom = null;
  $('teach-from').hidden = true;
  addClass('Class 1');
  addClass('Class 2');
  updateCost();
});

// What fine-tuning the network's blocks costs, said before starting: passes over the photos
// and their varied copies, at an estimated 40 ms per photo and pass for one block (60 for two)
// on one CPU thread. The page test's 20 photos with 2 copies and 5 passes of the last block
// took under 10 s in all (features and head included) in Chromium on the 2-core machine;
// natively the last 2 blocks take 14 ms per photo and pass on 2 threads. WebGPU is faster.
const TUNE_MS = { 1: 40, 2: 60 };
const TUNE_EPOCHS = 5;
function updateCost() {
  const blocks = Number($('unfreeze').value);
  const base = state.teachFrom?.model ?? state.base ?? state.pretrained;
  const possible = !base || base.layerNames?.includes('block0_project_bn');
  $('unfreeze').disabled = !possible;
  if (!possible) {
    $('unfreeze-cost').textContent = 'This model is not built on EfficientNet-Lite0: only its last layer is taught.';
    return;
  }
  if (!blocks) {
    $('unfreeze-cost').textContent = '';
    return;
  }
  const photos = state.classes.reduce((n, c) => n + c.files.length, 0);
  const copies = 1 + Math.max(0, Number($('vary').value) || 0);
  const seconds = (photos * 0.8 * copies * TUNE_EPOCHS * TUNE_MS[blocks]) / 1000;
  const gpu = state.info?.backend === 'webgpu';
  $('unfreeze-cost').textContent = photos
    ? `Fine-tuning adds ${TUNE_EPOCHS} passes over your ${photos} photos${copies > 1 ? ` and their copies` : ''}: about ${seconds < 90 ? `${Math.max(1, Math.round(seconds))} s` : `${Math.round(seconds / 60)} min`} on this computer's CPU${gpu ? ' (less on WebGPU)' : ''}.`
    : `Fine-tuning adds ${TUNE_EPOCHS} passes over your photos: about ${TUNE_MS[blocks] * copies * TUNE_EPOCHS / 1000} s per photo on a CPU.`;
}
$('unfreeze').addEventListener('change', updateCost);
$('vary').addEventListener('change', updateCost);

$('add-class').addEventListener('click', () => {
  const c = addClass();
  $(`class-name-${c.id}`).focus();
});
addClass('Class 1');
addClass('Class 2');

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

async function train() {
  if (!state.current) {
    $('training').hidden = false;
    $('train-text').textContent = 'Waiting for the model to finish loading…';
  }
  try {
    await ensureReady();
  } catch (e) {
    showError(`Training could not start: ${e.message}`);
    return;
  }
  const from = state.teachFrom;
  const classes = state.classes.filter((c) => c.files.length > 0);
  const names = classes.map((c) => c.name.trim());
  // Without photos, a class of the model taught further is kept (transfer warns about it); a
  // new one is left out.
  const kept = (c) => from && from.labels.includes(c.name.trim());
  const empty = state.classes.filter((c) => c.files.length === 0 && !kept(c)).map((c) => c.name.trim() || 'unnamed');
  const notes = empty.length ? [`${empty.map((n) => `'${n}'`).join(', ')} had no photos and ${empty.length === 1 ? 'was' : 'were'} left out`] : [];
  if (classes.length < (from ? 1 : 2)) return showError(from ? 'Add photos to at least one class first.' : 'Add photos to at least two classes first.');
  if (names.some((n) => !n)) return showError('Every class needs a name.');
  if (new Set(names).size !== names.length) return showError('Two classes have the same name; rename one.');
  const epochs = Math.max(1, Math.min(500, Number($('epochs').value) || 20));
  const learningRate = Number($('learning-rate').value) || 0.001;
  const holdout = Math.max(0, Math.min(0.5, Number($('holdout').value) || 0));
  const vary = Math.max(0, Math.min(4, Number($('vary').value) || 0));
  const unfreeze = $('unfreeze').disabled ? 0 : Number($('unfreeze').value) || 0;
  const total = classes.reduce((n, c) => n + c.files.length, 0);
  const ctrl = new AbortController();
  state.training = ctrl;
  $('train').disabled = true;
  $('cancel').disabled = false;
  $('training').hidden = false;
  $('taught').hidden = true;
  chart.points = [];
  chart.epochs = epochs + (unfreeze ? TUNE_EPOCHS : 0);
  drawChart();
  const progress = $('train-progress');
  const text = $('train-text');
  progress.value = 0;
  text.textContent = 'Starting…';
  try {
    const base = from?.model ?? state.base ?? state.pretrained;
    // Progress: photos 0-40 %, copies to 70 %, the head to 100 % (to 85 % when fine-tuning follows).
    const headEnd = unfreeze ? 0.85 : 1;
    const r = await base.transfer(
      classes.map((c) => ({ label: c.name.trim(), images: c.files })),
      {
        epochs, learningRate, validationSplit: total >= 10 ? holdout : 0, signal: ctrl.signal,
        workers: featureThreads(),
        augment: vary > 0, views: vary,
        keepHead: Boolean(from), unfreezeBlocks: unfreeze, fineTuneEpochs: TUNE_EPOCHS,
        // (`any`: each phase's report has its own fields, see TransferOptions.onProgress.)
        onProgress: (/** @type {any} */ p) => {
          if (p.phase === 'features') {
            progress.value = (0.4 * p.done) / p.total;
            text.textContent = `Looking at your photos: ${p.done} of ${p.total}`;
          } else if (p.phase === 'views') {
            progress.value = 0.4 + (0.3 * p.done) / p.total;
            text.textContent = `Looking at varied copies of your photos: ${p.done} of ${p.total}`;
          } else if (p.phase === 'fine-tune') {
            const done = (p.epoch + (p.batch + 1) / p.batches) / p.epochs;
            progress.value = headEnd + (1 - headEnd) * done;
            text.textContent = `Fine-tuning the network: pass ${p.epoch + 1} of ${p.epochs} · loss ${p.loss.toFixed(3)} · accuracy ${(100 * p.accuracy).toFixed(0)} %`;
          } else {
            const done = (p.epoch + (p.batch + 1) / p.batches) / epochs;
            progress.value = 0.7 + (headEnd - 0.7) * done;
            text.textContent = `Training: epoch ${p.epoch + 1} of ${epochs} · loss ${p.loss.toFixed(3)} · accuracy ${(100 * p.accuracy).toFixed(0)} %`;
          }
        },
        onEpochEnd: (epoch, logs) => {
          chart.points.push({ loss: logs.loss, accuracy: logs.accuracy });
          drawChart();
        },
      },
    );
    progress.value = 1;
    text.textContent = `Trained ${r.history.epoch.length} epochs on ${total} photos.`;
    r.head.dispose();
    // In use at once (photos chosen now are classified with it), then kept in this browser.
    const id = `taught-${Date.now()}`;
    const labels = r.model.labels ?? names;
    state.loaded.set(id, r.model);
    state.current = { id, name: labels.join(' / '), model: r.model };
    showResult(r, labels, notes);
    const saved = await r.model.save();
    const acc = r.validation ? accuracy(r.validation) : null;
    const accNote = acc === null ? 'no held-out photos' : `held-out accuracy ${(100 * acc).toFixed(0)} %`;
    await store.put({
      id, name: labels.join(' / '), labels, structure: saved.structure, weights: saved.weights,
      preprocessing: r.model.preprocessing ?? null,
      created: Date.now(), note: from ? `taught further from "${from.name}", ${accNote}` : accNote,
      fingerprint: await fingerprint(saved, labels),
    });
    await refreshModelSelect();
    if (from) {
      // Training again goes on from what was just taught.
      state.teachFrom = { id, name: labels.join(' / '), model: r.model, labels };
      for (const c of state.classes) c.old = labels.includes(c.name.trim());
    }
  } catch (e) {
    if (e.name === 'AbortError') {
      progress.value = 0;
      text.textContent = 'Training cancelled. Nothing was saved.';
    }
    else showError(`Training failed: ${e.message}`);
  } finally {
    state.training = null;
    $('train').disabled = false;
    $('cancel').disabled = true;
  }
}

// Threads for the features on the CPU (no effect on WebGPU): one per core, at most 4, and at
// most one per 2 GB of memory where the browser says (each helper worker holds about 100 MiB
// while the photos are looked at).
function featureThreads() {
  const cores = navigator.hardwareConcurrency || 1;
  const memory = navigator.deviceMemory;
  return Math.max(1, Math.min(4, cores, memory ? Math.floor(memory / 2) : 4));
}

function accuracy(v) {
  return v.labels.filter((l, i) => l === v.predictions[i]).length / Math.max(1, v.labels.length);
}

function showResult(r, names, notes = []) {
  $('taught').hidden = false;
  const table = $('confusion');
  table.replaceChildren();
  const extra = [...notes, ...(r.warnings ?? [])].map((w) => ` Note: ${w}.`).join('');
  if (!r.validation) {
    $('heldout').textContent = `No photos were held out (add 10 or more to see a test accuracy).${extra}`;
    return;
  }
  const v = r.validation;
  $('heldout').textContent = `Accuracy on ${v.labels.length} held-out photos: ${(100 * accuracy(v)).toFixed(0)} %.${extra}`;
  const cap = table.createCaption();
  cap.textContent = 'Held-out photos: rows are the true class, columns what the model said';
  const head = table.createTHead().insertRow();
  head.append(document.createElement('th'));
  for (const n of names) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = n;
    head.append(th);
  }
  const body = table.createTBody();
  names.forEach((n, i) => {
    const row = body.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = n;
    row.append(th);
    names.forEach((_, j) => {
      const cell = row.insertCell();
      const count = v.labels.filter((l, k) => l === i && v.predictions[k] === j).length;
      cell.textContent = count;
      if (count && i === j) cell.className = 'hit';
      else if (count) cell.className = 'miss';
    });
  });
}

$('train').addEventListener('click', train);
$('cancel').addEventListener('click', () => state.training?.abort());

// ---------- keep: saved models, export, import ----------

async function refreshModelSelect() {
  const sel = $('model-select');
  const saved = await store.list().catch(() => []);
  sel.replaceChildren(new Option('ImageNet — EfficientNet-Lite0 (1000 classes)', 'pretrained'));
  for (const n of state.offered) {
    sel.append(new Option(`ImageNet — ${NETWORKS[n].label} (1000 classes; ${NETWORKS[n].note})`, `net:${n}`));
  }
  for (const r of saved) sel.append(new Option(`${r.name} (${r.labels?.length ?? '?'} classes)`, r.id));
  sel.value = state.current?.id ?? 'pretrained';
}

async function useModel(id) {
  if (id === 'pretrained') {
    state.current = { id, name: 'EfficientNet-Lite0', model: state.pretrained };
    state.base = state.pretrained;
    updateCost();
    return;
  }
  if (id.startsWith('net:')) {
    // Another ImageNet network: downloaded once (then kept offline), and what Teach builds on.
    const name = id.slice(4);
    let model = state.networks.get(name);
    if (!model) {
      model = await glimpse.loadPretrained(name, {
        baseUrl: netUrl(name),
        onProgress: ({ loaded, total }) => {
          setStatus(`${backendText(state.info)} · downloading ${NETWORKS[name].label}: ${MB(loaded)}${total ? ` of ${MB(total)}` : ''} MB`, 'busy');
          setLoadProgress(total ? loaded / total : null);
        },
      });
      state.networks.set(name, model);
    }
    state.current = { id, name: NETWORKS[name].label, model };
    state.base = model;
    updateCost();
    return;
  }
  let model = state.loaded.get(id);
  const rec = await store.get(id);
  if (!rec) throw new Error('that model is no longer saved');
  if (!model) {
    model = await glimpse.loadModel({ structure: rec.structure, weights: rec.weights, labels: rec.labels, preprocessing: rec.preprocessing ?? state.pretrained.preprocessing });
    state.loaded.set(id, model);
  }
  state.current = { id, name: rec.name, model };
}

$('model-select').addEventListener('change', async (e) => {
  try {
    setStatus(`${backendText(state.info)} · loading ${e.target.selectedOptions[0].text}…`, 'busy');
    await useModel(e.target.value);
    setStatus(backendText(state.info), 'ready');
  } catch (err) {
    setStatus(backendText(state.info), 'ready');
    showError(`That model did not load: ${err.message}`);
    e.target.value = /** @type {Current} */ (state.current).id;
  }
});

function download(bytes, name, type = 'application/octet-stream') {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes], { type }));
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** A file name from a model's name: letters and digits of any script kept (an emoji or a CJK
 * class name stays), separators and characters file systems refuse become `_`. */
function fileName(name) {
  const clean = String(name)
    .normalize('NFC')
    .replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_')
    .replace(/\s+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^[._]+|[._]+$/g, '');
  // At most 120 characters, never half of one (an emoji is two UTF-16 units).
  return Array.from(clean).slice(0, 120).join('') || 'model';
}

async function exportModel(id) {
  await useModel(id);
  const bytes = await /** @type {Current} */ (state.current).model.saveKeras();
  const rec = await store.get(id);
  download(bytes, `${fileName(rec?.name ?? 'model')}.keras`);
}

async function renderSaved() {
  const ul = $('saved');
  let all = [];
  try {
    all = await store.list();
  } catch (e) {
    showError(`This browser does not keep models: ${e.message}`);
  }
  ul.replaceChildren();
  if (all.length === 0) {
    const li = document.createElement('li');
    li.className = 'hint';
    li.textContent = 'Nothing yet: teach a model or import one.';
    ul.append(li);
  }
  for (const r of all) {
    const li = document.createElement('li');
    li.dataset.id = r.id;
    const title = document.createElement('div');
    title.innerHTML = '<strong></strong><br><span class="hint"></span>';
    /** @type {HTMLElement} */ (title.querySelector('strong')).textContent = r.name;
    /** @type {HTMLElement} */ (title.querySelector('.hint')).textContent = `${r.labels?.join(', ') ?? 'no labels'} · ${r.note ?? ''} · ${new Date(r.created).toLocaleString()}`;
    const buttons = document.createElement('div');
    buttons.className = 'buttons';
    const b = (label, fn) => {
      const btn = document.createElement('button');
      btn.className = 'button small';
      btn.textContent = label;
      btn.addEventListener('click', () => fn().catch((e) => showError(`${label} failed: ${e.message}`)));
      buttons.append(btn);
    };
    b('Use', async () => {
      await useModel(r.id);
      await refreshModelSelect();
      selectTab($('tab-classify'));
    });
    b('Teach more', async () => {
      await useModel(r.id);
      await refreshModelSelect();
      teachFrom(r, /** @type {Current} */ (state.current).model);
    });
    b('Export', () => exportModel(r.id));
    b('Delete', async () => {
      if (!confirm(`Delete "${r.name}" from this browser? This cannot be undone (export it first to keep a copy).`)) return;
      await store.remove(r.id);
      state.loaded.get(r.id)?.dispose();
      state.loaded.delete(r.id);
      if (state.current?.id === r.id) await useModel('pretrained');
      await refreshModelSelect();
      await renderSaved();
    });
    li.append(title, buttons);
    ul.append(li);
  }
}

/** A digest of a model's structure, weights and labels (null where the browser has no
 * SubtleCrypto, outside secure contexts): two records with the same one are the same model. */
async function fingerprint(saved, labels) {
  if (!globalThis.crypto?.subtle) return null;
  const text = new TextEncoder().encode(`${saved.structure}\n${JSON.stringify(labels ?? null)}\n`);
  const all = new Uint8Array(text.length + saved.weights.length);
  all.set(text);
  all.set(saved.weights, text.length);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function importFiles(files) {
  const list = [...files];
  const model = await glimpse.loadModel({ files: list });
  const [, h, w, c] = /** @type {number[]} */ (model.inputShape);
  if (!model.preprocessing && model.layerNames.includes('avg_pool') && h === w && c === 3) {
    // A Glimpse export (EfficientNet-Lite + head): images get the network's preprocessing, the
    // evaluation crop (size / (size + 32)) at the network's own input size.
    await model.setPreprocessing({ ...state.pretrained.preprocessing, size: h, crop_fraction: h / (h + 32) });
  }
  const main = list.find((f) => /\.(keras|h5|zip)$/i.test(f.name)) ??
    list.find((f) => /model\.json$/i.test(f.name)) ?? list[0];
  const saved = await model.save();
  const name = main.name.replace(/\.(keras|json|h5|zip)$/i, '');
  // The same model imported again is not kept twice: the one already here is used.
  const print = await fingerprint(saved, model.labels);
  const same = print && (await store.list().catch(() => [])).find((r) => r.fingerprint === print);
  if (same) {
    model.dispose();
    await useModel(same.id);
    await refreshModelSelect();
    await renderSaved();
    showNote(`"${name}" is already in My models as "${same.name}"; that one is selected.`);
    return;
  }
  const id = `imported-${Date.now()}`;
  const outputs = /** @type {number[]} */ (model.outputShape).slice(1).reduce((a, b) => a * b, 1);
  const labels = model.labels ?? Array.from({ length: outputs }, (_, i) => String(i));
  await store.put({ id, name, labels, structure: saved.structure, weights: saved.weights, preprocessing: model.preprocessing ?? null, created: Date.now(), note: `imported, ${model.countParams().toLocaleString()} parameters`, fingerprint: print });
  if (!model.labels) await model.setLabels(labels);
  state.loaded.set(id, model);
  state.current = { id, name, model };
  await refreshModelSelect();
  await renderSaved();
}

$('import-files').addEventListener('change', async (e) => {
  const files = e.target.files;
  try {
    await importFiles(files);
  } catch (err) {
    showError(`Import failed: ${err.message}`);
  }
  e.target.value = '';
});

// ---------- look inside ----------

function showSummary() {
  $('summary').textContent = state.current
    ? `${state.current.name}\n\n${state.current.model.summary()}`
    : 'The engine is still loading.';
}

start();
