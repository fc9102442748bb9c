import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native backends hold file handles and a tokio runtime per process; forks isolate them.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Compile-time tests of the public types (test/*.test-d.ts) run with every `vitest run`.
    typecheck: {
      enabled: true,
      include: ['test/**/*.test-d.ts'],
      tsconfig: 'test/tsconfig.json',
    },
  },
})
