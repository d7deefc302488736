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
//
// What a first prediction needs loads with this file (engine, load, model, images, io, errors);
// the rest loads when first used (helper workers: pool's client.js and ops.js; explain.js,
// transfer.js): on a cold page every module is a request, and HTTP/1.1 servers answer six at
// a time (13 modules made ready() 33 ms slower than one file). Pages without a bundler load
// index.bundle.js instead: this file and all it imports in one (scripts/bundle-pkg.mjs).

export { backendInfo, engineFiles, hasRelaxedSimd, memoryBytes, poolReady, ready, setLimits, stratifiedSplit } from './engine.js';
export { imagePixels, TEACHABLE_MACHINE_PREPROCESSING } from './images.js';
export { loadModel, loadPretrained, parseLabels } from './load.js';
export { createHead, Model } from './model.js';

