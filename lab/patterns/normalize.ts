/**
 * Intent normalization: the key patterns are stored, merged and retrieved under. Two requests that ask for the
 * same thing with different values ("revenue for March 2025" / "revenue for Q3 2024") normalize to the same
 * text, so their patterns merge and one retrieves the other.
 *
 * {@linkcode normalizeIntent} is deterministic and pure. It replaces, in this order, on the text as written:
 * 1. quoted strings (`'paid'`, `"Acme"`, curly quotes) → `<text>`
 * 2. dates (`2025-10-31`, `31/10/2025`, `March 31, 2025`, `31 March 2025`) → `<date>`
 * 3. periods: year-months (`2025-10`, `March 2025`), quarters and halves (`Q3 2025`, `Q3`, `H1`), fiscal years
 *    (`FY2025`), month names, relative periods (`last month`, `this quarter`, `two months ago`, `the same month
 *    last year`, `year to date`, `YTD`, `the last 30 days`) and a year after in/for/during/since → `<period>`
 * 4. money (`$1,234.50`, `€500`, `1 200 EUR`, `USD 10k`, `2.5 million dollars`) → `<amount>`
 * 5. codes: a token starting with a letter, with an upper-case letter and a digit, possibly joined by `-`, `_`
 *    or `/` (`INV-00123`, `PO-2024-7`, `SKU42`) → `<code>` (matched right after quotes, so a code's digits are
 *    not read as a date)
 * 6. percentages (`15%`, `15 percent`) → `<percent>`; other numbers and ordinals (`42`, `3.5`, `1,000`, `3rd`,
 *    `two`…`twenty`) → `<number>`
 * 7. proper names: a run of capitalised words (`Acme Corp`, `East Distribution Center`) not at the start of a
 *    sentence → `<name>`; at a sentence start a run of two or more capitalised words is a name too, a single
 *    capitalised word is just the first word. All-caps words (`AP`, `JSON`) are acronyms, not names.
 *
 * Then it lower-cases, drops punctuation and stopwords (articles, pronouns, auxiliaries, politeness: "please give
 * me"), keeps negations (`not`, `no`) and snake_case identifiers whole (`days_1_30`), and joins the words with
 * one space. Placeholders stay in place, so "between <date> <date>" keeps its shape.
 *
 * A model can rewrite the text first ({@linkcode normalizeIntentWith}): its output goes through the same rules,
 * so the result has the same vocabulary of placeholders whichever way it was made.
 * @module
 */

/** A model-based rewrite of a request into a short canonical intent (e.g. a chat model call). */
export type IntentNormalizer = (text: string) => Promise<string>;

const MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december";
const MONTHS_SHORT = "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec";
const MONTH = `(?:${MONTHS}|(?:${MONTHS_SHORT})\\.?)`;
const NUMBER_WORDS =
  "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|ninety|hundred";
const UNIT = "days?|weeks?|months?|quarters?|years?";
const CURRENCY_CODES = "usd|eur|gbp|chf|jpy|cad|aud|sek|nok|dkk|inr|cny";
const CURRENCY_WORDS = "dollars?|euros?|pounds?|francs?|yen";
const NUM = String.raw`\d{1,3}(?:[,\u00a0 ]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?`;
const SCALE = String.raw`(?:\s?(?:k|m|bn|thousand|million|billion)\b)?`;

/**
 * [pattern, placeholder, needs a digit], applied in order; every pattern is global and case-insensitive unless
 * noted. Rules that need a digit are skipped for text without one (most intents: half the time saved).
 */
