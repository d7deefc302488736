// @ts-check
// The Glimpse page: classify photos with EfficientNet-Lite0, teach new classes (a new head
// trained in a Web Worker), keep taught models in IndexedDB, export and import them, look
// inside. All the engine's work runs in the worker; this thread only draws.
//
// This module starts the page: the service worker, the engine's worker, the pretrained network.
// Each tab is its own module (classify.js, teach.js with chart.js, keep.js, inside.js; models.js:
// the model in use); tabs.js switches between them, ui.js has the status and errors, camera.js
// the camera, store.js the IndexedDB records, state.js what they share.

import { createWorker } from '../pkg/client.js';
import './classify.js';
import './inside.js';
import './keep.js';
import { refreshModelSelect } from './models.js';
import { glimpse, MODEL_URL, modelLoaded, netUrl, NETWORKS, setWorker, state } from './state.js';
import './teach.js';
import { backendText, MB, setLoadProgress, setStatus } from './ui.js';

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
  setWorker(createWorker(new URL('../pkg/worker.bundle.js', import.meta.url)));
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

start();
