// The core of the page test, run inside the page itself so that any browser engine can run it
// through one `evaluate` (tests/browser/page-engines.mjs: Firefox over WebDriver BiDi, WebKit over
// WebDriver): it acts through the page's own controls (file inputs given files, clicks) and
// returns one record per step. Photos for teaching: crops and flips of two golden photos, made
// here.

const $ = (s) => document.querySelector(s);

async function until(cond, what, ms = 120_000) {
  const t0 = performance.now();
  for (;;) {
    const v = cond();
    if (v) return v;
    if (performance.now() - t0 > ms) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function choose(input, files) {
  const dt = new DataTransfer();
  for (const f of files) dt.items.add(f);
  input.files = dt.files;
  input.dispatchEvent(new Event('change', { bubbles: true }));
}

async function photo(url, name) {
  const blob = await (await fetch(url)).blob();
  return new File([blob], name, { type: blob.type || 'image/jpeg' });
}

// `n` variations (crops, mirror images) of a 224 px golden photo, as JPEG files.
async function variations(name, n) {
  const bmp = await createImageBitmap(await (await fetch(`/tests/fixtures/efficientnet/${name}_224.png`)).blob());
  const out = [];
  for (let k = 0; k < n; k++) {
    const c = document.createElement('canvas');
    c.width = 180;
    c.height = 180;
    const ctx = c.getContext('2d');
    if (k % 2) {
      ctx.translate(180, 0);
      ctx.scale(-1, 1);
    }
    const s = 150 + (k % 6) * 12;
    ctx.drawImage(bmp, (k * 7) % 60, (k * 5) % 50, s, s, 0, 0, 180, 180);
    const blob = await new Promise((r) => c.toBlob(r, 'image/jpeg', 0.9));
    out.push(new File([blob], `${name}${k}.jpg`, { type: 'image/jpeg' }));
  }
  return out;
}

async function classifyAll(files) {
  $('#tab-classify').click();
  $('#results').innerHTML = '';
  choose($('#classify-files'), files);
  await until(() => document.querySelectorAll('.card[data-top]').length === files.length, 'the photos to be classified');
  return [...document.querySelectorAll('.card[data-top]')].map((c) => c.dataset.top).reverse();
}

/** Runs the steps; resolves to { steps: [{ name, ok, ms, error?, detail? }], timings }. */
export async function run() {
  const steps = [];
  const step = async (name, fn) => {
    const t0 = performance.now();
    try {
      const detail = await fn();
      steps.push({ name, ok: true, ms: Math.round(performance.now() - t0), detail: detail ?? null });
    } catch (e) {
      const stack = String(e?.stack ?? "");
      steps.push({ name, ok: false, ms: Math.round(performance.now() - t0), error: stack.includes(String(e?.message)) ? stack : `${e}\n${stack}` });
    }
  };
  const expect = (cond, msg) => {
    if (!cond) throw new Error(msg);
  };

  await step('the page loads on the CPU and names its backend', async () => {
    await until(() => document.body.dataset.ready === 'true', 'the page to be ready');
    const status = $('#status').textContent;
    // Which CPU engine: threads where the page is isolated and the browser shares memory.
    const threads = globalThis.crossOriginIsolated && typeof SharedArrayBuffer === 'function';
    expect((threads ? /CPU \(WebAssembly, [2-8] threads\)/ : /CPU \(WebAssembly, 1 thread: /).test(status), `status: ${status}`);
    expect($('#load-progress').hidden, 'the download bar is gone once ready');
    return { readyMs: Math.round(performance.now()), engine: status.match(/\(WebAssembly[^)]*\)/)?.[0] };
  });

  await step('classify the golden cat photo: tiger cat on top', async () => {
    const tops = await classifyAll([await photo('/tests/fixtures/efficientnet/chelsea_orig.jpg', 'chelsea.jpg')]);
    expect(tops[0] === 'tiger cat', `top label ${tops[0]}`);
    expect(document.querySelectorAll('.card .bars li').length === 5, 'five bars');
  });

  const names = ['cat', 'motorcycle'];
  const photos = { cat: await variations('chelsea', 16), motorcycle: await variations('motorcycle', 16) };
  const heldOut = names.flatMap((n) => photos[n].slice(12).map((f) => ({ f, label: n })));
  let before;
  await step('teach two classes (with varied copies) and train', async () => {
    $('#tab-teach').click();
    const cards = document.querySelectorAll('.class');
    names.forEach((n, i) => {
      const box = cards[i].querySelector('.class-name');
      box.value = n;
      box.dispatchEvent(new Event('input', { bubbles: true }));
      choose(cards[i].querySelector('input[type=file]'), photos[n].slice(0, 12));
    });
    $('#epochs').value = '15';
    $('#train').click();
    await until(() => !$('#taught').hidden, 'training to finish', 300_000);
    const text = $('#heldout').textContent;
    expect(/held-out photos/.test(text), `held-out text: ${text}`);
    const label = $('#chart').getAttribute('aria-label');
    expect(/after epoch 15 of 15/.test(label), `chart: ${label}`);
    return { heldOut: text };
  });

  await step('the taught model classifies unseen photos well above chance', async () => {
    before = await classifyAll(heldOut.map((h) => h.f));
    const correct = before.filter((t, i) => t === heldOut[i].label).length;
    expect(correct / heldOut.length >= 0.75, `${correct} of ${heldOut.length}: ${before}`);
    return { correct, of: heldOut.length };
  });

  let exported = null;
  await step('kept in this browser; exported as a .keras file', async () => {
    $('#tab-keep').click();
    await until(() => document.querySelector('#saved li[data-id]'), 'the saved model');
    // The download link the page clicks: its file is read back here.
    const real = HTMLAnchorElement.prototype.click;
    let link = null;
    HTMLAnchorElement.prototype.click = function () {
      if (this.download) link = { href: this.href, name: this.download };
      else real.call(this);
    };
    try {
      [...document.querySelectorAll('#saved li[data-id] button')].find((b) => b.textContent === 'Export').click();
      await until(() => link, 'the export', 120_000);
    } finally {
      HTMLAnchorElement.prototype.click = real;
    }
    const bytes = new Uint8Array(await (await fetch(link.href)).arrayBuffer());
    expect(link.name.endsWith('.keras') && bytes[0] === 0x50 && bytes[1] === 0x4b, `export ${link.name}: not a zip`);
    exported = new File([bytes], link.name);
    return { name: link.name, bytes: bytes.length };
  });

  await step('the export imports back and predicts the same', async () => {
    expect(exported, 'nothing was exported');
    // Delete the original first (the page asks; yes).
    const realConfirm = window.confirm;
    window.confirm = () => true;
    try {
      [...document.querySelectorAll('#saved li[data-id] button')].find((b) => b.textContent === 'Delete').click();
      await until(() => !document.querySelector('#saved li[data-id]'), 'the delete');
    } finally {
      window.confirm = realConfirm;
    }
    choose($('#import-files'), [exported]);
    await until(() => document.querySelector('#saved li[data-id]'), 'the import');
    const after = await classifyAll(heldOut.map((h) => h.f));
    expect(JSON.stringify(after) === JSON.stringify(before), `after import ${after} vs ${before}`);
  });

  return { steps };
}
