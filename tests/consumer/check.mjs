// The consumer check: pack pkg/ with npm, install the tarball into a scratch app outside the
// repository, serve that app, and run a prediction through the installed package in headless
// Chromium; build the same kind of app with Vite (production build and dev server) and with
// webpack 5, no bundler configuration, and check the direct API, the worker client and an engine
// restart in each; then type-check a TypeScript consumer against the installed declarations.
//   node tests/consumer/check.mjs
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync, copyFileSync, readdirSync, createReadStream, statSync } from 'node:fs';
import { join, dirname, extname, normalize } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { build as viteBuild, createServer as viteServer } from 'vite';
import webpack from 'webpack';

const repo = normalize(join(dirname(fileURLToPath(import.meta.url)), '..', '..'));
const app = mkdtempSync(join(tmpdir(), 'glimpse-consumer-'));
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] }).toString();

run('npm', ['pack', '--pack-destination', app, '--silent'], join(repo, 'pkg'));
const tarball = readdirSync(app).find((f) => f.endsWith('.tgz'));
const files = run('tar', ['tzf', join(app, tarball)], app).trim().split('\n');
console.log(`packed ${tarball}: ${files.length} files (${files.join(', ')})`);
// Every module of the package (pkg/*.js: the entry and the modules it imports, the worker, the
// client, the table of operations, the pool thread), its declarations, engines and README.
const modules = readdirSync(join(repo, 'pkg')).filter((f) => f.endsWith('.js')).map((f) => `package/${f}`);
for (const need of [...modules, 'package/index.d.ts', 'package/client.d.ts', 'package/wasm/glimpse_bg.wasm', 'package/wasm-cpu/glimpse_bg.wasm', 'package/wasm-cpu/glimpse_relaxed_bg.wasm', 'package/wasm-threads/glimpse.js', 'package/wasm-threads/glimpse_bg.wasm', 'package/wasm-threads/glimpse_relaxed_bg.wasm', 'package/README.md']) {
  if (!files.includes(need)) throw new Error(`the package lacks ${need}`);
}
writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { 'glimpse-ml': `file:./${tarball}` } }));
run('npm', ['install', '--no-audit', '--no-fund', '--offline'], app);

// A Keras model and Keras' own outputs for it.
const fix = join(repo, 'tests', 'fixtures', 'keras3', 'small_cnn');
mkdirSync(join(app, 'model'));
copyFileSync(join(fix, 'model.json'), join(app, 'model', 'model.json'));
copyFileSync(join(fix, 'model.weights.h5'), join(app, 'model', 'model.weights.h5'));
const npy = (f) => {
  const buf = readFileSync(f);
  const len = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + len).toString('latin1');
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const body = buf.subarray(10 + len);
  return { shape, data: Array.from(new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength))) };
};
writeFileSync(join(app, 'model', 'expected.json'), JSON.stringify({ input: npy(join(fix, 'input.npy')), output: npy(join(fix, 'output.npy')) }));
copyFileSync(join(repo, 'tests', 'consumer', 'app.html'), join(app, 'index.html'));
// The same app on the package's single-file entry (glimpse-ml/bundle), as a page without a
// bundler would load it.
const appHtml = readFileSync(join(repo, 'tests', 'consumer', 'app.html'), 'utf8');
if (!appHtml.includes('glimpse-ml/index.js')) throw new Error('app.html: no import map entry to point at the bundle');
writeFileSync(join(app, 'bundle.html'), appHtml.replace('glimpse-ml/index.js', 'glimpse-ml/index.bundle.js'));

