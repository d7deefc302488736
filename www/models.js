// @ts-check
// The model in use (Classify's model menu): the pretrained EfficientNet-Lite0, another ImageNet
// network this site offers (downloaded once), or a model kept in My models (loaded once).

import { glimpse, netUrl, NETWORKS, setBase, state } from './state.js';
import * as store from './store.js';
import { $, backendText, MB, setLoadProgress, setStatus, showError } from './ui.js';

/** @typedef {import('./state.js').Current} Current */

/** The model menu: the networks and every kept model, the one in use selected. */
export async function refreshModelSelect() {
  const sel = $('model-select');
  const saved = await store.list().catch(() => []);
  sel.replaceChildren(new Option('ImageNet — EfficientNet-Lite0 (1000 classes)', 'pretrained'));
  for (const n of state.offered) {
    sel.append(new Option(`ImageNet — ${NETWORKS[n].label} (1000 classes; ${NETWORKS[n].note})`, `net:${n}`));
  }
  for (const r of saved) sel.append(new Option(`${r.name} (${r.labels?.length ?? '?'} classes)`, r.id));
  sel.value = state.current?.id ?? 'pretrained';
}

/** Makes the model `id` ('pretrained', 'net:NAME' or a kept model's id) the one in use. */
export async function useModel(id) {
  if (id === 'pretrained') {
    state.current = { id, name: 'EfficientNet-Lite0', model: state.pretrained };
    setBase(state.pretrained);
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
    setBase(model);
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
