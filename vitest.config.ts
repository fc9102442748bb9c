import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native backends hold file handles and a tokio runtime per process; forks isolate them.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
