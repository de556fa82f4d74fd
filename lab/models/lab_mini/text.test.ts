/**
 * lab-mini's deterministic normaliser on generic phrasings (written for this test, not taken from the catalog):
 * numbers in words and shorthand, relative periods, connectors between periods, a second period counted back from
 * the first, and phrasings that must stay as they are. Each case asserts the whole `normalise` result.
 */
import { describe, expect, it } from "vitest";
import { type Normalised, normalise, type Period, plainNumbers } from "./_text.ts";

const m = (offset: number): Period => ({ kind: "relative", unit: "month", offset });
const q = (offset: number): Period => ({ kind: "relative", unit: "quarter", offset });
const y = (offset: number): Period => ({ kind: "relative", unit: "year", offset });
const ge = (value: number) => ({ op: ">=" as const, value });
const gt = (value: number) => ({ op: ">" as const, value });
const lt = (value: number) => ({ op: "<" as const, value });
const r = (tokens: string, periods: Period[] = [], cmps: Normalised["cmps"] = [], n?: number): Normalised => ({ periods, n, cmps, tokens: tokens.split(" ") });

const CASES: [string, Normalised][] = [
  // numbers written in words or shorthand
  ["parcels heavier than twenty thousand grams", r("parcels heavier than 20000 grams")],
  ["loans above twenty-five thousand", r("loans <cmp>", [], [gt(25000)])],
  ["donations of two hundred and fifty or more", r("donations of <cmp>", [], [ge(250)])],
  ["grants over a quarter of a million", r("grants <cmp>", [], [gt(250000)])],
  ["estates worth at least half a million", r("estates worth <cmp>", [], [ge(500000)])],
  ["projects budgeted above 1.5 million", r("projects budgeted <cmp>", [], [gt(1500000)])],
  ["contracts under 1.5m", r("contracts <cmp>", [], [lt(1500000)])],
  ["deals bigger than $1.2M", r("deals <cmp>", [], [gt(1200000)])],
  ["salaries of $20k or more", r("salaries of <cmp>", [], [ge(20000)])],
  ["orders below 20K", r("orders <cmp>", [], [lt(20000)])],
  ["the top dozen clubs by members", r("the top <n> clubs by members", [], [], 12)],
  ["the fifteen largest lakes", r("the <n> largest lakes", [], [], 15)],
  ["the leading three rivers by length", r("the leading <n> rivers by length", [], [], 3)],
  ["show the 4 towns with the most rain", r("show the <n> towns with the most rain", [], [], 4)],
  ["the 4 towns near the coast", r("the 4 towns near the coast")],
  ["the first 3 months of rain", r("the first 3 months of rain")],
  ["ninety-nine bottles and a thousand cups", r("99 bottles and 1000 cups")],
  ["one million two hundred thousand visitors", r("1200000 visitors")],
  ["bikes with a rating of 12.5 or less", r("bikes with a rating of <cmp>", [], [{ op: "<=", value: 12.5 }])],
  ["trees taller than ≥ 20k", r("trees taller than <cmp>", [], [ge(20000)])],
  ["rooms with at least one window", r("rooms with <cmp> window", [], [ge(1)])],
  // relative periods
  ["rainfall the prior month", r("rainfall the <time>", [m(1)])],
  ["visits the preceding quarter", r("visits the <time>", [q(1)])],
  ["sales the month before last", r("sales the <time>", [m(2)])],
  ["members a month ago", r("members <time>", [m(1)])],
  ["stock a year ago", r("stock <time>", [m(12)])],
  ["prices half a year ago", r("prices <time>", [m(6)])],
  ["trips last calendar quarter", r("trips <time>", [q(1)])],
  ["revenue YTD", r("revenue <time>", [y(0)])],
  ["signups month to date", r("signups <time>", [m(0)])],
  ["spend quarter-to-date", r("spend <time>", [q(0)])],
  ["rentals the same month a year earlier", r("rentals <time>", [m(12)])],
  ["bookings the same quarter a year ago", r("bookings <time>", [q(4)])],
  ["pageviews three months ago", r("pageviews <time>", [m(3)])],
  ["calls in the last 2 weeks", r("calls in the <time>", [{ kind: "days", days: 14 }])],
  // connectors between two periods, the second counted back from the first
  ["rainfall two months ago vs the prior month", r("rainfall <time> <vs> the <time>", [m(2), m(3)])],
  ["yield last quarter relative to the quarter before it", r("yield <time> <vs> the <time>", [q(1), q(2)])],
  ["visitors this month against one month earlier", r("visitors <time> <vs> <time>", [m(0), m(1)])],
  ["attendance last month compared with a year earlier", r("attendance <time> <vs> <time>", [m(1), m(13)])],
  ["output this quarter versus the same quarter last year", r("output <time> <vs> <time>", [q(0), q(4)])],
  ["costs in 2023 vs. the previous year", r("costs in <time> <vs> the <time>", [{ kind: "year", year: 2023 }, { kind: "year", year: 2022 }])],
  ["mileage last month over the preceding month", r("mileage <time> <vs> the <time>", [m(1), m(2)])],
  ["membership month-over-month for the month before last", r("membership <vs> for the <time>", [m(2)])],
  ["QoQ growth this quarter", r("<vs> growth <time>", [q(0)])],
  ["energy use this quarter year over year", r("energy use <time> <vs>", [q(0), q(4)])],
  ["the quarter to date compared to the quarter right before", r("the <time> <vs> the <time>", [q(0), q(1)])],
  // phrasings that must not change
  ["one of the rooms", r("one of the rooms")],
  ["pick the one with a view", r("pick the one with a view")],
  ["a quarter of the staff", r("a quarter of the staff")],
  ["half of the fleet", r("half of the fleet")],
  ["tasks done before last week", r("tasks done before last week")],
  ["prior to the move", r("prior to the move")],
  ["trucks over the bridge", r("trucks over the bridge")],
  ["the month before", r("the month before")],
];

describe("lab-mini normaliser", () => {
  it("reads numbers, periods, connectors and comparisons in generic phrasings", () => {
    const got = CASES.map(([text]) => [text, normalise(text)]);
    expect(got).toEqual(CASES);
  });

  it("rewrites numbers into digits and leaves other words alone", () => {
    expect(["twenty-five thousand", "a dozen eggs", "three quarters of a million", "2 dozen", "$1.2M", "one of them", "a year", "12.5%"].map(plainNumbers))
      .toEqual(["25000", "12 eggs", "750000", "24", "$1200000", "one of them", "a year", "12p5%"]);
  });
});
