// Glimpse's static server for the page, the package and the tests: serves the repository's
// index.html, sw.js, www/, pkg/, tests/, bench/ and node_modules/, and the converted pretrained
// models from the zoo cache at /models/<name>/. Nothing else is reachable: a request path is
// decoded once, refused if it still holds an encoded separator, a backslash or a NUL byte,
// normalised, and served only if the file it names lies inside the directory it was mapped to.
// Only GET and HEAD are answered; a request never ends the process. Text, JSON, JS and wasm go
// out gzipped to a client that accepts it, as static hosts send them (weights files as they are:
// float data gains little).
import http from 'node:http';
import { gzip } from 'node:zlib';
import { createReadStream, open, fstat, close, readFile, promises as fsp } from 'node:fs';
import { join, extname, dirname, relative, resolve, isAbsolute, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable, Transform } from 'node:stream';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.svg': 'image/svg+xml', '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json', '.ico': 'image/x-icon',
};
// What goes out gzipped (to a client that accepts it), and the compressed copies made so far, by
// file and version (made once each: the wasm engines take a second or two at level 9).
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.wasm', '.svg', '.txt', '.webmanifest']);
const gzipped = new Map();
const MAX_GZIPPED = 64;

/** The gzipped bytes of the open file `fd` (just opened, so read from its start; `key` its name
 * and version). */
async function gzippedCopy(fd, key) {
  let copy = gzipped.get(key);
  if (!copy) {
    copy = new Promise((ok, fail) => readFile(fd, (e, raw) => (e ? fail(e) : ok(raw))))
      .then((raw) => new Promise((ok, fail) => gzip(raw, { level: 9 }, (e, z) => (e ? fail(e) : ok(z)))));
    if (gzipped.size >= MAX_GZIPPED) gzipped.delete(gzipped.keys().next().value);
    gzipped.set(key, copy);
    copy.catch(() => gzipped.delete(key));
  }
  return copy;
}

// Entries ending in '/' are folders (everything under them); the others are single files.
const PUBLIC = ['/index.html', '/sw.js', '/www/', '/pkg/', '/tests/', '/bench/', '/node_modules/'];
const ALLOW = 'GET, HEAD';
// Left over after one decoding: an encoded separator, dot or NUL (a double-encoded request).
const ENCODED_LEFT = /%(2f|5c|2e|00)/i;
// What opening or statting a file that is not there (or not a file) fails with.
const MISSING = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENAMETOOLONG']);

/** The file `rest` (a normalised URL path below a mapped prefix) names inside `root` (`root`
 * itself or below `root` + path.sep), or null when it would lie anywhere else. */
function inside(root, rest) {
  const base = resolve(root);
  const file = resolve(join(base, rest));
  const rel = relative(base, file);
  return rel.startsWith('..') || isAbsolute(rel) ? null : file;
}

/** Maps a decoded URL path to a file, or null when the path is refused or maps to nothing. */
export function resolvePath(path, zooDir, extra = {}) {
  if (typeof path !== 'string' || !path.startsWith('/')) return null;
  if (path.includes('\0') || path.includes('\\') || ENCODED_LEFT.test(path)) return null;
  path = posix.normalize(path);
  if (path === '/') path = '/index.html';
  if (path.split('/').includes('..')) return null; // normalize leaves none below '/'; be sure
  for (const [prefix, dir] of Object.entries(extra)) {
    if (path.startsWith(prefix)) return inside(dir, path.slice(prefix.length));
  }
  if (path.startsWith('/models/')) return inside(zooDir, path.slice('/models/'.length));
  if (!PUBLIC.some((p) => (p.endsWith('/') ? path.startsWith(p) : path === p))) return null;
  return inside(ROOT, path.slice(1));
}

/** The request target's path, decoded once; null when it is malformed (a 400). */
function requestPath(url) {
  let pathname;
  try {
    pathname = new URL(url, 'http://x').pathname;
  } catch {
    return null;
  }
  try {
    return decodeURIComponent(pathname);
  } catch {
    return null;
  }
}

function plain(res, status, text, headers = {}) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${text}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-cache',
    ...headers,
  });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

