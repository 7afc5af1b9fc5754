/**
 * Which layout a file's records are in, from the keys of its first records (or a table's header):
 * so `tunekit data convert alpaca.json out.jsonl` converts Alpaca without `--from alpaca`.
 * Checked most specific first: a LLaMA-Factory preference row has `conversations` and `chosen`.
 */
export type RecordLayout = "preference" | "chat" | "sharegpt" | "alpaca" | "columns";

export const LAYOUT_DESCRIPTIONS: Readonly<Record<RecordLayout, string>> = {
  preference: "preference pairs (`chosen` and `rejected` answers)",
  chat: "chat records (`messages`)",
  sharegpt: "ShareGPT records (`conversations` of from/value turns)",
  alpaca: "Alpaca records (`instruction`, `input`, `output`)",
  columns: "prompt/completion columns",
};

export function layoutOfKeys(keys: readonly string[]): RecordLayout | null {
  const has = (key: string): boolean => keys.includes(key);
  if ((has("chosen") && has("rejected")) || has("preferred_output") || has("non_preferred_output")) return "preference";
  if (has("messages")) return "chat";
  if (has("conversations")) return "sharegpt";
  if (has("instruction") && has("output")) return "alpaca";
  if ((has("prompt") || has("user")) && (has("completion") || has("assistant"))) return "columns";
  return null;
}

/** The layout most of the sampled records have (ties: the one seen first), or null when none is known. */
export function detectLayout(samples: readonly (readonly string[])[]): RecordLayout | null {
  const votes = new Map<RecordLayout, number>();
  for (const keys of samples) {
    const layout = layoutOfKeys(keys);
    if (layout !== null) votes.set(layout, (votes.get(layout) ?? 0) + 1);
  }
  let best: RecordLayout | null = null;
  for (const [layout, count] of votes) if (best === null || count > (votes.get(best) as number)) best = layout;
  return best;
}

const USER_NAMES = /^(question|query|input|instruction|prompt|request|human|user|q|ask|message|text|context|source)s?$/i;
const ASSISTANT_NAMES = /^(answer|response|output|completion|reply|target|label|gpt|bot|assistant|a|solution|result|summary)s?$/i;

/** The `--map` a user would write for these columns: named like a question and an answer, else the first two. */
export function suggestMap(columns: readonly string[]): string {
  // a name or one of its words: `Best Answer`, `customer_question`
  const named = (pattern: RegExp) => (column: string) => pattern.test(column) || column.split(/[^A-Za-z0-9]+|_/).some((word) => pattern.test(word));
  const user = columns.find(named(USER_NAMES)) ?? columns[0] ?? "question";
  const assistant = columns.find((column) => column !== user && named(ASSISTANT_NAMES)(column)) ?? columns.find((column) => column !== user) ?? "answer";
  const quote = (column: string): string => (/^[\w.=-]+$/.test(column) ? column : `'${column.replace(/'/g, "'\\''")}'`);
  return `--map ${quote(`${user}=user`)} --map ${quote(`${assistant}=assistant`)}`;
}
