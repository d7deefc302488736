// What the page costs a person in data, in headless Chromium (all requests of the page, its
// workers and its service worker): the first visit downloads the engine it uses and the
// network once (not the WebGPU engine a CPU page never runs), at most 10 MB; the second the
// threaded engine (the page is isolated from then on) and a later visit only revalidates (304s).
//   node tests/browser/data-use.mjs
import { chromium } from 'playwright-core';
import { serve } from '../../scripts/serve.mjs';

const server = await serve({ port: 0 });
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-background-networking'] });
const context = await browser.newContext();
let bytes = 0;
const files = [];
context.on('requestfinished', async (r) => {
  const s = await r.sizes().catch(() => null);
  const n = (s?.responseBodySize ?? 0) + (s?.responseHeadersSize ?? 0);
  bytes += n;
  files.push({ path: new URL(r.url()).pathname, n });
});
const visit = async (page, first) => {
  bytes = 0;
  files.length = 0;
  await (first ? page.goto(`${origin}/?backend=cpu`) : page.reload());
  await page.waitForSelector('body[data-offline=ready]', { timeout: 120_000 });
  await page.waitForTimeout(500);
  return { mb: bytes / 1e6, files: [...files] };
};
let failed = false;
try {
  const page = await context.newPage();
  const first = await visit(page, true);
  const second = await visit(page, false);
  const third = await visit(page, false);
  console.log(`first visit ${first.mb.toFixed(1)} MB, second ${second.mb.toFixed(2)} MB, third ${third.mb.toFixed(2)} MB`);
  // (A request the service worker answers from the network shows twice, once with the body.)
  const got = (suffix) => first.files.filter((f) => f.path.endsWith(suffix)).reduce((a, f) => a + f.n, 0);
  if (got('/pkg/wasm/glimpse_bg.wasm') > 0) throw new Error('a CPU page downloaded the WebGPU engine');
  // The float16 weights (8.4 MB, shuffled and deflated), once; never the float32 file.
  if (got('/model.weights.h5') > 0) throw new Error('the page downloaded the float32 weights');
  const weights = got('model.f16.weights.h5');
  if (weights > 9e6) throw new Error(`the weights cost ${(weights / 1e6).toFixed(1)} MB (uncompressed, or downloaded twice?)`);
  // Everything the first visit needs, engine and network, in at most 10 MB.
  if (first.mb > 10) throw new Error(`first visit ${first.mb.toFixed(1)} MB (at most 10)`);
  const big = (v) => v.files.filter((f) => f.n > 1e5).map((f) => `${f.path} ${(f.n / 1e6).toFixed(2)} MB`).join(', ');
  // This server sends no COOP/COEP: from the second visit on, the service worker adds them, the
  // page is isolated and its worker gets the threaded engine, downloaded then, once.
  const threaded = second.files.filter((f) => f.path.startsWith('/pkg/wasm-threads/')).reduce((a, f) => a + f.n, 0);
  if (second.mb - threaded / 1e6 > 1) throw new Error(`the second visit downloaded ${second.mb.toFixed(1)} MB again: ${big(second)}`);
  if (third.mb > 1) throw new Error(`a later visit downloaded ${third.mb.toFixed(1)} MB again: ${big(third)}`);
  console.log('ok   data use: one download of what the page uses, revalidation after');
} catch (e) {
  failed = true;
  console.log(`FAIL data use: ${e.message}`);
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
