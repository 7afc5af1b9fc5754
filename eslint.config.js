// ESLint for the TypeScript side (`make test` fails on a violation): the recommended rules of ESLint
// and typescript-eslint. Formatting is Prettier's (.prettierrc.json), not ESLint's.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".venv/**", ".tunekit/**", "test-output/**", "worker/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_name` marks a value left out on purpose (a rest sibling dropped from an object, an unused parameter)
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_", ignoreRestSiblings: true }],
    },
  },
  { files: ["src/web/**"], languageOptions: { globals: { ...globals.browser } } },
);
