/**
 * Private: the small dimension tables of the sandbox (organizations, chart of accounts, periods, customers,
 * vendors, products, warehouses) and the per-org parameters that drive the set-based fact generation.
 *
 * Everything here comes from a seeded PRNG keyed by (seed, org, purpose), so adding a draw for one purpose
 * never shifts the values of another.
 *
 * @module
 */

import { mulberry32 } from "../util/mod.ts";

/** Sizes of one scale. `invoicesPerMonth` is the mean monthly invoice count of an average org. */
export interface ScaleConfig {
  orgs: number;
  invoicesPerMonth: number;
  customers: number;
  products: number;
  warehouses: number;
  vendors: number;
}

/** Number of monthly fiscal periods (the last one contains the as-of date). */
export const PERIODS = 24;

/** Account ids of the chart of accounts, identical in every org. */
export const ACCT = {
  cash: 1,
  receivable: 2,
  inventory: 3,
  payable: 4,
  accrued: 5,
  salesTax: 6,
  equity: 7,
  retained: 8,
  sales: 9,
  cogs: 10,
  rent: 11,
  salaries: 12,
  utilities: 13,
  software: 14,
  insurance: 15,
  professional: 16,
  bankFees: 17,
  otherExpense: 18,
} as const;

const ACCOUNTS: [number, string, string, string, string, string][] = [
  [ACCT.cash, "1000", "Cash - Operating Account", "asset", "cash", "debit"],
  [ACCT.receivable, "1100", "Accounts Receivable", "asset", "receivable", "debit"],
  [ACCT.inventory, "1200", "Inventory", "asset", "inventory", "debit"],
  [ACCT.payable, "2000", "Accounts Payable", "liability", "payable", "credit"],
  [ACCT.accrued, "2100", "Accrued Liabilities", "liability", "accrued", "credit"],
  [ACCT.salesTax, "2200", "Sales Tax Payable", "liability", "other", "credit"],
  [ACCT.equity, "3000", "Owner's Equity", "equity", "equity", "credit"],
  [ACCT.retained, "3100", "Retained Earnings", "equity", "equity", "credit"],
  [ACCT.sales, "4000", "Sales Revenue", "revenue", "sales", "credit"],
  [ACCT.cogs, "5000", "Cost of Goods Sold", "expense", "cogs", "debit"],
  [ACCT.rent, "6000", "Rent Expense", "expense", "operating", "debit"],
  [ACCT.salaries, "6100", "Salaries and Wages", "expense", "operating", "debit"],
  [ACCT.utilities, "6200", "Utilities", "expense", "operating", "debit"],
  [ACCT.software, "6300", "Software and Subscriptions", "expense", "operating", "debit"],
  [ACCT.insurance, "6400", "Insurance", "expense", "operating", "debit"],
  [ACCT.professional, "6500", "Professional Fees", "expense", "operating", "debit"],
  [ACCT.bankFees, "6600", "Bank Fees", "expense", "operating", "debit"],
  [ACCT.otherExpense, "6900", "Other Operating Expenses", "expense", "operating", "debit"],
];

/** Accruals an org may run; `pct` is the monthly amount as a share of the org's mean monthly revenue. */
const ACCRUALS: { description: string; account: number; pct: number }[] = [
  { description: "Utilities accrual", account: ACCT.utilities, pct: 0.012 },
  { description: "Professional fees accrual", account: ACCT.professional, pct: 0.01 },
  { description: "Software subscriptions accrual", account: ACCT.software, pct: 0.006 },
  { description: "Insurance accrual", account: ACCT.insurance, pct: 0.005 },
  { description: "Payroll bonus accrual", account: ACCT.salaries, pct: 0.015 },
];

interface Industry {
  industry: string;
  categories: { name: string; code: string; items: string[] }[];
}