const RULES: readonly [RegExp, string, boolean?][] = [
  // 1. quoted strings (an apostrophe inside a word is not a quote)
  [/"[^"\n]{1,200}"|\u201c[^\u201d\n]{1,200}\u201d|\u2018[^\u2019\n]{1,200}\u2019/g, " <text> "],
  [/(^|[\s([{:,=])'[^'\n]{1,200}'(?=$|[\s.,;:!?)\]}])/g, "$1 <text> "],
  // codes (case-sensitive: a letter first, an upper-case letter and a digit somewhere, so snake_case field names
  // like days_1_30 and ISO timestamps survive; before dates so PO-2024-7 stays whole; Q3/H1/FY2025 are periods)
  [
    /\b(?!(?:Q[1-4]|H[12]|FY\d{2,4})\b)(?=[\w/-]*\d)(?=[\w/-]*[A-Z])[A-Za-z][A-Za-z0-9]*(?:[-_/][A-Za-z0-9]+)*\b/g,
    " <code> ",
    true,
  ],
  // 2. dates
  [/\b\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?)?\b/g, " <date> ", true],
  [/\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b|\b\d{4}\/\d{1,2}\/\d{1,2}\b/g, " <date> ", true],
  [new RegExp(String.raw`\b${MONTH}\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b`, "gi"), " <date> ", true],
  [new RegExp(String.raw`\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?${MONTH}\s*,?\s+\d{4}\b`, "gi"), " <date> ", true],
  [
    new RegExp(String.raw`\b${MONTH}\s+\d{1,2}(?:st|nd|rd|th)\b|\b\d{1,2}(?:st|nd|rd|th)\s+(?:of\s+)?${MONTH}`, "gi"),
    " <date> ",
    true,
  ],
  [/\b(?:today|yesterday|tomorrow)\b/gi, " <date> "],
  // 3. periods
  [/\b\d{4}-(?:0?[1-9]|1[0-2])\b/g, " <period> ", true],
  [new RegExp(String.raw`\b${MONTH}\s*,?\s+\d{4}\b`, "gi"), " <period> ", true],
  [/\b(?:q[1-4]|h[12])(?:\s*(?:fy\s*)?'?\d{2,4})?\b|\bfy\s*'?\d{2,4}\b|\b\d{4}\s*-?\s*q[1-4]\b/gi, " <period> ", true],
  [/\b(?:ytd|mtd|qtd|year[-\s]to[-\s]date|month[-\s]to[-\s]date|quarter[-\s]to[-\s]date)\b/gi, " <period> "],
  [
    new RegExp(
      String.raw`\b(?:the\s+)?same\s+(?:month|quarter|period|week|day)\s+(?:of\s+)?last\s+year\b|` +
        String
          .raw`\b(?:the\s+)?(?:last|past|previous|next|coming|prior|following)\s+(?:\d+|${NUMBER_WORDS})\s+(?:${UNIT})\b|` +
        String.raw`\b(?:${NUMBER_WORDS}|\d+|a|one)\s+(?:${UNIT})\s+(?:ago|back|earlier)\b|` +
        String
          .raw`\b(?:this|last|next|previous|current|prior|the\s+previous|the\s+current|the\s+last)\s+(?:calendar\s+|fiscal\s+)?(?:month|quarter|year|week|period)\b`,
      "gi",
    ),
    " <period> ",
  ],
  [new RegExp(String.raw`\b(?:${MONTHS})\b`, "gi"), " <period> "],
  [/\b(in|for|during|since|of|fiscal|fy|year)\s+(?:19|20)\d{2}\b/gi, "$1 <period> ", true],
  // 4. money
  [
    new RegExp(String.raw`[$€£¥]\s?(?:${NUM})${SCALE}|\b(?:${CURRENCY_CODES})\s?(?:${NUM})${SCALE}`, "gi"),
    " <amount> ",
    true,
  ],
  [new RegExp(String.raw`\b(?:${NUM})${SCALE}\s?(?:${CURRENCY_CODES}|${CURRENCY_WORDS})\b`, "gi"), " <amount> ", true],
  // 6. percentages and numbers
  [new RegExp(String.raw`(?:${NUM})\s?(?:%|percent\b|pct\b)`, "gi"), " <percent> ", true],
  [new RegExp(String.raw`(?<![\w<])(?:${NUM})(?:st|nd|rd|th)?(?![\w>])|\b(?:${NUMBER_WORDS})\b`, "gi"), " <number> "],
];

/** Words that carry no intent (English function words and request politeness). `not`/`no` are kept. */
export const STOPWORDS: ReadonlySet<string> = new Set(
  (
    "a an the and or but if then else of for to in on at by with from into onto as about per via " +
    "is are was were be been being am do does did done doing have has had having will would shall should can could may might must " +
    "i me my mine we us our ours you your yours he him his she her hers it its they them their theirs " +
    "this that these those there here what which who whom whose when where why how " +
    "please kindly just also so very really quickly let lets need want like " +
    "give show tell get find provide display return reply answer back " +
    "some any each every all both such own same other s t d ll re ve m"
  ).split(/\s+/),
);
// Why "return", "reply", "answer", "all" and "each" are stopwords: tasks say "return JSON with…", "reply with the
// number…", "for every…"; the wording around the value asked for varies, the value does not. Domain nouns stay.

const PLACEHOLDER = /^<(?:text|date|period|amount|code|percent|number|name)>$/;

/** Capitalised word: an upper-case letter then at least one lower-case one (so not `AP`, `I` or `JSON`). */
const CAPITALISED = /^\p{Lu}[\p{Ll}'’]+(?:-\p{Lu}?[\p{Ll}]+)*$/u;
const NAME_JOINERS = new Set(["of", "and", "&", "de", "van", "von"]);

/** Replaces runs of capitalised words by `<name>` (see the module doc for the sentence-start rule). */
function replaceNames(text: string): string {
  // Split into sentences at . ! ? ; : newline (and bullets), then look at word runs inside each.
  return text.split(/((?:[.!?;:\n]|\s[-–—•*]\s)\s*)/).map((part, i) => {
    if (i % 2 === 1) return part;
    const tokens = part.split(/(\s+)/);
    const words: { text: string; index: number }[] = [];
    tokens.forEach((t, index) => {
      if (t.trim()) words.push({ text: t, index });
    });
    const strip = (w: string) => w.replace(/^[("[{]+|[)"\]},.]+$/g, "");
    let first = 0;
    while (first < words.length && !/[\p{L}\p{N}<]/u.test(words[first].text)) first++;
    for (let k = 0; k < words.length; k++) {
      if (!CAPITALISED.test(strip(words[k].text))) continue;
      let end = k;
      while (end + 1 < words.length) {
        const next = strip(words[end + 1].text);
        if (CAPITALISED.test(next)) end++;
        else if (
          NAME_JOINERS.has(next) && end + 2 < words.length && CAPITALISED.test(strip(words[end + 2].text)) &&
          !/[,.)]$/.test(words[end].text)
        ) end += 2;
        else break;
        if (/[,.)\]]$/.test(words[end].text)) break; // a comma ends a name: "debit Cash, credit Sales"
      }
      const atStart = k === first;
      if (atStart && end === k) continue;
      const trailing = words[end].text.match(/[)"\]},.]+$/)?.[0] ?? "";
      const leading = words[k].text.match(/^[("[{]+/)?.[0] ?? "";
      tokens[words[k].index] = `${leading}<name>${trailing}`;
      for (let j = k + 1; j <= end; j++) tokens[words[j].index] = "";
      // drop the spaces between the merged words
      for (let t = words[k].index + 1; t <= words[end].index; t++) if (!tokens[t].trim()) tokens[t] = "";
      k = end;
    }
    return tokens.join("");
  }).join("");
}

/**
 * The deterministic normal form of a request (see the module doc for the rules).
 *
 * @example
 * ```ts
 * normalizeIntent("Please show me total revenue for March 2025 for Acme Corp (invoice INV-00123)");
 * // → "total revenue <period> <name> invoice <code>"
 * ```
 */
export function normalizeIntent(text: string): string {
  if (typeof text !== "string") throw new TypeError(`normalizeIntent: expected a string, got ${typeof text}`);
  let s = text.normalize("NFKC").replace(/(?<=\p{L})\u2019(?=\p{L})/gu, "'");
  // contractions before quotes, so "don't" is not an opening quote
  s = s.replace(/\b(\p{L}+)n['’]t\b/gu, "$1 not").replace(/\b(\p{L}+)['’](?:s|re|ve|ll|d|m)\b/gu, "$1");
  const digits = /\d/.test(s);
  for (const [re, rep, needsDigit] of RULES) if (digits || !needsDigit) s = s.replace(re, rep);
  s = replaceNames(s);
  const words = s.toLowerCase().match(/<[a-z]+>|[\p{L}\p{N}_]+/gu) ?? [];
  return words.filter((w) => PLACEHOLDER.test(w) || !STOPWORDS.has(w)).join(" ");
}

/** Options for {@linkcode normalizeIntentWith}. */
export interface NormalizeOptions {
  /** Rewrites the request first (e.g. a chat model); its output is then normalized by the rules. @default none */
  model?: IntentNormalizer;
  /**
   * What to do when the model throws or returns nothing usable: `"rules"` normalizes the original text by the
   * rules alone (a long ingest keeps going), `"throw"` rethrows with the text in the message.
   * @default "rules"
   */
  onModelError?: "rules" | "throw";
}

/**
 * Normalizes with an optional model rewrite first; without a model it equals {@linkcode normalizeIntent}.
 *
 * @example
 * ```ts
 * const model = async (t: string) => (await chat.invoke({ messages: intentMessages(t), temperature: 0 })).message.content ?? "";
 * await normalizeIntentWith("How much did we invoice last month?", { model }); // e.g. "total revenue <period>"
 * ```
 */
export async function normalizeIntentWith(text: string, options: NormalizeOptions = {}): Promise<string> {
  if (!options.model) return normalizeIntent(text);
  let rewritten: string;
  try {
    rewritten = await options.model(text);
  } catch (e) {
    if (options.onModelError === "throw") {
      throw new Error(`Intent model failed on ${JSON.stringify(text.slice(0, 80))}: ${(e as Error).message ?? e}`);
    }
    return normalizeIntent(text);
  }
  const out = typeof rewritten === "string" ? normalizeIntent(rewritten) : "";
  if (out) return out;
  if (options.onModelError === "throw") {
    throw new Error(`Intent model returned nothing usable for ${JSON.stringify(text.slice(0, 80))}; check its prompt`);
  }
  return normalizeIntent(text);
}

/**
 * The chat messages for a model-based normalizer: asks for one short line in the rules' vocabulary. Use with
 * any chat model, e.g. `(t) => model.invoke({ messages: intentMessages(t), temperature: 0 }).then((r) => r.message.content ?? "")`.
 */
export function intentMessages(text: string): { role: "system" | "user"; content: string }[] {
  return [
    {
      role: "system",
      content: "Rewrite the user's ERP request as one short canonical intent: lower case, the business action and " +
        "the measures asked for, no politeness. Replace concrete values by placeholders: <date>, <period>, " +
        "<amount>, <number>, <percent>, <name>, <code>, <text>. Reply with the intent only.",
    },
    { role: "user", content: text },
  ];
}
