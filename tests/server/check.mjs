// The page server (scripts/serve.mjs) against hostile requests: path traversal (encoded,
// double-encoded, backslash, absolute, prefix-sibling), malformed URLs, other methods, files it
// cannot read; it must refuse them, leak nothing and keep running. Plain Node, no dependency:
//   node tests/server/check.mjs
// SERVE_MODULE=<path to a serve.mjs> tests another copy (its repository is the folder above it).
import net from 'node:net';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, rmSync, chmodSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve, dirname, basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const modulePath = resolve(process.env.SERVE_MODULE ?? join(here, '../../scripts/serve.mjs'));
const repo = resolve(dirname(modulePath), '..');
const { serve } = await import(pathToFileURL(modulePath).href);

const GLOBAL_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 2_000;
let current = '(setup)';
const failures = [];
let passed = 0;

setTimeout(() => {
  console.error(`FAIL: global timeout (${GLOBAL_TIMEOUT_MS / 1000} s) hit during: ${current}`);
  process.exit(1);
}, GLOBAL_TIMEOUT_MS).unref();

// A request that makes the server throw would end a real server's process: count it as the
// failure of the case running then, and cut that case's connection so the test goes on.
let uncaught = null;
let liveSocket = null;
process.on('uncaughtException', (err) => {
  uncaught = err;
  liveSocket?.destroy();
});

// Scratch: a zoo dir, a sibling whose name has the zoo dir's name as a prefix, an extra dir
// and its prefix sibling; the secret token must never come back.
const secret = `SECRET-${randomBytes(12).toString('hex')}`;
const zoo = mkdtempSync(join(tmpdir(), 'glimpse-serve-zoo-'));
const zooSibling = `${zoo}2`;
const extraDir = mkdtempSync(join(tmpdir(), 'glimpse-serve-extra-'));
const extraSibling = `${extraDir}2`;
for (const d of [zooSibling, extraSibling]) {
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'secret.txt'), `${secret}\n`);
}
writeFileSync(join(zoo, 'ok.json'), '{"ok":true}\n');
// Weights: sent as they are even to a client that takes gzip.
const weights = randomBytes(5000);
writeFileSync(join(zoo, 'w.weights.h5'), weights);
writeFileSync(join(extraDir, 'ok.txt'), 'extra ok\n');
mkdirSync(join(zoo, 'x.json')); // a folder where a file is asked for
writeFileSync(join(zoo, 'locked.json'), 'locked\n');
chmodSync(join(zoo, 'locked.json'), 0o000);
let fifo = false;
try {
  execFileSync('mkfifo', [join(zoo, 'pipe.json')], { stdio: 'ignore' });
  fifo = true;
} catch {
  // no mkfifo: that case is skipped
}
const cleanup = () => {
  for (const d of [zoo, zooSibling, extraDir, extraSibling]) rmSync(d, { recursive: true, force: true });
};

// What must never appear in a refused response: the repository's files, the secret, passwd.
const leakMarks = [secret, 'root:x:0:'];
for (const f of ['Cargo.toml', '.git/HEAD']) {
  const p = join(repo, f);
  if (existsSync(p)) leakMarks.push(readFileSync(p, 'utf8').slice(0, 60).trim());
}
const indexHtml = readFileSync(join(repo, 'index.html'));

/** Sends `raw` bytes on a fresh connection and reads until the server closes it. Resolves to
 * { status, headers, body } (status null when the connection closed with no response). */
function rawRequest(raw, port) {
  return new Promise((done) => {
    const chunks = [];
    const socket = net.connect(port, '127.0.0.1');
    liveSocket = socket;
    let finished = false;
    const finish = (timedOut = false) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      const buf = Buffer.concat(chunks);
      const split = buf.indexOf('\r\n\r\n');
      const head = (split < 0 ? buf : buf.subarray(0, split)).toString('latin1');
      const body = split < 0 ? Buffer.alloc(0) : buf.subarray(split + 4);
      const [statusLine, ...lines] = head.split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
      const headers = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      done({ status: m ? Number(m[1]) : null, headers, body, timedOut });
    };
    const timer = setTimeout(() => finish(true), REQUEST_TIMEOUT_MS);
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', () => finish());
    socket.write(raw);
  });
}

