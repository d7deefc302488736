// @ts-check
// Glimpse: Keras models in the browser, on WebGPU or the CPU (WebAssembly).
// This module is the package's main entry; `glimpse-ml/worker` runs the same API in a Web
// Worker (see client.js). Every failure is a real `Error` with Glimpse's message.
//
// The code is in one module per job: engine.js (the engine: loading, ready(), its state and
// crashes), load.js (loadModel, loadPretrained), model.js (Model, createHead), images.js
// (images to network inputs), pool.js (batches shared with helper workers), transfer.js
// (transfer learning's data), explain.js (occlusion heat maps), io.js (bytes, downloads),
// errors.js. The public types are pkg/index.d.ts's.

export { backendInfo, engineFiles, hasRelaxedSimd, memoryBytes, poolReady, ready, setLimits } from './engine.js';
export { imagePixels, TEACHABLE_MACHINE_PREPROCESSING } from './images.js';
export { loadModel, loadPretrained, parseLabels } from './load.js';
export { createHead, Model } from './model.js';
export { stratifiedSplit } from './transfer.js';
