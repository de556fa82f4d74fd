import { tableFromArrays } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { barChart, chart, htmlTable, JUPYTER_DISPLAY, lineChart, renderSvg, type VegaLiteSpec } from "./mod.ts";

const runs = [
  { generation: 1, fitness: 0.4, arm: "base" },
  { generation: 2, fitness: 0.52, arm: "base" },
  { generation: 1, fitness: 0.45, arm: "patterns" },
  { generation: 2, fitness: 0.66, arm: "patterns" },
];

describe("htmlTable", () => {
  it("escapes markup in cells, headers and caption so a <script> shows as text", () => {
    const table = htmlTable([{ "<b>col</b>": "<script>alert('x')</script>" }], { caption: "a & b <i>" });
    expect(table.html).not.toContain("<script>");
    expect(table.html).not.toContain("<b>col</b>");
    expect(table.html).toContain("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
    expect(table.html).toContain("&lt;b&gt;col&lt;/b&gt;");
    expect(table.html).toContain("a &amp; b &lt;i&gt;");
    expect(table.text).toContain("<script>alert('x')</script>");
  });

  it("displays in Jupyter as text/html and text/plain", () => {
    const bundle = htmlTable(runs)[JUPYTER_DISPLAY]();
    expect(Object.keys(bundle).sort()).toEqual(["text/html", "text/plain"]);
    expect(bundle["text/html"]).toMatch(/^<table/);
  });

  it("right-aligns and formats numbers, leaves text left-aligned and marks nulls", () => {
    const table = htmlTable([
      { id: 7, amount: 1042.123456, name: "acme", note: null, big: 12345678901234567890n },
      { id: 12, amount: 0.5, name: "globex", note: "late", big: 1n },
    ]);
    expect(table.html).toMatch(/<td style="[^"]*text-align:right;[^"]*">1042\.1235<\/td>/);
    expect(table.html).toMatch(/<td style="[^"]*text-align:right;[^"]*">12345678901234567890<\/td>/);
    expect(table.html).toMatch(/<td style="[^"]*text-align:left;[^"]*">acme<\/td>/);
    expect(table.html).toMatch(/<td style="[^"]*color:#999;[^"]*">null<\/td>/);
    expect(table.text).toBe(
      [
        "id     amount  name    note                   big",
        "--  ---------  ------  ----  --------------------",
        " 7  1042.1235  acme    null  12345678901234567890",
        "12        0.5  globex  late                     1",
        "(2 rows)",
      ].join("\n"),
    );
  });

  it("shows at most maxRows rows and says how many there are", () => {
    const rows = Array.from({ length: 120 }, (_, i) => ({ i }));
    const table = htmlTable(rows, { maxRows: 5 });
    expect(table.html.match(/<tr>/g)?.length).toBe(1 + 5 + 1); // header, rows, footer
    expect(table.html).toContain("5 of 120 rows shown");
  });

  it("accepts an apache-arrow Table, taking columns and numeric alignment from its schema", () => {
    const arrow = tableFromArrays({
      level: Int32Array.from([1, 2]),
      score: Float64Array.from([0.9, 0.6125]),
      name: ["easy", "medium"],
    });
    const table = htmlTable(arrow);
    expect(table.text).toBe(
      ["level   score  name", "-----  ------  ------", "    1     0.9  easy", "    2  0.6125  medium", "(2 rows)"].join(
        "\n",
      ),
    );
    expect(table.html).toContain('text-align:right;">level</th>');
  });

  it("keeps the columns of an empty Arrow table", () => {
    const table = htmlTable(tableFromArrays({ a: Int32Array.from([]) }));
    expect(table.text).toBe(["a", "-", "(0 rows)"].join("\n"));
  });

  it("rejects what is neither rows nor a table, naming what it found", () => {
    expect(() => htmlTable("nope" as never)).toThrow(/found string/);
  });
});

describe("charts", () => {
  it("renders an SVG with the marks and axis titles", async () => {
    const svg = await renderSvg(barChart(runs, { x: "arm", y: "fitness", color: "arm", title: "Fitness by arm" }));
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain('class="mark-rect role-mark marks"');
    expect(svg.match(/<path /g)?.length).toBeGreaterThan(4);
    expect(svg).toContain(">Fitness by arm</text>");
    expect(svg).toContain(">fitness</text>");
    expect(svg).toContain(">arm</text>");
  });

  it("renders the same SVG for the same spec, also when renders overlap", async () => {
    const spec: VegaLiteSpec = {
      ...lineChart(runs, { x: "generation", y: "fitness", color: "arm" }),
      mark: { type: "line", clip: true, point: true }, // clip paths get counter-based ids
    };
    const first = await renderSvg(spec);
    const again = await Promise.all([
      renderSvg(spec),
      renderSvg(spec),
      renderSvg(barChart(runs, { x: "arm", y: "fitness" })),
    ]);
    expect(first).toContain('clip-path="url(#clip1)"');
    expect(again[0]).toBe(first);
    expect(again[1]).toBe(first);
  });

  it("displays with the Vega-Lite spec, the SVG and a text fallback", async () => {
    const spec = lineChart(runs, { x: "generation", y: "fitness", color: "arm", title: "Fitness" });
    const bundle = (await chart(spec))[JUPYTER_DISPLAY]();
    expect(Object.keys(bundle).sort()).toEqual(["application/vnd.vegalite.v5+json", "image/svg+xml", "text/plain"]);
    expect(bundle["application/vnd.vegalite.v5+json"]).toMatchObject({
      $schema: "https://vega.github.io/schema/vega-lite/v5.json",
      data: { values: runs },
    });
    expect(bundle["image/svg+xml"]).toMatch(/^<svg/);
    expect(bundle["text/plain"]).toBe('<Chart "Fitness": line>');
  });

  it("infers encodings from the data and makes the spec plain JSON", () => {
    const rows = [{ day: new Date("2025-01-02T00:00:00Z"), n: 3n }, { day: new Date("2025-01-03T00:00:00Z"), n: 5n }];
    const spec = lineChart(rows, { x: "day", y: "n" });
    expect(spec).toMatchObject({
      mark: { type: "line", point: true },
      encoding: { x: { field: "day", type: "temporal" }, y: { field: "n", type: "quantitative" } },
      data: { values: [{ day: "2025-01-02T00:00:00.000Z", n: 3 }, { day: "2025-01-03T00:00:00.000Z", n: 5 }] },
    });
    expect(barChart(runs, { x: "generation", y: "fitness" })).toMatchObject({
      encoding: { x: { field: "generation", type: "ordinal", sort: null, axis: { labelAngle: 0 } } },
    });
    expect(lineChart(runs, { x: "generation", y: "fitness" })).toMatchObject({
      encoding: { x: { field: "generation", type: "quantitative", axis: { values: [1, 2], format: "d" } } },
    });
  });

  it("refuses a field that is not a column, listing the columns", () => {
    expect(() => barChart(runs, { x: "arm", y: "score" })).toThrow(
      'Chart field "score" is not a column; columns are: generation, fitness, arm',
    );
  });

  it("charts an apache-arrow Table", async () => {
    const arrow = tableFromArrays({ level: Int32Array.from([1, 2, 3]), pass: Float64Array.from([0.9, 0.7, 0.4]) });
    const svg = await renderSvg(barChart(arrow, { x: "level", y: "pass" }));
    expect(svg.match(/<path [^>]*aria-roledescription="bar"/g)?.length).toBe(3);
  });
});
