import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["lab/**/*.test.ts", "evals/**/*.test.ts", "notebooks/**/*.test.ts"],
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default"],
  },
});