const request = (method, target, port) =>
  rawRequest(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`, port);

/** Runs one case: `send` makes the request, `expect` returns an error message or nothing. */
async function check(name, send, expect) {
  current = name;
  uncaught = null;
  let problem;
  try {
    const r = await send();
    if (uncaught) problem = `the server threw an uncaught exception (a real server would exit): ${uncaught.message}`;
    else if (r.timedOut) problem = `no answer in ${REQUEST_TIMEOUT_MS} ms (status ${r.status})`;
    else {
      const text = r.body.toString('latin1');
      const leak = r.status === 200 ? null : leakMarks.find((m) => m && text.includes(m));
      problem = leak ? `status ${r.status} but the body leaks ${JSON.stringify(leak.slice(0, 30))}` : expect(r, text);
    }
  } catch (e) {
    problem = `threw: ${e.stack ?? e}`;
  }
  if (problem) {
    failures.push(`${name}: ${problem}`);
    console.log(`FAIL  ${name}: ${problem}`);
  } else {
    passed++;
    console.log(`ok    ${name}`);
  }
}

const status = (...allowed) => (r) =>
  allowed.includes(r.status) ? undefined : `status ${r.status}, wanted ${allowed.join(' or ')}`;
const refused = (r, text) => {
  if (r.status === 200) return `status 200: served ${JSON.stringify(text.slice(0, 40))}`;
  if (r.status !== 404 && r.status !== 400) return `status ${r.status}, wanted 404 or 400`;
  if (leakMarks.some((m) => m && text.includes(m))) return 'leaks file content';
  return undefined;
};

const server = await serve({ port: 0, zooDir: zoo, extra: { '/extra/': extraDir } });
const port = server.address().port;
const isoServer = await serve({ port: 0, zooDir: zoo, isolate: true });
const isoPort = isoServer.address().port;
const get = (target) => () => request('GET', target, port);

// What it must still serve.
await check('GET /index.html -> 200, the file, no-cache, text/html', get('/index.html'), (r) => {
  if (r.status !== 200) return `status ${r.status}`;
  if (!r.body.equals(indexHtml)) return 'body is not index.html';
  if (r.headers['cache-control'] !== 'no-cache') return `cache-control ${r.headers['cache-control']}`;
  if (!r.headers['content-type']?.startsWith('text/html')) return `content-type ${r.headers['content-type']}`;
  if (r.headers['cross-origin-opener-policy']) return 'COOP header without isolate';
  return undefined;
});
await check('GET / -> 200 index.html', get('/'), (r) =>
  r.status === 200 && r.body.equals(indexHtml) ? undefined : `status ${r.status} or not index.html`);
await check('GET /index.html with isolate -> COOP/COEP headers', () => request('GET', '/index.html', isoPort), (r) =>
  r.status === 200 && r.headers['cross-origin-opener-policy'] === 'same-origin' &&
  r.headers['cross-origin-embedder-policy'] === 'require-corp'
    ? undefined
    : `status ${r.status}, COOP ${r.headers['cross-origin-opener-policy']}, COEP ${r.headers['cross-origin-embedder-policy']}`);
await check('GET /models/ok.json (zoo) -> 200 application/json', get('/models/ok.json'), (r) =>
  r.status === 200 && r.body.toString() === '{"ok":true}\n' && r.headers['content-type'] === 'application/json'
    ? undefined
    : `status ${r.status}, content-type ${r.headers['content-type']}`);
await check('GET /extra/ok.txt (extra mapping) -> 200', get('/extra/ok.txt'), (r) =>
  r.status === 200 && r.body.toString() === 'extra ok\n' ? undefined : `status ${r.status}`);

// Traversal: all refused.
const zooName = basename(zoo);
const extraName = basename(extraDir);
const repoName = basename(repo);
for (const target of [
  '/www/..%2FCargo.toml',
  '/www/..%2F.git/HEAD',
  '/www/%2e%2e/Cargo.toml',
  '/www/%2e%2e%2fCargo.toml',
  '/www/..%252FCargo.toml',
  '/www/%252e%252e/Cargo.toml',
  '/www/..%5cCargo.toml',
  '/www/..\\Cargo.toml',
  '/www/../Cargo.toml',
  '/Cargo.toml',
  '/.git/HEAD',
  '/index.html%00.txt',
  '/www/app.js%00',
  `/pkg/..%2F..%2F${repoName}2/secret.txt`,
  `/pkg/..%2F..%2F${repoName}/Cargo.toml`,
  `/models/..%2F${zooName}2/secret.txt`,
  `/models/%2e%2e%2F${zooName}2/secret.txt`,
  `/models/..%252F${zooName}2/secret.txt`,
  '/models/%2Fetc%2Fpasswd',
  '/models/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd',
  `/extra/..%2F${extraName}2/secret.txt`,
  '//etc/passwd',
  'http://127.0.0.1/www/..%2FCargo.toml',
]) {
  await check(`GET ${target} -> refused (404/400)`, get(target), refused);
}

// Malformed requests.
await check('GET /% (bad percent-encoding) -> 400', get('/%'), status(400));
await check('GET /www/%zz -> 400', get('/www/%zz'), status(400));
await check('GET http://[ (unparsable target) -> 400 or closed', get('http://['), (r) =>
  r.status === 400 || r.status === null ? undefined : `status ${r.status}`);
await check('garbage request line -> 400 or closed', () => rawRequest('\x01\x02 nonsense\r\n\r\n', port), (r) =>
  r.status === 400 || r.status === null ? undefined : `status ${r.status}`);

// Methods.
for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
  await check(`${method} /index.html -> 405, Allow: GET, HEAD`, () => request(method, '/index.html', port), (r) => {
    if (r.status !== 405) return `status ${r.status}`;
    if (r.headers.allow !== 'GET, HEAD') return `Allow ${JSON.stringify(r.headers.allow)}`;
    if (r.body.includes(indexHtml.subarray(0, 40))) return 'body holds index.html';
    return undefined;
  });
}
// Revalidation: a later visit gets 304 and no body when the file is unchanged.
let etag;
await check('GET /index.html -> ETag and Last-Modified', get('/index.html'), (r) => {
  etag = r.headers.etag;
  return etag && r.headers['last-modified'] ? undefined : `validators ${JSON.stringify([r.headers.etag, r.headers['last-modified']])}`;
});
await check('GET /index.html with its ETag -> 304, empty body', () =>
  rawRequest(`GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: ${etag}\r\nConnection: close\r\n\r\n`, port), (r) =>
  r.status === 304 && r.body.length === 0 ? undefined : `status ${r.status}, ${r.body.length} bytes`);
await check('GET /index.html with another ETag -> 200', () =>
  rawRequest('GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: "0-0"\r\nConnection: close\r\n\r\n', port), status(200));

await check('HEAD /index.html -> 200, length, empty body', () => request('HEAD', '/index.html', port), (r) => {
  if (r.status !== 200) return `status ${r.status}`;
  if (r.body.length !== 0) return `body of ${r.body.length} bytes`;
  if (Number(r.headers['content-length']) !== indexHtml.length) return `content-length ${r.headers['content-length']}`;
  return undefined;
});

// Compression, as static hosts do it: gzip to a client that accepts it (its own validator, the
// same bytes once decoded), the file as it is to one that does not, weights never.
const withEncoding = (target, encoding, extra = '') => () =>
  rawRequest(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: ${encoding}\r\n${extra}Connection: close\r\n\r\n`, port);
