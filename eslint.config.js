// ESLint (flat config) over the project's JS: the npm package (pkg/), the page (www/, sw.js), the
// scripts, tests and benches. Rules that catch mistakes, none about formatting; the types are
// checked apart (tests/types/check.mjs). Run: node node_modules/eslint/bin/eslint.js .
import js from '@eslint/js';
import globals from 'globals';

export default [
  {
    // Generated or vendored: the wasm-bindgen glue and the bundled entries, installed packages, the built site, bench
    // scratch files, the type check's generated inputs, build and fuzz outputs.
    ignores: [
      'pkg/wasm*/', 'pkg/*.bundle.js', '**/node_modules/', 'site/', '**/site/', 'bench/scratch/', '**/tests/types/impl/',
      'target/', 'fuzz/', '.venv/',
    ],
  },
  js.configs.recommended,
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    languageOptions: { ecmaVersion: 'latest', sourceType: 'module' },
    rules: {
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-unused-vars': ['error', {
        args: 'after-used', argsIgnorePattern: '^_', varsIgnorePattern: '^_',
        caughtErrors: 'none', ignoreRestSiblings: true,
      }],
      'prefer-const': ['error', { destructuring: 'all' }],
      'no-var': 'error',
      // Deliberately empty catches (best-effort cleanup) are common here; empty blocks are not.
      'no-empty': ['error', { allowEmptyCatch: true }],
      'no-self-compare': 'error',
      'no-template-curly-in-string': 'error',
      'no-unmodified-loop-condition': 'error',
      'no-unreachable-loop': 'error',
      'no-constructor-return': 'error',
      'array-callback-return': 'error',
      // Not on: no-implicit-globals (sw.js is the only classic script, and a service worker's
      // global scope is its own); no-promise-executor-return (flags every
      // `new Promise((r) => setTimeout(r, ms))`); no-shadow (page.evaluate callbacks take
      // arguments named like the driver's variables on purpose).
    },
  },
  // The browser: the package and the page (module scripts, their workers), the in-browser test
  // pages and the browser bench.
  {
    files: [
      'pkg/**/*.js', 'www/**/*.js', 'tests/browser/**/*.js', 'tests/consumer/**/*.js',
      'bench/browser/**/*.js',
    ],
    languageOptions: { globals: { ...globals.browser, ...globals.worker } },
  },
  // The service worker: a classic script (registered without type: 'module').
  {
    files: ['sw.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.serviceworker } },
  },
  // Node: the scripts, the test drivers and benches, the config itself.
  {
    files: ['**/*.mjs', 'scripts/**/*.js', 'eslint.config.js'],
    languageOptions: { globals: { ...globals.node } },
  },
  // The drivers that hand functions to page.evaluate: those run in the page, so the page's names
  // they use are known too (only these, not all of the browser's: `name`, `status` and the like
  // would hide undefined names in the Node code).
  {
    files: ['tests/browser/*.mjs', 'tests/consumer/*.mjs', 'bench/**/*.mjs'],
    languageOptions: {
      globals: Object.fromEntries(
        ['window', 'document', 'innerWidth', 'caches', 'createImageBitmap', 'OffscreenCanvas', 'ImageData']
          .map((n) => [n, 'readonly']),
      ),
    },
  },
];
