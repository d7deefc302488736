// Type-checks the package's declarations the way a TypeScript app uses them.
import { ready, loadModel, loadPretrained, createHead, type Model, type Prediction } from 'glimpse-ml';
import { createWorker, type RemoteModel } from 'glimpse-ml/client';

export async function main(file: Blob): Promise<Prediction[]> {
  const info = await ready({ backend: 'auto' });
  const backend: 'webgpu' | 'cpu' = info.backend;
  const m: Model = await loadModel({ structure: '{}', weights: new Uint8Array(0) });
  const y = await m.predict(new Float32Array(4), [1, 4]);
  const n: number = y.shape[0] + m.countParams() + (backend === 'cpu' ? 0 : 1);
  const head = await createHead({ features: 1280, classes: n });
  await head.fit(new Float32Array(1280), [0], { epochs: 1, onEpochEnd: (e, logs) => logs.loss + e });
  const saved = await head.save();
  const bytes: Uint8Array = saved.weights;
  const net = await loadPretrained('efficientnet-lite0', { baseUrl: '/models/efficientnet-lite0/' });
  const r = await net.transfer([{ label: 'a', images: [file] }, { label: 'b', images: [file] }], { epochs: bytes.length });
  const w = createWorker();
  const remote: RemoteModel = await w.loadModel({ keras: file });
  await remote.fit(new Float32Array(1), [0], { signal: new AbortController().signal });
  return r.model.classify(file, { topK: 3 });
}
