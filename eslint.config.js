// ESLint (flat config): typescript-eslint's recommended rules, syntax only (no type information, so it stays
// fast), tuned for this code base. `npm run lint`.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** What the plain-JavaScript build scripts and configs use of Node's globals. */
const NODE_GLOBALS = ['process', 'console', 'Buffer', 'URL', 'setTimeout', 'clearTimeout', 'require', 'module', '__dirname', '__filename'];

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'native/build/', 'plugins/cni/validators.generated.ts'] },
  // A disable comment that no longer disables anything is an error too.
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // `_`-prefixed names are deliberately unused (an argument a signature needs, a key dropped from a rest copy).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // `interface XOptions extends SocketOptions {}` names a type on purpose; an empty `{}` without a base is still flagged.
      '@typescript-eslint/no-empty-object-type': ['error', { allowInterfaces: 'with-single-extends' }],
    },
  },
  {
    // Plain JavaScript build scripts and configs run on Node.
    files: ['**/*.mjs', '**/*.cjs', '**/*.js'],
    languageOptions: { globals: Object.fromEntries(NODE_GLOBALS.map((g) => [g, 'readonly'])) },
  },
  {
    // Tests read `ip -j`, netlink dumps and CNI results as loose JSON; `any` there is the honest type.
    files: ['**/*.test.ts', 'netns-tests/**', 'bench/**', '**/testdata/**', '**/fixtures/**', '**/testing/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
