/**
 * Tunekit's one JSON key style, the API's: snake_case. The TypeScript side names fields in
 * camelCase; everything it prints or writes as JSON for people and scripts (`--json`, report.json)
 * goes through snakeKeys once.
 */
/** objects under these keys are the user's data: their keys are names, not the contract's fields */
const DATA_MAPS = new Set(["metadata", "columns", "mapping", "map", "column_map", "env", "headers"]);
const CAMEL_KEY = /^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+$/;

export function snakeKeys(value: unknown, keepKeys = false): unknown {
  if (Array.isArray(value)) return value.map((item) => snakeKeys(item, keepKeys));
  if (value === null || typeof value !== "object" || value instanceof Date) return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return snakeKeys(JSON.parse(JSON.stringify(value)), keepKeys);
  const result: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (entry === undefined) continue;
    const name = keepKeys || !CAMEL_KEY.test(key) ? key : key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
    result[name] = typeof entry === "number" && !keepKeys && MONEY_KEY.test(name) ? roundMoney(entry) : snakeKeys(entry, DATA_MAPS.has(name));
  }
  return result;
}

/** computed amounts of money (`cost`, `training_cost`, `total_usd`, `per1000_requests`); quoted prices are printed as the table has them */
const MONEY_KEY = /(^|_)costs?(_|$)|(^|_)usd$|(^|_)per1000(_|$)/;

/**
 * Money in `--json`: to the cent, and an amount under a cent to two significant digits, so that no
 * amount reads as 0 when it is not (a request to a small model costs $0.000034) and none carries
 * float noise (0.30000000000000004).
 */
export function roundMoney(amount: number): number {
  if (!Number.isFinite(amount) || amount === 0) return amount;
  if (Math.abs(amount) >= 0.01) return Math.round(amount * 100) / 100;
  return Number(amount.toPrecision(2));
}

type SnakeName<S extends string> = S extends `${infer Head}${infer Tail}` ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${SnakeName<Tail>}` : S;

/** The type of a value after snakeKeys: what a script reading `--json` or report.json gets. */
export type SnakeCased<T> = T extends readonly (infer Item)[]
  ? SnakeCased<Item>[]
  : T extends object
    ? { [Key in keyof T as Key extends string ? SnakeName<Key> : Key]: SnakeCased<T[Key]> }
    : T;
