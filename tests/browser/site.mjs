// The static site (scripts/build-site) served as a plain static host would serve it, under a
// sub-path (/glimpse/), with nothing mapped specially: the page loads its engine and network,
// classifies the golden cat photo, and every request it makes is answered from the folder.
//   node tests/browser/site.mjs SITE_DIR
import { chromium } from 'playwright-core';
import http from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { join, extname, resolve, relative, isAbsolute, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const site = resolve(process.argv[2] ?? join(repo, 'site'));
const PREFIX = '/glimpse/';
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.wasm': 'application/wasm', '.svg': 'image/svg+xml',
  '.txt': 'text/plain', '.h5': 'application/octet-stream',
};

// A plain file server: the folder under PREFIX, nothing else.
const missing = [];
const server = http.createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  if (!path.startsWith(PREFIX)) {
    missing.push(path);
    res.writeHead(404).end();
    return;
  }
  let file = resolve(site, `.${path.slice(PREFIX.length - 1)}`);
  const rel = relative(site, file);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    res.writeHead(403).end();
    return;
  }
  try {
    if (statSync(file).isDirectory()) file = join(file, 'index.html');
    statSync(file);
  } catch {
    missing.push(path);
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking'],
});
let failed = false;
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (process.env.DEBUG) console.log('console:', m.text()); });
  await page.goto(`${origin}${PREFIX}?backend=cpu`);
  await page.waitForSelector('body[data-ready=true]', { timeout: 120_000 });
  await page.setInputFiles('#classify-files', [join(repo, 'tests', 'fixtures', 'efficientnet', 'chelsea_orig.jpg')]);
  await page.waitForSelector('.card[data-top]', { timeout: 60_000 });
  const top = await page.getAttribute('.card', 'data-top');
  await page.waitForSelector('body[data-offline=ready]', { timeout: 60_000 });
  if (top !== 'tiger cat') throw new Error(`top label ${top}`);
  // The host sends no COOP/COEP: the first visit is not isolated and runs one thread.
  const first = { isolated: await page.evaluate('crossOriginIsolated'), status: await page.textContent('#status') };
  if (first.isolated || !/1 thread: page not cross-origin isolated/.test(first.status)) {
    throw new Error(`first visit: ${JSON.stringify(first)}`);
  }
  // The service worker adds them: the next visit is isolated and the CPU engine has threads.
  await page.goto(`${origin}${PREFIX}?backend=cpu`);
  await page.waitForSelector('body[data-ready=true]', { timeout: 120_000 });
  const second = { isolated: await page.evaluate('crossOriginIsolated'), status: await page.textContent('#status') };
  if (!second.isolated || !/CPU \(WebAssembly, [2-8] threads\)/.test(second.status)) {
    throw new Error(`second visit (the service worker in control): ${JSON.stringify(second)}`);
  }
  await page.setInputFiles('#classify-files', [join(repo, 'tests', 'fixtures', 'efficientnet', 'chelsea_orig.jpg')]);
  await page.waitForSelector('.card[data-top]', { timeout: 60_000 });
  const again = await page.getAttribute('.card', 'data-top');
  if (again !== 'tiger cat') throw new Error(`top label with threads: ${again}`);
  if (missing.length) throw new Error(`requests the folder could not answer: ${missing.join(', ')}`);
  if (errors.length) throw new Error(`page errors: ${errors.join(' | ')}`);
  console.log(`ok   the static site under ${PREFIX}: classified the cat as "${top}", offline ready, every request answered`);
  console.log(`ok   ...first visit "${first.status}"; with its service worker in control: isolated, "${second.status}", the cat again "${again}"`);
} catch (e) {
  failed = true;
  console.log(`FAIL the static site: ${e.message}`);
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
