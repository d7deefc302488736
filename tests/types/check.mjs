// The type check of the package's and the page's JavaScript (JSDoc, TypeScript's checker; no
// build step), then pkg/index.d.ts and pkg/client.d.ts held against the code (api.ts).
//   node tests/types/check.mjs        (needs the dev tools: npm ci, or scripts/browser-deps)
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
const started = Date.now();
const run = (config) => {
  const t0 = Date.now();
  try {
    execFileSync(process.execPath, [tsc, '-p', config], { cwd: repo, stdio: 'inherit' });
  } catch {
    console.error(`type check failed: tsc -p ${config}`);
    process.exit(1);
  }
  console.log(`ok   tsc -p ${config} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
};

// The page's code (index.js, client.js, ops.js, www/), then the workers' (other globals).
run('tsconfig.check.json');
run('tsconfig.check-worker.json');

// The package's modules `entries` import, themselves included (their relative imports, followed;
// the engine's generated glue aside), as paths in pkg/.
function modules(entries) {
  const seen = new Set();
  const visit = (f) => {
    if (seen.has(f)) return;
    seen.add(f);
    const text = readFileSync(join(repo, 'pkg', f), 'utf8');
    for (const [, spec] of text.matchAll(/^\s*(?:import|export)\b[^'";]*?from\s+'\.\/([^']+\.js)'/gm)) {
      if (!spec.startsWith('wasm')) visit(spec);
    }
    // Modules loaded when first used: `await import('./x.js')`.
    for (const [, spec] of text.matchAll(/\bimport\(\s*'\.\/([^']+\.js)'\s*\)/g)) {
      if (!spec.startsWith('wasm')) visit(spec);
    }
  };
  entries.forEach(visit);
  return [...seen];
}

// The declarations against the code: a copy of the JS without its .d.ts (see api.ts), the
// engine's generated glue types beside it (or their stand-ins before scripts/build-pkg).
const impl = join(repo, 'tests', 'types', 'impl');
rmSync(impl, { recursive: true, force: true });
try {
  mkdirSync(impl);
  for (const f of modules(['index.js', 'client.js'])) cpSync(join(repo, 'pkg', f), join(impl, f));
  for (const engine of ['wasm', 'wasm-cpu', 'wasm-threads']) {
    const built = join(repo, 'pkg', engine, 'glimpse.d.ts');
    mkdirSync(join(impl, engine));
    cpSync(existsSync(built) ? built : join(repo, 'tests', 'types', 'engine', engine, 'glimpse.d.ts'), join(impl, engine, 'glimpse.d.ts'));
  }
  run('tests/types/tsconfig.json');
} finally {
  rmSync(impl, { recursive: true, force: true });
}
console.log(`the JS type-checks and matches pkg/index.d.ts and pkg/client.d.ts (${((Date.now() - started) / 1000).toFixed(1)} s)`);
