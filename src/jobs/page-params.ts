import { TunekitError } from "../core/errors.js";

export interface Page {
  after: string | null;
  limit: number;
  order: "asc" | "desc";
}

/**
 * Parse `after`, `limit` and `order` from a query string (values arrive as strings) into a
 * page request; bad values are 400s that name the parameter.
 */
export function parsePageParams(query: Record<string, unknown> | undefined, defaults: { limit?: number; maxLimit?: number; order?: "asc" | "desc" } = {}): Page {
  const source = query ?? {};
  const maxLimit = defaults.maxLimit ?? 100;
  let limit = defaults.limit ?? 20;
  if (source.limit !== undefined && source.limit !== "") {
    const parsed = Number(source.limit);
    if (!Number.isInteger(parsed) || parsed < 1 || parsed > maxLimit) {
      throw new TunekitError(`\`limit\` must be a whole number from 1 to ${maxLimit}, got \`${String(source.limit)}\``, {
        kind: "usage",
        code: "invalid_limit",
        field: "limit",
        fix: `pass \`limit\` between 1 and ${maxLimit}`,
      });
    }
    limit = parsed;
  }
  let order = defaults.order ?? "desc";
  if (source.order !== undefined) {
    if (source.order !== "asc" && source.order !== "desc") {
      throw new TunekitError(`\`order\` must be \`asc\` or \`desc\`, got \`${String(source.order)}\``, {
        kind: "usage",
        code: "invalid_order",
        field: "order",
        fix: "pass `order=asc` or `order=desc`",
      });
    }
    order = source.order;
  }
  const after = typeof source.after === "string" && source.after !== "" ? source.after : null;
  return { after, limit, order };
}

/** Fetch limit+1 rows, return the page and whether more exist. */
export function slicePage<T>(rows: T[], limit: number): { data: T[]; hasMore: boolean } {
  return { data: rows.slice(0, limit), hasMore: rows.length > limit };
}