let gzEtag;
await check('GET /index.html accepting gzip -> gzip, length of the compressed body, decodes to the file', withEncoding('/index.html', 'gzip, deflate, br'), (r) => {
  gzEtag = r.headers.etag;
  if (r.status !== 200 || r.headers['content-encoding'] !== 'gzip') return `status ${r.status}, encoding ${r.headers['content-encoding']}`;
  if (Number(r.headers['content-length']) !== r.body.length) return `content-length ${r.headers['content-length']} for ${r.body.length} bytes`;
  if (!/accept-encoding/i.test(r.headers.vary ?? '')) return `vary ${r.headers.vary}`;
  if (gzEtag === etag) return 'the same ETag as the uncompressed file';
  return gunzipSync(r.body).equals(indexHtml) ? undefined : 'decodes to something else';
});
await check('GET /index.html with the gzip ETag, accepting gzip -> 304', withEncoding('/index.html', 'gzip', `If-None-Match: ${gzEtag}\r\n`), status(304));
await check('GET /index.html accepting only identity -> the file as it is', withEncoding('/index.html', 'identity'), (r) =>
  r.status === 200 && !r.headers['content-encoding'] && r.body.equals(indexHtml) ? undefined : `status ${r.status}, encoding ${r.headers['content-encoding']}`);
await check('GET a weights file accepting gzip -> as it is', withEncoding('/models/w.weights.h5', 'gzip'), (r) =>
  r.status === 200 && !r.headers['content-encoding'] && r.body.equals(weights) ? undefined : `status ${r.status}, encoding ${r.headers['content-encoding']}`);
await check('HEAD /index.html accepting gzip -> the compressed length, empty body', () =>
  rawRequest('HEAD /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n', port), (r) =>
  r.status === 200 && r.body.length === 0 && Number(r.headers['content-length']) < indexHtml.length ? undefined : `status ${r.status}, ${r.headers['content-length']}`);

// Files it cannot read.
await check('GET /models/x.json (a folder) -> 404', get('/models/x.json'), status(404));
await check('GET /models/locked.json (mode 000) -> no leak unless readable', get('/models/locked.json'), (r) => {
  // As root, mode 000 does not stop a read: then a 200 with the content is what it should do.
  if (process.getuid?.() === 0) return r.status === 200 || r.status === 404 || r.status === 500 ? undefined : `status ${r.status}`;
  return r.status === 404 || r.status === 500 || r.status === 403 ? undefined : `status ${r.status}`;
});
if (fifo) await check('GET /models/pipe.json (a FIFO) -> 404, no hang', get('/models/pipe.json'), status(404));

// Still up.
await check('after all that, GET /index.html -> 200', get('/index.html'), (r) =>
  r.status === 200 && r.body.equals(indexHtml) ? undefined : `status ${r.status}`);

current = '(teardown)';
server.closeAllConnections?.();
isoServer.closeAllConnections?.();
await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => isoServer.close(r))]);
cleanup();
if (failures.length) {
  console.error(`\n${failures.length} of ${failures.length + passed} page-server cases failed:`);
  for (const f of failures) console.error(`  - ${f}`);
  process.exit(1);
}
console.log(`\nall ${passed} page-server cases passed`);
process.exit(0);
