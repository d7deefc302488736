// The consumer check: pack pkg/ with npm, install the tarball into a scratch app outside the
// repository, serve that app, and run a prediction through the installed package in headless
// Chromium; then type-check a TypeScript consumer against the installed declarations.
//   node tests/consumer/check.mjs
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync, copyFileSync, readdirSync, createReadStream, statSync } from 'node:fs';
import { join, dirname, extname, normalize } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import http from 'node:http';

const repo = normalize(join(dirname(fileURLToPath(import.meta.url)), '..', '..'));
const app = mkdtempSync(join(tmpdir(), 'glimpse-consumer-'));
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] }).toString();

run('npm', ['pack', '--pack-destination', app, '--silent'], join(repo, 'pkg'));
const tarball = readdirSync(app).find((f) => f.endsWith('.tgz'));
const files = run('tar', ['tzf', join(app, tarball)], app).trim().split('\n');
console.log(`packed ${tarball}: ${files.length} files (${files.join(', ')})`);
for (const need of ['package/index.js', 'package/index.d.ts', 'package/worker.js', 'package/client.js', 'package/wasm/glimpse_bg.wasm', 'package/wasm-cpu/glimpse_bg.wasm', 'package/wasm-cpu/glimpse_relaxed_bg.wasm', 'package/README.md']) {
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

const types = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };
const server = http.createServer((req, res) => {
  const file = normalize(join(app, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
  let st = null;
  try {
    st = file.startsWith(app) && statSync(file);
  } catch {}
  if (!st || !st.isFile()) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage();
page.on('pageerror', (e) => console.log(`page error: ${e}`));
await page.goto(`http://127.0.0.1:${server.address().port}/index.html`);
const result = await page.evaluate(() => window.result);
await browser.close();
server.close();
console.log(`consumer app: ${JSON.stringify(result)}`);
if (!(result.worst <= 1e-4)) throw new Error(`the installed package predicts ${result.worst} away from Keras`);

// TypeScript: the declarations as an app sees them.
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
copyFileSync(join(repo, 'tests', 'consumer', 'app.ts'), join(app, 'app.ts'));
run(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'es2022,dom', 'app.ts'], app);
console.log('consumer check passed: installed from the packed tarball, predicted in Chromium, types check');
