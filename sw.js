// Glimpse's service worker: the page works offline once loaded. Same-origin GETs are answered
// from the cache when the network fails (network first, so a new build is picked up), and the
// app shell is cached at install.
const CACHE = 'glimpse-v3';
const SHELL = [
  './', 'index.html', 'www/app.js', 'www/store.js', 'www/style.css', 'www/icon.svg',
  'pkg/index.js', 'pkg/client.js', 'pkg/worker.js', 'pkg/wasm/glimpse.js', 'pkg/wasm/glimpse_bg.wasm',
  'pkg/wasm-cpu/glimpse.js', 'pkg/wasm-cpu/glimpse_bg.wasm', 'pkg/wasm-cpu/glimpse_relaxed_bg.wasm',
  'models/efficientnet-lite0/model.json', 'models/efficientnet-lite0/model.weights.h5',
  'models/efficientnet-lite0/labels.txt', 'models/efficientnet-lite0/preprocessing.json',
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  // Query strings (?backend=cpu) select behaviour, not content.
  const key = new URL(req.url);
  key.search = '';
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          caches.open(CACHE).then((c) => c.put(key.href, copy));
        }
        return res;
      })
      .catch(() => caches.match(key.href).then((hit) => hit ?? Response.error())),
  );
});