const INDUSTRIES: Industry[] = [
  {
    industry: "wholesale hardware",
    categories: [
      { name: "Fasteners", code: "FAS", items: ["Wood Screws", "Hex Bolts", "Anchors", "Washers", "Rivets"] },
      { name: "Hand Tools", code: "HTL", items: ["Hammer", "Screwdriver Set", "Pliers", "Tape Measure", "Wrench"] },
      { name: "Power Tools", code: "PTL", items: ["Cordless Drill", "Circular Saw", "Sander", "Jigsaw", "Grinder"] },
      { name: "Plumbing", code: "PLB", items: ["PVC Pipe", "Ball Valve", "Faucet", "Drain Trap", "Pipe Wrench"] },
      { name: "Electrical", code: "ELC", items: ["Wire Spool", "Outlet", "Switch", "Breaker", "Junction Box"] },
    ],
  },
  {
    industry: "office supplies",
    categories: [
      { name: "Paper", code: "PAP", items: ["Copy Paper", "Notebook", "Sticky Notes", "Envelopes", "Card Stock"] },
      { name: "Writing", code: "WRT", items: ["Ballpoint Pens", "Markers", "Highlighters", "Pencils", "Gel Pens"] },
      { name: "Furniture", code: "FUR", items: ["Desk Chair", "Standing Desk", "Bookshelf", "Filing Cabinet", "Lamp"] },
      { name: "Technology", code: "TEC", items: ["Keyboard", "Mouse", "Monitor Arm", "Webcam", "Headset"] },
      { name: "Breakroom", code: "BRK", items: ["Coffee Beans", "Paper Cups", "Tea Assortment", "Napkins", "Sugar"] },
    ],
  },
  {
    industry: "food distribution",
    categories: [
      { name: "Beverages", code: "BEV", items: ["Sparkling Water", "Orange Juice", "Cola", "Iced Tea", "Lemonade"] },
      { name: "Snacks", code: "SNK", items: ["Potato Chips", "Pretzels", "Granola Bars", "Trail Mix", "Crackers"] },
      { name: "Dairy", code: "DRY", items: ["Cheddar", "Butter", "Yogurt", "Cream Cheese", "Milk"] },
      { name: "Frozen", code: "FRZ", items: ["Frozen Pizza", "Ice Cream", "Frozen Peas", "Dumplings", "Fries"] },
      { name: "Pantry", code: "PAN", items: ["Olive Oil", "Pasta", "Rice", "Tomato Sauce", "Flour"] },
    ],
  },
  {
    industry: "electronics",
    categories: [
      { name: "Cables", code: "CBL", items: ["HDMI Cable", "USB-C Cable", "Ethernet Cable", "Power Cord", "Adapter"] },
      { name: "Audio", code: "AUD", items: ["Headphones", "Speaker", "Microphone", "Earbuds", "Soundbar"] },
      { name: "Computing", code: "CMP", items: ["Laptop Stand", "SSD Drive", "RAM Module", "Docking Station", "Hub"] },
      { name: "Networking", code: "NET", items: ["Router", "Switch", "Access Point", "Modem", "Range Extender"] },
      { name: "Mobile", code: "MOB", items: ["Phone Case", "Charger", "Power Bank", "Screen Protector", "Mount"] },
    ],
  },
];

