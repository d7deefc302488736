// The three browser engines the tests drive, behind one small interface:
//   const b = await launch('chromium' | 'firefox' | 'webkit');
//   const p = await b.open(url, { onLog });   // onLog(text) gets errors and warnings
//   await p.evaluate('window.glimpseDone')      // an expression; a promise is awaited
//   await p.goto(url)                           // the same tab, the same profile
//   await p.close(); await b.close();
// Chromium: Debian's, through playwright-core. Firefox: Debian's firefox-esr through puppeteer-core
// over WebDriver BiDi. WebKit: WebKitGTK's MiniBrowser through WebKitWebDriver (the W3C WebDriver
// protocol over HTTP, spoken here directly), on a virtual display (Xvfb) when there is none.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import http from 'node:http';

/** The engines and where their browsers are. */
export const ENGINES = ['chromium', 'firefox', 'webkit'];

/** Starts `name`; `args` are extra command-line switches (Chromium only). */
export async function launch(name, { args = [] } = {}) {
  if (name === 'chromium') return chromiumEngine(args);
  if (name === 'firefox') return firefoxEngine();
  if (name === 'webkit') return webkitEngine();
  throw new Error(`unknown browser engine '${name}'; expected one of ${ENGINES.join(', ')}`);
}

async function chromiumEngine(args) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage', ...args],
  });
  return {
    name: 'chromium',
    version: browser.version(),
    playwright: browser,
    open: (url, options) => openPage(browser, url, { ...options, warning: 'warning' }),
    close: () => browser.close(),
  };
}

async function firefoxEngine() {
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: process.env.FIREFOX ?? '/usr/bin/firefox-esr',
    headless: true,
    protocolTimeout: 900_000,
    // WebGPU is off by default in Firefox ESR on Linux; on, it gets an adapter (Mesa's).
    extraPrefsFirefox: { 'dom.webgpu.enabled': true, 'gfx.webgpu.ignore-blocklist': true },
  });
  return {
    name: 'firefox',
    version: await browser.version(),
    open: (url, options) => openPage(browser, url, { ...options, warning: 'warn' }),
    close: () => browser.close(),
  };
}

// A tab of a playwright or puppeteer browser (the same page API for what is used here); their
// console names warnings `warning` and `warn`.
async function openPage(browser, url, { onLog = () => {}, warning }) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => onLog(`page error: ${e}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === warning) onLog(`console ${m.type()}: ${m.text()}`);
  });
  await page.goto(url);
  return {
    page,
    goto: (u) => page.goto(u),
    evaluate: (expr) => page.evaluate(expr),
    screenshot: (path) => page.screenshot({ path }),
    close: () => page.close(),
  };
}

const MINIBROWSER = ['/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser', '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.0/MiniBrowser'];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// One JSON request to WebKitWebDriver (node:http: fetch's 300 s header timeout would cut a long
// script short), failing after `ms`.
function request(base, method, path, body, ms) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(`${base}${path}`, { method, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          reject(new Error(`WebKitWebDriver ${method} ${path}: HTTP ${res.statusCode}, not JSON`));
          return;
        }
        if (res.statusCode >= 400) reject(new Error(`WebKitWebDriver ${method} ${path}: ${json.value?.error}: ${json.value?.message}`));
        else resolve(json.value);
      });
    });
    req.setTimeout(ms, () => req.destroy(new Error(`WebKitWebDriver ${method} ${path}: no answer in ${ms / 1000} s`)));
    req.on('error', reject);
    req.end(data);
  });
}

// WebKitWebDriver on a free port (under Xvfb when there is no display), answering /status.
async function startDriver() {
  const port = await freePort();
  const cmd = process.env.DISPLAY ? ['WebKitWebDriver', `--port=${port}`] : ['xvfb-run', '-a', 'WebKitWebDriver', `--port=${port}`];
  const driver = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let log = '';
  driver.stderr.on('data', (d) => (log += d));
  const base = `http://127.0.0.1:${port}`;
  const stop = () => {
    try {
      process.kill(-driver.pid, 'SIGTERM');
    } catch {}
  };
  for (let i = 0; ; i++) {
    try {
      await request(base, 'GET', '/status', undefined, 2000);
      return { base, stop };
    } catch (e) {
      if (i > 100) {
        stop();
        throw new Error(`WebKitWebDriver did not start: ${e.message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

// WebKit: one MiniBrowser session for the engine's life, each open() a fresh page load in it
// (starting MiniBrowser is what occasionally hangs, so it happens once, with one retry).
async function webkitEngine() {
  const binary = process.env.MINIBROWSER ?? MINIBROWSER.find((p) => existsSync(p));
  if (!binary) throw new Error(`no MiniBrowser: looked in ${MINIBROWSER.join(', ')} (apt-get install webkit2gtk-driver)`);
  let driver = null;
  let id = null;
  const call = (method, path, body, ms = 900_000) => request(driver.base, method, path, body, ms);
  const session = async () => {
    for (let attempt = 0; ; attempt++) {
      driver = await startDriver();
      try {
        const s = await call('POST', '/session', {
          capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { binary, args: ['--automation'] } } },
        }, 120_000);
        await call('POST', `/session/${s.sessionId}/timeouts`, { script: 900_000, pageLoad: 120_000 });
        return s;
      } catch (e) {
        driver.stop();
        if (attempt >= 1) throw e;
      }
    }
  };
  const engine = {
    name: 'webkit',
    version: null,
    async open(url) {
      if (!id) {
        const s = await session();
        id = s.sessionId;
        engine.version = s.capabilities.browserVersion;
      }
      await call('POST', `/session/${id}/url`, { url }, 180_000);
      return {
        goto: (u) => call('POST', `/session/${id}/url`, { url: u }, 180_000),
        // The expression's value (awaited), as JSON; a rejection becomes an Error here.
        async evaluate(expr) {
          const out = await call('POST', `/session/${id}/execute/async`, {
            script: `const done = arguments[arguments.length - 1];
              Promise.resolve(${expr}).then((v) => done({ ok: true, v }), (e) => done({ ok: false, e: String(e && e.stack || e) }));`,
            args: [],
          });
          if (!out.ok) throw new Error(out.e);
          return out.v;
        },
        async screenshot() {},
        // The session stays for the next page.
        close: () => call('POST', `/session/${id}/url`, { url: 'about:blank' }, 60_000).catch(() => {}),
      };
    },
    async close() {
      if (id) await call('DELETE', `/session/${id}`, undefined, 30_000).catch(() => {});
      driver?.stop();
    },
  };
  return engine;
}
