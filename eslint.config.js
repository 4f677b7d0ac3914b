// ESLint flat config: typescript-eslint's recommended rules on every TypeScript file (without type
// information, so linting the whole tree takes seconds, not minutes, on CI's 2 cores), with Prettier
// owning layout (eslint-config-prettier's rule is simply: no layout rules here, which recommended
// already follows). `npm run lint` runs this with --max-warnings 0.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'docs/api/', 'node_modules/', 'runs/', 'scratch/', 'test-artifacts/', '.gpu/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { ...globals.node, ...globals.browser } },
    rules: {
      // A leading underscore marks a parameter or binding kept for its position (an interface's
      // signature, a destructured slot), the convention TypeScript's own noUnusedParameters follows.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          caughtErrors: 'none',
        },
      ],
      // `ok && f()` and `c ? f() : g()` as statements are used on purpose in the demo's drawing code.
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
      // `const a = this` in matmul, `let x: Tensor = this` in pad and gather: the operands named as in
      // the math they implement.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['a', 'x'] }],
    },
  },
);
