// @ts-check
// The Teach tab: classes and their photos, what fine-tuning will cost, training a new head (or
// teaching a taught model further) with its progress and chart, and the held-out results. A
// model taught is kept in My models at once.

import { openCamera } from './camera.js';
import { chartPoint, startChart } from './chart.js';
import { refreshModelSelect } from './models.js';
import { ensureReady, onBaseChange, state } from './state.js';
import * as store from './store.js';
import { selectTab } from './tabs.js';
import { $, showError } from './ui.js';

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
  /** @type {HTMLElement} */ (el.querySelector('.snap')).addEventListener('click', () => openCamera(el, (photo) => addPhotos(cls, [photo])));
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
export function teachFrom(rec, model) {
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
export function updateCost() {
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
onBaseChange(updateCost);
$('unfreeze').addEventListener('change', updateCost);
$('vary').addEventListener('change', updateCost);

$('add-class').addEventListener('click', () => {
  const c = addClass();
  $(`class-name-${c.id}`).focus();
});
addClass('Class 1');
addClass('Class 2');

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
  startChart(epochs + (unfreeze ? TUNE_EPOCHS : 0));
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
        onEpochEnd: (epoch, logs) => chartPoint({ loss: logs.loss, accuracy: logs.accuracy }),
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
      fingerprint: await store.fingerprint(saved, labels),
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
