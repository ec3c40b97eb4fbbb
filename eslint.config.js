// Type-aware lint for src/, test/ and bench/ (style-anchors rule 10).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import esperRules from './eslint-rules/layers.js';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.esper/**', '.scratch/**', 'bin/**', 'eslint.config.js', 'eslint-rules/**', '**/*.mjs', 'src/dashboard/page/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/explicit-module-boundary-types': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      'no-console': 'error',
    },
  },
  {
    // The layer map (docs/architecture.md): imports point down, subsystems meet through index.ts.
    files: ['src/**/*.ts'],
    plugins: { esper: esperRules },
    rules: { 'esper/layers': 'error' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/explicit-module-boundary-types': 'off',
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-console': 'off',
    },
  },
);
