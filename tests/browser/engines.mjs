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

async function webkitEngine() {
  const binary = process.env.MINIBROWSER ?? MINIBROWSER.find((p) => existsSync(p));
  if (!binary) throw new Error(`no MiniBrowser: looked in ${MINIBROWSER.join(', ')} (apt-get install webkit2gtk-driver)`);
  const port = await freePort();
  // MiniBrowser needs a display: a virtual one unless there is one already.
  const cmd = process.env.DISPLAY ? ['WebKitWebDriver', `--port=${port}`] : ['xvfb-run', '-a', 'WebKitWebDriver', `--port=${port}`];
  const driver = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let driverLog = '';
  driver.stderr.on('data', (d) => (driverLog += d));
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, path, body) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await r.json();
    if (!r.ok) throw new Error(`WebKitWebDriver ${method} ${path}: ${json.value?.error}: ${json.value?.message}`);
    return json.value;
  };
  for (let i = 0; ; i++) {
    try {
      await call('GET', '/status');
      break;
    } catch (e) {
      if (i > 100) throw new Error(`WebKitWebDriver did not start: ${e.message}\n${driverLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const stop = () => {
    try {
      process.kill(-driver.pid, 'SIGTERM');
    } catch {}
  };
  const sessions = [];
  return {
    name: 'webkit',
    version: null,
    async open(url) {
      const s = await call('POST', '/session', {
        capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { binary, args: ['--automation'] } } },
      });
      const id = s.sessionId;
      sessions.push(id);
      this.version = s.capabilities.browserVersion;
      await call('POST', `/session/${id}/timeouts`, { script: 900_000, pageLoad: 120_000 });
      await call('POST', `/session/${id}/url`, { url });
      return {
        goto: (u) => call('POST', `/session/${id}/url`, { url: u }),
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
        async close() {
          await call('DELETE', `/session/${id}`).catch(() => {});
        },
      };
    },
    async close() {
      for (const id of sessions) await call('DELETE', `/session/${id}`).catch(() => {});
      stop();
    },
  };
}
