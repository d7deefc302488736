// @ts-check
// What the page's tabs share: the engine's worker, the models loaded and in use, the classes
// being taught, the ImageNet networks this site offers, and the promise of the start-up's
// model. Each tab's module keeps the rest of its state itself.

/** @typedef {import('../pkg/client.js').RemoteModel} RemoteModel */
/** @typedef {{ id: string, name: string, model: RemoteModel }} Current */

// The engine's worker; made once the service worker controls the page (see app.js's start),
// so even the first visit's downloads (engine, network) pass through it and are kept once.
// (Typed as made: start() makes it before anything uses it.) Read-only here: setWorker() sets it.
/** @type {import('../pkg/client.js').GlimpseWorker} */
export let glimpse = /** @type {any} */ (null);
/** @param {import('../pkg/client.js').GlimpseWorker} worker */
export function setWorker(worker) {
  glimpse = worker;
}

export const MODEL_URL = new URL('../models/efficientnet-lite0/', import.meta.url).href;
// The ImageNet networks the page offers when the site has them (scripts/serve and
// scripts/build-site include Lite2 when it was fetched). Lite0 loads at start.
/** @type {Record<string, { label: string, note: string }>} */
export const NETWORKS = {
  'efficientnet-lite2': {
    label: 'EfficientNet-Lite2', note: 'more accurate; 12.6 MB to download once, about twice the work per photo',
  },
};
/** @param {string} name */
export const netUrl = (name) => new URL(`../models/${name}/`, import.meta.url).href;

// (`info` and `pretrained` are typed as loaded: every use waits for start() to load them.)
/** @typedef {{ info: import('../pkg/index.js').BackendInfo & { requested?: string | null },
 *   pretrained: RemoteModel, current: Current | null,
 *   loaded: Map<string, RemoteModel>, classes: { id: number, name: string, files: File[], old?: any }[],
 *   training: AbortController | null, teachFrom: { id: string, name: string, model: RemoteModel, labels: string[] } | null,
 *   networks: Map<string, RemoteModel>, offered: string[], base: RemoteModel | null }} State */
/** @type {State} */
export const state = {
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

// Resolves when the engine and the pretrained model are ready (photos chosen before then wait
// for it); rejects with what went wrong. (app.js's start() settles it.)
/** @type {{ resolve: () => void, reject: (e: Error) => void }} */
export let modelLoaded = /** @type {any} */ (null);
/** @type {Promise<void>} */
export const modelReady = new Promise((resolve, reject) => {
  modelLoaded = { resolve, reject };
});
modelReady.catch(() => {});

/** Waits for the engine and the pretrained model (rejects if they did not load). */
export async function ensureReady() {
  if (!state.current) await modelReady;
}

// What Teach builds on changed (another network chosen): its listeners (Teach's cost note) run.
/** @type {(() => void)[]} */
const baseListeners = [];
/** @param {() => void} listener */
export function onBaseChange(listener) {
  baseListeners.push(listener);
}
/** @param {RemoteModel} model */
export function setBase(model) {
  state.base = model;
  for (const f of baseListeners) f();
}