const VARIANTS = ["Standard", "Pro", "Compact", "Heavy-Duty", "Eco", "Deluxe", "Mini", "XL", "Value Pack", "Premium"];
const ORG_PREFIX = [
  "Northwind",
  "Contoso",
  "Fabrikam",
  "Tailspin",
  "Wingtip",
  "Litware",
  "Proseware",
  "Coho",
  "Alpine",
];
const ORG_PREFIX2 = [
  "Bluebird",
  "Redwood",
  "Silverline",
  "Ironbridge",
  "Lakeshore",
  "Meridian",
  "Oakmont",
  "Pinecrest",
];
const ORG_SUFFIX = ["Traders", "Supply", "Wholesale", "Distribution", "Goods", "Trading Co."];
const NAME_A = [
  "Apex",
  "Blue",
  "Cedar",
  "Delta",
  "Evergreen",
  "Falcon",
  "Granite",
  "Harbor",
  "Iron",
  "Juniper",
  "Keystone",
  "Lakeside",
  "Maple",
  "North",
  "Orchid",
  "Pioneer",
  "Quartz",
  "River",
  "Summit",
  "Trident",
  "Union",
  "Valley",
  "Westfield",
  "Yellowstone",
  "Zenith",
];
const NAME_B = ["Bay", "Creek", "Point", "Ridge", "Field", "Stone", "Brook", "Gate", "Park", "View", "Hill", "Works"];
const CUSTOMER_SUFFIX = ["LLC", "Inc.", "Co.", "Group", "Partners", "Ltd."];
const VENDOR_SUFFIX = ["Supply", "Manufacturing", "Distributors", "Imports", "Industries", "Wholesale"];
const WAREHOUSES: [string, string][] = [
  ["Main Warehouse", "Chicago"],
  ["East Distribution Center", "Newark"],
  ["West Distribution Center", "Reno"],
  ["South Distribution Center", "Dallas"],
  ["Central Depot", "Kansas City"],
  ["Northwest Depot", "Portland"],
];
const REGIONS = ["north", "south", "east", "west"];
/** Seasonality by calendar month (Jan..Dec): summer dip, Q4 peak. */
const SEASON = [0.85, 0.85, 0.95, 1.0, 1.0, 0.9, 0.8, 0.8, 1.0, 1.1, 1.3, 1.4];
const TAX_RATES = [0.06, 0.07, 0.08, 0.0825, 0.0875];

/** A PRNG (mulberry32) keyed by a seed and any number of labels. */
export function rng(seed: number, ...key: (string | number)[]): () => number {
  // FNV-1a over the key so that each purpose gets an independent stream.
  let h = 2166136261 ^ seed;
  for (const ch of key.join("\u0001")) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return mulberry32(h);
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const cents = (x: number): number => Math.round(x * 100) / 100;

/** Calendar helpers on ISO dates (UTC, no wall clock). */
export function parseIsoDate(s: string): Date | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return undefined;
  const d = new Date(`${s}T00:00:00Z`);
  return Number.isNaN(d.getTime()) || iso(d) !== s ? undefined : d;
}
export const iso = (d: Date): string => d.toISOString().slice(0, 10);
const addDays = (d: Date, n: number): Date => new Date(d.getTime() + n * 86_400_000);
const monthStart = (y: number, m: number): Date => new Date(Date.UTC(y, m, 1));

/** A row destined for a table, keyed by column name. */
export type Row = Record<string, string | number | boolean | null>;

/** Everything the fact generation needs, plus the dimension rows to insert. */
export interface Dimensions {
  /** First day of period 1. */
  start: string;
  tables: Record<string, Row[]>;
  /** Per-org parameters (temp table `_org`). */
  orgParams: Row[];
  /** Per org and period: invoice id range and the days invoices may fall on (temp table `_org_month`). */
  orgMonths: Row[];
  /** Accrual schedules before amounts are known (temp table `_accrual_spec`). */
  accrualSpecs: Row[];
}

