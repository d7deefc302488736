// @ts-check
// Glimpse's service worker: the page works offline once loaded. Same-origin GETs are answered
// from the cache when the network fails (network first, so a new build is picked up), and the
// app shell is cached at install.
const CACHE = 'glimpse-v5';
// `self` as a service worker's scope (TypeScript's webworker lib types it as any worker's).
const sw = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));
// The app shell only (a few hundred KB): the engines and the network are cached as the page
// loads them (see 'keep'), so a CPU page never downloads the WebGPU engine and nothing is
// downloaded twice. Every file of www/ and every pkg/*.js module (the page and the package):
// scripts/build-site refuses a list that leaves one out or names one that is not there.
const SHELL = [
  './', 'index.html',
  'www/app.js', 'www/camera.js', 'www/chart.js', 'www/classify.js', 'www/inside.js', 'www/keep.js', 'www/models.js',
  'www/state.js', 'www/store.js', 'www/tabs.js', 'www/teach.js', 'www/ui.js', 'www/style.css', 'www/icon.svg',
  'pkg/index.js', 'pkg/engine.js', 'pkg/errors.js', 'pkg/explain.js', 'pkg/images.js', 'pkg/io.js', 'pkg/load.js', 'pkg/model.js', 'pkg/pool.js', 'pkg/transfer.js',
  'pkg/client.js', 'pkg/ops.js', 'pkg/worker.js', 'pkg/thread.js', 'pkg/index.bundle.js', 'pkg/worker.bundle.js',
];

// The page names the large files it may have loaded before this worker controlled it (the
// engines, the network); those the browser's HTTP cache holds are put in the offline cache.
sw.addEventListener('message', (event) => {
  const { type, urls } = event.data ?? {};
  if (type !== 'keep' || !Array.isArray(urls)) return;
  const reply = event.ports?.[0];
  const same = urls.filter((u) => {
    try {
      return new URL(u).origin === self.location.origin;
    } catch {
      return false;
    }
  });
  event.waitUntil(
    caches
      .open(CACHE)
      .then((c) => Promise.all(same.map(async (u) => {
        const key = new URL(u);
        key.search = '';
        if (await c.match(key.href)) return;
        // Only what the browser already has: no download.
        const res = await fetch(u, { cache: 'only-if-cached', mode: 'same-origin' }).catch(() => null);
        if (res?.ok) await c.put(key.href, res);
      })))
      .then(() => reply?.postMessage({ ok: true }), (e) => reply?.postMessage({ ok: false, error: String(e) })),
  );
});

sw.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => sw.skipWaiting()));
});

sw.addEventListener('activate', (event) => {
  // Older caches (earlier builds) go.
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => sw.clients.claim()),
  );
});

// Cross-origin isolation for hosts that cannot send headers (GitHub Pages, a plain file
// server): the page's responses get COOP and COEP from here, so once this worker controls the
// page (its second load) the page is isolated and the CPU engine runs with threads. Everything
// the page loads is same-origin, which require-corp allows.
function isolated(res) {
  if (!res || res.type === 'opaque' || res.type === 'opaqueredirect' || res.status < 200 ||
      res.status === 204 || res.status === 304 || res.headers.has('Cross-Origin-Embedder-Policy')) {
    return res;
  }
  const headers = new Headers(res.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}

sw.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  // Query strings (?backend=cpu) select behaviour, not content.
  const key = new URL(req.url);
  key.search = '';
  // Network first, revalidating: with a cached copy, a conditional request (its ETag; a 304
  // costs no body, even for the 19 MB of weights the HTTP cache will not keep), else the
  // browser's own revalidation. A new build is picked up; an unchanged one is not downloaded
  // again. Offline, the cached copy.
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(key.href);
    const tag = hit?.headers.get('etag');
    try {
      let res;
      if (hit && tag && req.mode !== 'navigate') {
        res = await fetch(req.url, { headers: { 'If-None-Match': tag }, cache: 'no-store', credentials: 'same-origin' });
        if (res.status === 304) return isolated(hit);
      } else {
        res = await fetch(req.mode === 'navigate' ? req : new Request(req, { cache: 'no-cache' }));
      }
      // Kept as it streams to the page (a download's progress is not held back).
      if (res.ok) event.waitUntil(cache.put(key.href, res.clone()));
      return isolated(res);
    } catch {
      return hit ? isolated(hit) : Response.error();
    }
  })());
});
