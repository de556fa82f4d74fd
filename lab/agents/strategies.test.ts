import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import {
  DEFAULT_FITNESS,
  getStrategy,
  loadStrategiesConfig,
  parseStrategiesConfig,
  STRATEGIES_CONFIG_PATH,
  STRATEGIES_SCHEMA_PATH,
  strategiesJsonSchema,
  systemPrompt,
  TOOL_NAMES,
} from "./mod.ts";
import { readStrategy } from "../models/mod.ts";
import { ConfigError } from "../util/mod.ts";

const text = await Deno.readTextFile(STRATEGIES_CONFIG_PATH);

// Edits reach into arbitrary nesting of parsed YAML; a precise type would only restate the schema.
// deno-lint-ignore no-explicit-any
type Raw = Record<string, any>;

/** The committed file with one change applied. */
function edited(change: (raw: Raw) => void): string {
  const raw = parse(text);
  change(raw);
  return stringify(raw);
}

describe("configs/strategies.yaml", () => {
  it("holds seed 000's five strategies as data with their characteristic settings", async () => {
    const cfg = await loadStrategiesConfig();
    expect(Object.keys(cfg.strategies)).toEqual(["alpha", "beta", "gamma", "delta", "epsilon"]);
    const { alpha, beta, gamma, delta, epsilon } = cfg.strategies;
    expect(alpha).toMatchObject({ id: "alpha", tools: { prefer_views: true }, verification: { verify_steps: false } });
    expect(beta.tools.prefer_views).toBe(false);
    expect(delta).toMatchObject({ tools: { use_todos: true }, verification: { verify_steps: true } });
    // Conservative samples coolest, experimental hottest; aggressive checks less (fewer steps) than methodical.
    const temps = [alpha, gamma, beta, epsilon].map((s) => s.sampling.temperature);
    expect(temps).toEqual([...temps].sort((a, b) => a - b));
    expect(epsilon.sampling.top_p).toBe(1);
    expect(beta.budgets.max_steps).toBeLessThan(delta.budgets.max_steps);
    // Defaults filled in.
    for (const s of Object.values(cfg.strategies)) {
      expect(s.tools.allowed).toEqual([...TOOL_NAMES]);
      expect(s.sampling.n).toBe(1);
      expect(s.examples.k).toBe(3);
      expect(s.prompt.fragments.prefer_views.length).toBeGreaterThan(20);
    }
  });

  it("has the fitness weights the code defaults to", async () => {
    expect((await loadStrategiesConfig()).fitness).toEqual(DEFAULT_FITNESS);
  });

  it("has an up-to-date committed JSON schema (regenerate: deno run -A lab/agents/strategies.ts)", async () => {
    expect(JSON.parse(await Deno.readTextFile(STRATEGIES_SCHEMA_PATH))).toEqual(strategiesJsonSchema());
  });

  it("rejects invalid strategies with the file, the path and the reason", () => {
    const cases: [(raw: Raw) => void, RegExp][] = [
      [
        (r) => (r.strategies.alpha.sampling.temperature = 3),
        /^x\.yaml: strategies\.alpha\.sampling\.temperature: must be ≤ 2$/,
      ],
      [
        (r) => (r.strategies.beta.tools = { allowed: ["dbRead"] }),
        /^x\.yaml: strategies\.beta\.tools\.allowed: must include submitAnswer/,
      ],
      [
        (r) => (r.strategies.beta.tools = { allowed: ["dbRead", "rmRf", "submitAnswer"] }),
        /^x\.yaml: strategies\.beta\.tools\.allowed\[1\]: /,
      ],
      [
        (r) => (r.strategies.gamma.budgets.max_steps = 0),
        /^x\.yaml: strategies\.gamma\.budgets\.max_steps: must be > 0$/,
      ],
      [(r) => delete r.strategies.delta.budgets, /^x\.yaml: strategies\.delta\.budgets: /],
      [(r) => (r.strategies.delta.risk_tolerance = "low"), /^x\.yaml: strategies\.delta: .*risk_tolerance/],
      [(r) => (r.strategies.epsilon.sampling.n = 0), /^x\.yaml: strategies\.epsilon\.sampling\.n: must be ≥ 1$/],
      [(r) => (r.strategies.Bad = r.strategies.alpha), /^x\.yaml: strategies\.Bad: strategy ids are lowercase/],
      [
        (r) => (r.fitness.composite.query = 0.7),
        /^x\.yaml: fitness\.composite: composite weights \(query \+ turn\) must sum to 1, found 1\.1$/,
      ],
      [(r) => (r.fitness.turn.weights.safety = 0.5), /^x\.yaml: fitness\.turn\.weights: turn weights .* must sum to 1/],
      [(r) => delete r.prompt.fragments.verify_steps, /^x\.yaml: prompt\.fragments\.verify_steps: /],
    ];
    for (const [change, message] of cases) {
      expect(() => parseStrategiesConfig(edited(change), "x.yaml")).toThrow(message);
      expect(() => parseStrategiesConfig(edited(change), "x.yaml")).toThrow(ConfigError);
    }
    expect(() => parseStrategiesConfig("strategies: [", "x.yaml")).toThrow(/^x\.yaml: not valid YAML/);
  });

  it("names the known strategies when one is missing", async () => {
    expect(() => getStrategy(parseStrategiesConfig(text, "s.yaml"), "zeta")).toThrow(
      "s.yaml: no strategy named 'zeta'; known strategies: alpha, beta, gamma, delta, epsilon",
    );
    await expect(loadStrategiesConfig("/nonexistent/strategies.yaml")).rejects.toThrow(
      /cannot read the strategies config/,
    );
  });
});

describe("strategy prompts and lab-mini", () => {
  it("switch exactly the lab-mini behaviours each strategy's flags mean (keywords in the system prompt)", async () => {
    const cfg = await loadStrategiesConfig();
    const switches = Object.values(cfg.strategies).map((s) => {
      const r = readStrategy(
        systemPrompt({ strategy: s, task: "What was our revenue this month?", role: "cfo", asOf: "2025-11-28" }),
      );
      return [s.id, { views: r.views, todo: r.todo, verify: r.verify, explore: r.explore }];
    });
    expect(Object.fromEntries(switches)).toEqual({
      alpha: { views: true, todo: false, verify: false, explore: false },
      beta: { views: false, todo: false, verify: false, explore: false },
      gamma: { views: true, todo: false, verify: false, explore: false },
      delta: { views: true, todo: true, verify: true, explore: false },
      epsilon: { views: false, todo: false, verify: false, explore: true },
    });
  });
});
