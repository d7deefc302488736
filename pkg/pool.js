// @ts-check
// Batches shared with helper Web Workers: what features({ workers }) and classify({ workers })
// run on. Each helper is this package's worker.js on the same engine build (its compiled module
// posted to it) with a copy of the model; whichever thread is free takes the next batch.

import { currentEngine } from './engine.js';
import { error } from './errors.js';
import { cloneable } from './images.js';
import { nextTask } from './io.js';

/** @typedef {import('glimpse-ml/client').RemoteModel} RemoteModel */
/** @typedef {import('glimpse-ml').FeaturesOptions} FeaturesOptions */

/**
 * Runs `list` in batches of `batchSize`: runLocal(images) on this thread, or
 * runRemote(remoteModel, images) on a helper (which loads the model helperSource() resolves to:
 * { structure, weights, labels, preprocessing, featuresLayer }); store(start, result, count)
 * keeps each batch's result, onProgress({ done, total }) follows. With `workers` > 1 on the CPU
 * backend the batches are shared with helper Web Workers (see HelperPool): whichever thread is
 * free takes the next one; a batch a helper fails goes back to the front, for this thread, where
 * its error surfaces with its usual message. `what` names the call in errors.
 *
 * @param {any[]} list
 * @param {{ what: string, batchSize: number, workers: number, onProgress?: FeaturesOptions['onProgress'],
 *   signal?: AbortSignal, helperSource: () => Promise<any>, runLocal: (images: any[]) => Promise<any>,
 *   runRemote: (m: RemoteModel, images: any[]) => Promise<any>,
 *   store: (start: number, result: any, count: number) => void }} options
 */
export async function runBatches(list, { what, batchSize, workers, onProgress, signal, helperSource, runLocal, runRemote, store }) {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw error(`${what}: batchSize must be a whole number >= 1, found ${batchSize}`);
  }
  if (!Number.isInteger(workers) || workers < 1) {
    throw error(`${what}: workers must be a whole number >= 1, found ${workers}`);
  }
  let done = 0;
  const pool = new HelperPool({
    list, batchSize, signal, runRemote,
    store(start, result, count) {
      store(start, result, count);
      done += count;
      onProgress?.({ done, total: list.length });
    },
  });
  const local = async () => {
    while (pool.queue.length > 0) {
      const start = /** @type {number} */ (pool.queue.shift());
      const end = Math.min(start + batchSize, list.length);
      for (let i = start; i < end;) {
        if (signal?.aborted) throw signal.reason ?? error('aborted', undefined, 'aborted');
        // While helpers start (each step of which waits for this thread's event loop), a
        // quarter batch at a time: the network's time per image hardly depends on the batch.
        const step = pool.starting > 0 ? Math.max(1, batchSize >> 2) : end - i;
        const images = list.slice(i, Math.min(i + step, end));
        pool.store(i, await runLocal(images), images.length);
        i += images.length;
        // On the CPU a batch resolves without leaving this task: let the event loop run (the
        // page's input and painting, the helpers' replies) before the next one.
        await nextTask();
      }
    }
  };
  try {
    // At most one thread per core (more only add memory), and as a helper's start (engine,
    // model) takes about two batches' time, none for fewer batches.
    const cores = (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1;
    pool.start(Math.min(workers, cores, (pool.queue.length + 1) >> 1) - 1, helperSource);
    await local();
    // Then only the helpers' batches still running (and any they give back).
    while (pool.busy.size > 0) {
      await Promise.allSettled([...pool.busy]);
      await local();
    }
  } finally {
    pool.stop();
  }
  if (signal?.aborted) throw signal.reason ?? error('aborted', undefined, 'aborted');
}

/**
 * The batches of one call (`queue`: the start of each batch not yet taken) and the helper Web
 * Workers that take some of them. No SharedArrayBuffer, so the page needs no cross-origin
 * isolation; each helper costs an engine instance and its memory until the call ends. Helpers
 * only help: one that cannot start, or fails a batch, gives the batch back and retires.
 */
export class HelperPool {
  /**
   * @param {{ list: any[], batchSize: number, signal?: AbortSignal,
   *   runRemote: (m: RemoteModel, images: any[]) => Promise<any>,
   *   store: (start: number, result: any, count: number) => void }} options
   */
  constructor({ list, batchSize, signal, runRemote, store }) {
    this.list = list;
    this.batchSize = batchSize;
    this.signal = signal;
    this.runRemote = runRemote;
    /** Keeps a batch's result (and counts it done). */
    this.store = store;
    /** @type {number[]} */
    this.queue = [];
    for (let i = 0; i < list.length; i += batchSize) this.queue.push(i);
    /** The helpers' batches in flight. @type {Set<Promise<any>>} */
    this.busy = new Set();
    /** @type {import('glimpse-ml/client').GlimpseWorker[]} */
    this.helpers = [];
    /** Helpers still starting. */
    this.starting = 0;
    this.stopped = false;
  }

  /**
   * Starts `count` helpers that each load the model `source()` resolves to and take batches
   * from the queue. On WebGPU or the threaded engine (which already uses every core in each
   * call, and whose module needs its shared memory), or with images a worker cannot receive
   * (elements, canvases), none start.
   * @param {number} count
   * @param {() => Promise<any>} source
   */
  start(count, source) {
    const engine = currentEngine();
    if (count < 1 || typeof Worker === 'undefined' || engine.backend !== 'cpu' ||
        engine.kind === 'threads' || !this.list.every(cloneable)) {
      return;
    }
    const model = source();
    model.catch(() => {}); // each helper sees the failure itself
    // The same engine build, already compiled (posting a module shares its code).
    const build = engine.kind === 'cpu' ? { cpuWasmUrl: engine.module } : { wasmUrl: engine.module };
    // Two batches in flight per helper: its next one is already there when it finishes one,
    // however long this thread takes to get back to the event loop. The spare lane stops
    // while there are still batches for every thread, so that no thread waits at the end on
    // a batch queued behind another.
    /** @param {RemoteModel} m @param {boolean} spare */
    const lane = async (m, spare) => {
      const left = spare ? count + 1 : 0;
      while (this.queue.length > left && !this.stopped && !this.signal?.aborted) {
        const start = /** @type {number} */ (this.queue.shift());
        const chunk = this.list.slice(start, start + this.batchSize);
        const job = this.runRemote(m, chunk);
        this.busy.add(job);
        try {
          const result = await job;
          if (!this.stopped) this.store(start, result, chunk.length);
        } catch {
          this.queue.unshift(start);
          return;
        } finally {
          this.busy.delete(job);
        }
      }
    };
    const helper = async () => {
      // (Loaded when a helper starts: a page that never uses helpers never fetches it.)
      const { GlimpseWorker } = await import('./client.js');
      const w = new GlimpseWorker();
      this.helpers.push(w);
      // The engine and the model in one message.
      let m;
      try {
        m = await w.startHelper({ backend: 'cpu', ...build }, await model);
      } finally {
        this.starting--;
      }
      await Promise.all([lane(m, false), lane(m, true)]);
    };
    this.starting = count;
    for (let i = 0; i < count; i++) {
      helper().catch(() => {
        // could not start (or was stopped): the other threads take its share
      });
    }
  }

  /** Ends the call: the helpers are stopped and their late results dropped. */
  stop() {
    this.stopped = true;
    for (const w of this.helpers) w.terminate();
  }
}