async function handle(req, res, { zooDir, isolate, extra, link }) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    plain(res, 405, `method not allowed: ${req.method}`, { allow: ALLOW });
    return;
  }
  const path = requestPath(req.url);
  if (path === null) {
    plain(res, 400, 'bad request');
    return;
  }
  const file = resolvePath(path, zooDir, extra);
  const notFound = () => plain(res, 404, `not found: ${JSON.stringify(path)}`);
  if (!file) return notFound();
  // stat first, so that nothing but a regular file (no FIFO, device or folder) is ever opened.
  let st;
  try {
    st = await fsp.stat(file);
  } catch (e) {
    return MISSING.has(e.code) ? notFound() : plain(res, 500, 'cannot read the file');
  }
  if (!st.isFile()) return notFound();
  // A numeric descriptor: the stream owns it (closes it when it ends, fails or is destroyed).
  let fd;
  try {
    fd = await new Promise((ok, fail) => open(file, 'r', (e, d) => (e ? fail(e) : ok(d))));
    // The file that was opened, whatever happened since the stat.
    st = await new Promise((ok, fail) => fstat(fd, (e, s) => (e ? fail(e) : ok(s))));
  } catch (e) {
    if (fd !== undefined) close(fd, () => {});
    return MISSING.has(e.code) ? notFound() : plain(res, 500, 'cannot read the file');
  }
  if (!st.isFile()) {
    close(fd, () => {});
    return notFound();
  }
  const ext = extname(file).toLowerCase();
  const zipped = COMPRESSIBLE.has(ext) && st.size > 1024 && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
  // Validators, so a later visit revalidates (304, no body) instead of downloading again (one
  // per encoding of the file).
  const version = `${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}`;
  const etag = `"${version}${zipped ? '-gz' : ''}"`;
  if (COMPRESSIBLE.has(ext)) res.setHeader('vary', 'accept-encoding');
  const modified = new Date(Math.floor(st.mtimeMs / 1000) * 1000).toUTCString();
  res.setHeader('etag', etag);
  res.setHeader('last-modified', modified);
  res.setHeader('cache-control', 'no-cache');
  // On every answer, a 304 too: WebKit takes a revalidated file's policies from the 304, and a
  // second worker of an isolated page failed to start without them.
  if (isolate) {
    res.setHeader('cross-origin-opener-policy', 'same-origin');
    res.setHeader('cross-origin-embedder-policy', 'require-corp');
  }
  const inm = req.headers['if-none-match'];
  const ims = Date.parse(req.headers['if-modified-since'] ?? '');
  const fresh = inm !== undefined
    ? inm.split(',').map((t) => t.trim()).includes(etag)
    : Number.isFinite(ims) && Math.floor(st.mtimeMs / 1000) * 1000 <= ims;
  if (fresh) {
    close(fd, () => {});
    res.statusCode = 304;
    res.end();
    return;
  }
  res.statusCode = 200;
  res.setHeader('content-type', TYPES[ext] ?? 'application/octet-stream');
  if (zipped) {
    let body;
    try {
      body = await gzippedCopy(fd, `${file}\0${version}`);
    } catch {
      return plain(res, 500, 'cannot read the file');
    } finally {
      close(fd, () => {});
    }
    res.setHeader('content-encoding', 'gzip');
    res.setHeader('content-length', body.length);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = Readable.from([body]);
    res.on('close', () => stream.destroy());
    if (link) stream.pipe(overLink(link, path)).pipe(res);
    else stream.pipe(res);
    return;
  }
  res.setHeader('content-length', st.size);
  if (req.method === 'HEAD' || st.size === 0) {
    close(fd, () => {});
    res.end();
    return;
  }
  // Headers go out with the first chunk, so a read that fails at once can still be a 500;
  // one that fails later cuts the connection (the length would be wrong).
  const stream = createReadStream(null, { fd, start: 0, end: st.size - 1, autoClose: true });
  stream.on('error', () => {
    stream.destroy();
    plain(res, 500, 'cannot read the file');
  });
  res.on('close', () => stream.destroy());
  if (link) stream.pipe(overLink(link, path)).pipe(res);
  else stream.pipe(res);
}

// A simulated network link shared by every response of one server (tests measure the page on a
// slow connection with it): bodies leave at `rate` bytes a second in all, counted in `sent` (and
// per path in `paths`).
function overLink(link, path) {
  return new Transform({
    transform(chunk, _encoding, done) {
      const now = Date.now();
      link.freeAt = Math.max(link.freeAt ?? 0, now) + (1000 * chunk.length) / link.rate;
      link.sent = (link.sent ?? 0) + chunk.length;
      link.paths ??= {};
      link.paths[path] = (link.paths[path] ?? 0) + chunk.length;
      setTimeout(() => done(null, chunk), Math.max(0, link.freeAt - now));
    },
  });
}

/** Starts the server; resolves to the http.Server once listening. `link: { rate }` sends every
 * body over one simulated link of `rate` bytes a second (tests); `link.sent` counts the bytes. */
export function serve({ port = 8080, host = '127.0.0.1', zooDir = process.env.GLIMPSE_ZOO_DIR ?? '/var/tmp/glimpse-zoo', isolate = false, extra = {}, link = null } = {}) {
  const options = { zooDir, isolate, extra, link };
  const server = http.createServer((req, res) => {
    const fail = () => {
      try {
        plain(res, 500, 'internal error');
      } catch {
        res.destroy();
      }
    };
    try {
      handle(req, res, options).catch(fail);
    } catch {
      fail();
    }
  });
  // A request line or header Node's parser refuses: answer 400 (when the socket still can take
  // it) and drop the connection.
  server.on('clientError', (err, socket) => {
    if (err.code !== 'ECONNRESET' && socket.writable && !socket._httpMessage?.headersSent) {
      socket.write('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    }
    socket.destroy();
  });
  return new Promise((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(port, host, () => {
      server.off('error', rejectListen);
      resolveListen(server);
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT ?? 8080);
  // Cross-origin isolated (COOP + COEP), so the page's CPU engine runs with threads; ISOLATE=0
  // serves it as a host without those headers would (the service worker then adds them).
  const server = await serve({ port, host: process.env.HOST ?? '127.0.0.1', isolate: process.env.ISOLATE !== '0' });
  console.log(`Glimpse at http://${server.address().address}:${server.address().port}/`);
}
