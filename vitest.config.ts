import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Some suites spawn real processes (the broker, Java test-vector generators).
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