const types = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };
// A plain static file server over `root`; `isolate` adds COOP and COEP (cross-origin isolation).
const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
async function serveDir(root, { isolate = false } = {}) {
  const server = http.createServer((req, res) => {
    const file = normalize(join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
    let st = null;
    try {
      st = file.startsWith(root) && statSync(file);
    } catch {}
    if (!st || !st.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', ...(isolate ? ISOLATION : {}) });
    createReadStream(file).pipe(res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
async function resultAt(url, label) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`[${label}] page error: ${e}`));
  page.on('response', (r) => {
    if (r.status() >= 400) console.log(`[${label}] ${r.status()} ${r.url()}`);
  });
  await page.goto(url);
  const result = await page.evaluate(() => window.result);
  await page.close();
  return result;
}

const plain = await serveDir(app);
const result = await resultAt(`${plain.url}index.html`, 'import map');
plain.close();
const bundle = await serveDir(app);
const fromBundle = await resultAt(`${bundle.url}bundle.html`, 'bundle');
bundle.close();
console.log(`consumer app: ${JSON.stringify(result)}; on index.bundle.js: ${JSON.stringify(fromBundle)}`);
if (!(result.worst <= 1e-4)) throw new Error(`the installed package predicts ${result.worst} away from Keras`);
if (!(fromBundle?.worst <= 1e-4)) throw new Error(`the package's bundle predicts ${fromBundle?.worst} away from Keras`);

// Bundled apps: the same source, each bundler with its defaults.
const bundled = join(repo, 'tests', 'consumer', 'bundled');
const modelInto = (dir) => {
  mkdirSync(join(dir, 'model'), { recursive: true });
  for (const f of readdirSync(join(app, 'model'))) copyFileSync(join(app, 'model', f), join(dir, 'model', f));
};
const checkBundled = (label, r) => {
  console.log(`${label}: ${JSON.stringify(r)}`);
  const good = r.direct?.worst <= 1e-4 && r.worker?.worst <= 1e-4 && r.restart?.stopped && r.restart?.worst <= 1e-4 &&
    r.worker.isolated && r.worker.threads === 2;
  if (!good) throw new Error(`${label}: the bundled app failed: ${JSON.stringify(r)}`);
};

const vite = join(app, 'vite-app');
mkdirSync(vite);
copyFileSync(join(bundled, 'index.html'), join(vite, 'index.html'));
copyFileSync(join(bundled, 'main.js'), join(vite, 'main.js'));
modelInto(join(vite, 'public'));
await viteBuild({ root: vite, logLevel: 'warn', configFile: false });
const viteSite = await serveDir(join(vite, 'dist'), { isolate: true });
checkBundled('vite build', await resultAt(`${viteSite.url}index.html`, 'vite build'));
viteSite.close();
const dev = await viteServer({ root: vite, logLevel: 'warn', configFile: false, server: { port: 0, host: '127.0.0.1', headers: ISOLATION } });
await dev.listen();
checkBundled('vite dev server', await resultAt(dev.resolvedUrls.local[0], 'vite dev'));
await dev.close();

const wp = join(app, 'webpack-app');
mkdirSync(wp);
copyFileSync(join(bundled, 'main.js'), join(wp, 'main.js'));
const stats = await new Promise((resolve, reject) => {
  const compiler = webpack({ mode: 'production', context: wp, entry: './main.js', output: { path: join(wp, 'dist') }, performance: { hints: false } });
  compiler.run((err, st) => compiler.close(() => (err ? reject(err) : resolve(st))));
});
if (stats.hasErrors()) throw new Error(`webpack: ${stats.toString({ all: false, errors: true })}`);
writeFileSync(join(wp, 'dist', 'index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script defer src="main.js"></script>');
modelInto(join(wp, 'dist'));
const wpSite = await serveDir(join(wp, 'dist'), { isolate: true });
checkBundled('webpack 5 build', await resultAt(`${wpSite.url}index.html`, 'webpack'));
wpSite.close();
await browser.close();

// TypeScript: the declarations as an app sees them.
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
copyFileSync(join(repo, 'tests', 'consumer', 'app.ts'), join(app, 'app.ts'));
run(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'es2022,dom', 'app.ts'], app);
console.log('consumer check passed: installed from the packed tarball, predicted in Chromium as is and bundled by Vite (build, dev) and webpack, types check');
