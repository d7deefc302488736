// Glimpse's static server for the page, the package and the tests: serves the repository's
// index.html, www/, pkg/ and tests/, and the converted pretrained models from the zoo cache
// at /models/<name>/. Nothing else is reachable.
import http from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { join, normalize, extname, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), '..'));
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.svg': 'image/svg+xml', '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json', '.ico': 'image/x-icon',
};
const PUBLIC = ['/index.html', '/sw.js', '/www/', '/pkg/', '/tests/', '/bench/', '/node_modules/'];

/** Maps a URL path to a file, or null. */
export function resolvePath(path, zooDir, extra = {}) {
  if (path === '/') path = '/index.html';
  for (const [prefix, dir] of Object.entries(extra)) {
    if (path.startsWith(prefix)) {
      const file = normalize(join(dir, path.slice(prefix.length)));
      return file.startsWith(normalize(dir)) ? file : null;
    }
  }
  if (path.startsWith('/models/')) {
    const file = normalize(join(zooDir, path.slice('/models/'.length)));
    return file.startsWith(normalize(zooDir)) ? file : null;
  }
  if (!PUBLIC.some((p) => path === p || path.startsWith(p))) return null;
  const file = normalize(join(ROOT, path));
  return file.startsWith(ROOT) ? file : null;
}

/** Starts the server; resolves to the http.Server once listening. */
export function serve({ port = 8080, host = '127.0.0.1', zooDir = process.env.GLIMPSE_ZOO_DIR ?? '/var/tmp/glimpse-zoo', isolate = false, extra = {} } = {}) {
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = resolvePath(path, zooDir, extra);
    let st;
    try {
      st = file && statSync(file);
    } catch {
      st = null;
    }
    if (!st || !st.isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`not found: ${path}\n`);
      return;
    }
    const headers = {
      'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': st.size,
      'cache-control': 'no-cache',
    };
    if (isolate) {
      headers['cross-origin-opener-policy'] = 'same-origin';
      headers['cross-origin-embedder-policy'] = 'require-corp';
    }
    res.writeHead(200, headers);
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT ?? 8080);
  const server = await serve({ port, host: process.env.HOST ?? '127.0.0.1' });
  console.log(`Glimpse at http://${server.address().address}:${server.address().port}/`);
}
