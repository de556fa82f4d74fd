/**
 * The mutation fuzzer of fuzz.test.ts at 10× the mutations per base case (~7k variants on the tiny sandbox; reads
 * with few tokens run out of distinct spellings, so it is ~7× the test's count, not exactly 10×). Prints the
 * meaning-check mismatches, the counts (generated, refused, accepted, failed, database changes outside the
 * allowed tables) and the failures per class. No target: it is a larger net than the test, reported.
 *
 * `./node_modules/.bin/deno bench -A lab/tools/fuzz_bench.ts`
 */
import { ensureSandbox, SandboxPool } from "../sandbox/mod.ts";
import { formatReport, fuzzAgainstPlain, generateVariants } from "./_fuzz.ts";

const SEED = 11;
const SCALE = 10;

const { path } = await ensureSandbox({ scale: "tiny" });
const t0 = performance.now();
const variants = generateVariants({ seed: SEED, scale: SCALE });
console.log(`fuzz bench: ${variants.length} variants (seed ${SEED}, scale ${SCALE}) generated in ${(performance.now() - t0).toFixed(0)} ms`);

{
  await using pool = await SandboxPool.open(path, { size: 2, memoryLimit: "256MB" });
  await pool.warm(1, 2);
  let last = 0;
  const { meaning, report } = await fuzzAgainstPlain(pool, path, variants, {
    onProgress: (done, total) => {
      if (done - last >= 1000 || done === total) console.log(`  ${(last = done)}/${total}`);
    },
  });
  console.log(`meaning check (plain DuckDB copy): ${meaning.mismatches.length} of ${variants.length} variants differ from their base`);
  for (const m of meaning.mismatches.slice(0, 5)) console.log(`  ${m.variant.name}: ${JSON.stringify(m.variant.sql)}`);
  console.log(formatReport(report, 3));
}

Deno.bench("generate the test's fuzz variants (scale 1)", () => {
  generateVariants({ seed: SEED });
});