/** Builds the dimension rows for every org of a sandbox. */
export function buildDimensions(seed: number, cfg: ScaleConfig, asOf: string): Dimensions {
  const asOfDate = parseIsoDate(asOf)!;
  const y = asOfDate.getUTCFullYear();
  const m = asOfDate.getUTCMonth();
  const periods = Array.from({ length: PERIODS }, (_, i) => {
    const s = monthStart(y, m - (PERIODS - 1) + i);
    const e = addDays(monthStart(y, m - (PERIODS - 1) + i + 1), -1);
    return { id: i + 1, start: s, end: e };
  });
  const start = periods[0].start;

  const tables: Record<string, Row[]> = {
    organizations: [],
    accounts: [],
    fiscal_periods: [],
    customers: [],
    vendors: [],
    products: [],
    warehouses: [],
  };
  const orgParams: Row[] = [];
  const orgMonths: Row[] = [];
  const accrualSpecs: Row[] = [];
  const orgNames = new Set<string>();
  const prefixShift = Math.floor(rng(seed, "org-prefix")() * ORG_PREFIX.length);

  for (let org = 1; org <= cfg.orgs; org++) {
    const r = rng(seed, org, "org");
    const ind = INDUSTRIES[(org - 1 + Math.floor(rng(seed, "industry")() * INDUSTRIES.length)) % INDUSTRIES.length];
    let name = "";
    for (let k = 0; !name || orgNames.has(name); k++) {
      // Distinct prefixes first, so small sandboxes have clearly different company names.
      const prefix = org <= ORG_PREFIX.length && k === 0
        ? ORG_PREFIX[(org - 1 + prefixShift) % ORG_PREFIX.length]
        : `${pick(r, ORG_PREFIX2)} ${pick(r, ORG_PREFIX)}`;
      name = `${prefix} ${pick(r, ORG_SUFFIX)}`;
    }
    orgNames.add(name);
    tables.organizations.push({
      org_id: org,
      name,
      industry: ind.industry,
      currency: "USD",
      created_at: iso(addDays(start, -30 - Math.floor(r() * 400))),
    });
    for (const [account_id, code, aname, type, subtype, normal_balance] of ACCOUNTS) {
      tables.accounts.push({ org_id: org, account_id, code, name: aname, type, subtype, normal_balance });
    }
    for (const p of periods) {
      const closed = p.id < PERIODS;
      const closedAt = addDays(p.end, 3 + Math.floor(r() * 5));
      tables.fiscal_periods.push({
        org_id: org,
        period_id: p.id,
        name: iso(p.start).slice(0, 7),
        start_date: iso(p.start),
        end_date: iso(p.end),
        status: closed ? "closed" : "open",
        closed_at: closed ? iso(closedAt < asOfDate ? closedAt : asOfDate) : null,
      });
    }

    // Customers: low ids are the big accounts (invoices pick customers with a skew towards low ids).
    const rc = rng(seed, org, "customers");
    const custNames = uniqueNames(rc, cfg.customers, CUSTOMER_SUFFIX);
    for (let i = 1; i <= cfg.customers; i++) {
      const big = i <= cfg.customers * 0.1;
      const segment = big ? "enterprise" : rc() < 0.35 ? "mid-market" : "small business";
      const limit = segment === "enterprise"
        ? 50_000 + rc() * 200_000
        : segment === "mid-market"
        ? 15_000 + rc() * 45_000
        : 2_000 + rc() * 13_000;
      tables.customers.push({
        org_id: org,
        customer_id: i,
        name: custNames[i - 1],
        segment,
        region: pick(rc, REGIONS),
        credit_limit: Math.round(limit / 1000) * 1000,
        payment_terms_days: pick(rc, [15, 30, 30, 30, 45, 60]),
      });
    }

    const nWarehouses = Math.min(cfg.warehouses, WAREHOUSES.length);
    for (let i = 1; i <= nWarehouses; i++) {
      const [wname, city] = WAREHOUSES[i - 1];
      tables.warehouses.push({ org_id: org, warehouse_id: i, name: wname, city });
    }

    // Vendors: each supplies one category; every category has at least one vendor.
    const rv = rng(seed, org, "vendors");
    const cats = ind.categories;
    const nVendors = Math.max(cfg.vendors, cats.length);
    const vendorNames = uniqueNames(rv, nVendors, VENDOR_SUFFIX);
    const vendorsByCat: number[][] = cats.map(() => []);
    for (let i = 1; i <= nVendors; i++) {
      const c = (i - 1) % cats.length;
      vendorsByCat[c].push(i);
      tables.vendors.push({
        org_id: org,
        vendor_id: i,
        name: vendorNames[i - 1],
        category: cats[c].name,
        payment_terms_days: pick(rv, [30, 30, 45, 60]),
        lead_time_days: 5 + Math.floor(rv() * 17),
      });
    }

    // Products: ids 1..nActive are active, the rest discontinued (sold only in the first year).
    const rp = rng(seed, org, "products");
    const nActive = Math.max(1, Math.round(cfg.products * 0.94));
    const used = new Set<string>();
    for (let i = 1; i <= cfg.products; i++) {
      const c = (i - 1) % cats.length;
      const cat = cats[c];
      let pname = "";
      for (let k = 0; !pname || used.has(pname); k++) {
        pname = `${pick(rp, cat.items)} ${pick(rp, VARIANTS)}${k > 30 ? ` ${k}` : ""}`;
      }
      used.add(pname);
      const cost = cents(Math.exp(Math.log(4) + rp() * Math.log(250 / 4)));
      const reorderPoint = 10 + Math.floor(rp() * 70);
      tables.products.push({
        org_id: org,
        product_id: i,
        sku: `${cat.code}-${String(1000 + i)}`,
        name: pname,
        category: cat.name,
        unit_cost: cost,
        unit_price: cents(cost * (1.3 + rp() * 0.7)),
        reorder_point: reorderPoint,
        reorder_qty: reorderPoint * (2 + Math.floor(rp() * 3)),
        preferred_vendor_id: pick(rp, vendorsByCat[c]),
        is_active: i <= nActive,
      });
    }

    const size = 0.75 + r() * 0.5;
    const growth = 0.004 + r() * 0.02;
    orgParams.push({
      org_id: org,
      n_customers: cfg.customers,
      n_products: cfg.products,
      n_active: nActive,
      n_warehouses: nWarehouses,
      tax_rate: pick(r, TAX_RATES),
    });

    // Monthly invoice volume: size × growth × seasonality × noise; the current month only up to as-of.
    let nextId = 1;
    for (const p of periods) {
      const daysInMonth = p.end.getUTCDate();
      const daysAvail = p.id === PERIODS ? asOfDate.getUTCDate() : daysInMonth;
      const mean = cfg.invoicesPerMonth * size * (1 + growth) ** (p.id - PERIODS / 2) *
        SEASON[p.start.getUTCMonth()] * (0.93 + 0.14 * r());
      const n = Math.max(1, Math.round(mean * daysAvail / daysInMonth));
      orgMonths.push({
        org_id: org,
        period_id: p.id,
        first_invoice_id: nextId,
        n_invoices: n,
        start_date: iso(p.start),
        days_avail: daysAvail,
      });
      nextId += n;
    }

    const ra = rng(seed, org, "accruals");
    const nAccruals = 3 + Math.floor(ra() * 3);
    const chosen = [...ACCRUALS];
    for (let i = chosen.length - 1; i > 0; i--) {
      const j = Math.floor(ra() * (i + 1));
      [chosen[i], chosen[j]] = [chosen[j], chosen[i]];
    }
    chosen.slice(0, nAccruals).forEach((a, i) =>
      accrualSpecs.push({
        org_id: org,
        accrual_id: i + 1,
        description: a.description,
        expense_account_id: a.account,
        liability_account_id: ACCT.accrued,
        pct: a.pct * (0.8 + ra() * 0.4),
      })
    );
  }
  return { start: iso(start), tables, orgParams, orgMonths, accrualSpecs };
}

function uniqueNames(r: () => number, n: number, suffixes: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  while (out.length < n) {
    let name = `${pick(r, NAME_A)} ${pick(r, NAME_B)} ${pick(r, suffixes)}`;
    if (seen.size > NAME_A.length * NAME_B.length * suffixes.length / 2) name += ` ${out.length + 1}`;
    if (seen.has(name)) continue;
    seen.add(name);
    out.push(name);
  }
  return out;
}
