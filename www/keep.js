// @ts-check
// The My models tab: the models kept in this browser (use, teach further, export as .keras,
// delete) and importing model files.

import { refreshModelSelect, useModel } from './models.js';
import { glimpse, state } from './state.js';
import * as store from './store.js';
import { onTabShown, selectTab } from './tabs.js';
import { teachFrom } from './teach.js';
import { $, showError, showNote } from './ui.js';

/** @typedef {import('./state.js').Current} Current */

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
    // eslint-disable-next-line no-control-regex -- control characters are what it replaces
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

async function importFiles(files) {
  const list = [...files];
  const model = await glimpse.loadModel({ files: list });
  const [, h, w, c] = /** @type {number[]} */ (model.inputShape);
  if (!model.preprocessing && model.layerNames.includes('avg_pool') && h === w && c === 3) {
    // Glimpse exports say their preprocessing (glimpse.json inside the .keras). One made before
    // they did (EfficientNet-Lite + head, no glimpse.json) gets the network's: the evaluation
    // crop (size / (size + 32)) at its own input size.
    await model.setPreprocessing({ ...state.pretrained.preprocessing, size: h, crop_fraction: h / (h + 32) });
  }
  const main = list.find((f) => /\.(keras|h5|zip)$/i.test(f.name)) ??
    list.find((f) => /model\.json$/i.test(f.name)) ?? list[0];
  const saved = await model.save();
  const name = main.name.replace(/\.(keras|json|h5|zip)$/i, '');
  // The same model imported again is not kept twice: the one already here is used.
  const print = await store.fingerprint(saved, model.labels);
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
$('import-button').addEventListener('click', () => $('import-files').click());
onTabShown('tab-keep', renderSaved);
