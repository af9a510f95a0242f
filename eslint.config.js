// Flat ESLint config. Module boundaries from the architecture map are enforced here, not by review.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const io = ['node:net', 'node:dgram', 'node:http', 'node:https', 'node:tls', 'node:fs', 'node:child_process'];
const k8s = ['@kubernetes/client-node'];
const web = ['express'];

/** @param {string[]} paths @param {string[]} patterns */
const restrict = (paths, patterns = []) => ({
  'no-restricted-imports': [
    'error',
    {
      paths: paths.map((name) => ({ name, message: 'this layer is pure / must not depend on it (see docs/architecture)' })),
      patterns: patterns.map((group) => ({ group: [group], message: 'module boundary (architecture map)' })),
    },
  ],
});

export default tseslint.config(
  { ignores: ['node_modules/**', '.lab/**', 'coverage/**', 'dist/**', 'native/build/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', AbortController: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly', performance: 'readonly', fetch: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  // Pure layers: no I/O, no Kubernetes client, no express, no console.
  {
    files: ['src/allocator/**/*.ts', 'src/shared/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-console': 'error', ...restrict([...io, ...k8s, ...web], ['**/api/*', '**/config/*', '**/kube/*', '**/webhook/*', '**/controller/*', '**/cli/*', '**/lab/*']) },
  },
  {
    files: ['src/config/**/*.ts', 'src/api/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-console': 'error', ...restrict([...io, ...k8s, ...web], ['**/kube/*', '**/webhook/*', '**/controller/*', '**/cli/*', '**/lab/*']) },
  },
  // The BGP wire codec is pure (architecture map: only the session edge owns sockets and timers).
  {
    files: ['src/speaker/bgp/wire/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-console': 'error', ...restrict([...io, ...k8s, ...web], ['**/kube/*', '**/webhook/*', '**/controller/*', '**/cli/*', '**/lab/*']) },
  },
  // webhook, controller never import each other; only kube/ talks to the API server.
  {
    files: ['src/webhook/**/*.ts'],
    ignores: ['**/*.test.ts', 'src/webhook/main.ts'],
    rules: restrict(k8s, ['**/controller/*', '**/cli/*', '**/lab/*']),
  },
  // Only main.ts (and the webhook's kube adapter) reach the API server; pure files take injected interfaces and may
  // import kube/ types only.
  {
    files: ['src/webhook/**/*.ts', 'src/controller/**/*.ts'],
    ignores: ['**/*.test.ts', '**/main.ts', 'src/webhook/kube-io.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/kube/*'], allowTypeImports: true, message: 'only main.ts does I/O (architecture map)' }] },
      ],
    },
  },
  {
    files: ['src/controller/**/*.ts'],
    ignores: ['**/*.test.ts', 'src/controller/main.ts'],
    rules: restrict([...k8s, ...web], ['**/webhook/*', '**/cli/*', '**/lab/*']),
  },
);
