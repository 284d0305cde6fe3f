import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Only the kernel layer may reach the operating system (FFI, child processes); everything above it is
// tested against a fake of that layer, so the boundary is enforced here rather than by convention.
const sideEffectModules = ['koffi', 'node:child_process', 'child_process'];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'scripts/*.mjs', 'lab/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/kernel/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: sideEffectModules.map((name) => ({ name, message: 'Only src/kernel/ may make syscalls or spawn processes.' })) },
      ],
    },
  },
  {
    files: ['src/netlink/**/*.ts', 'src/can/**/*.ts', 'src/cannelloni/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', '!node:buffer'], message: 'Codecs are pure: no I/O modules.' },
            { group: ['../kernel/*', '../cli/*'], message: 'Codecs import nothing above them.' },
          ],
        },
      ],
    },
  },
  {
    // The bus model is desired state as data: pure, and below everything that acts on it.
    files: ['src/bus/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', '!node:crypto', '!node:buffer'], message: 'The bus model is pure: no I/O modules.' },
            {
              group: [
                '../kernel/*',
                '../reconcile/*',
                '../state/*',
                '../service/*',
                '../cli/*',
                '../docker/*',
                '../cni/*',
                '../netavark/*',
                '../control/*',
              ],
              message: 'The bus model imports only codecs and errors.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/reconcile/**/*.ts', 'src/state/**/*.ts', 'src/service/**/*.ts', 'src/tunnel/**/*.ts', 'src/timing/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: sideEffectModules.map((name) => ({ name, message: 'Only src/kernel/ may make syscalls or spawn processes.' })),
          patterns: [
            {
              group: ['../cli/*', '../docker/*', '../cni/*', '../netavark/*', '../control/*', '../daemon/*'],
              message: 'The core never imports a front door.',
            },
          ],
        },
      ],
    },
  },
  {
    // The transport carries JSON over sockets for any protocol: it knows nothing of buses or of who calls it.
    files: ['src/transport/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: sideEffectModules.map((name) => ({ name, message: 'Only src/kernel/ may make syscalls or spawn processes.' })),
          patterns: [
            {
              group: ['../*/*', '!../metrics/*'],
              message: 'The transport imports only the shared errors, the log and the metrics text format.',
            },
          ],
        },
      ],
    },
  },
  {
    // Front doors sit below the composition root (daemon/) and the commands (cli/).
    files: ['src/docker/**/*.ts', 'src/control/**/*.ts', 'src/cni/**/*.ts', 'src/netavark/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: sideEffectModules.map((name) => ({ name, message: 'Only src/kernel/ may make syscalls or spawn processes.' })),
          patterns: [{ group: ['../daemon/*', '../cli/*'], message: 'Front doors never import the daemon or the commands.' }],
        },
      ],
    },
  },
  {
    // node:test's describe/it return promises the runner awaits; fixtures index into known arrays.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
