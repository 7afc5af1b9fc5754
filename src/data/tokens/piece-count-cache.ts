/**
 * tiktoken's pre-tokenisation patterns, written for JavaScript regular expressions (the `(?i:...)`
 * group spelled out, as js-tiktoken does, and non-capturing); from tiktoken_ext/openai_public.py.
 */
const PATTERNS: Record<string, string> = {
  o200k_base:
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:'s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?:'s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  cl100k_base:
    "(?:'s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};

/** pieces longer than this are counted but not cached */
const MAX_CACHED_PIECE = 64;
/** the cache is emptied when it reaches this many pieces (bounded memory: a few MB) */
const MAX_CACHED_PIECES = 50_000;
/** long texts remembered by identity (an example's messages) */
const RECENT_TEXTS = 8;

/**
 * Counts tokens of a text piece by piece, caching the count of each piece. tiktoken splits text
 * with its regular expression and runs BPE on each piece on its own, so the token count of a text
 * is the sum of the counts of its pieces. Natural text repeats its pieces (" the", " model", "."),
 * so the WASM encoder only sees pieces not seen before: the same counts, several times faster.
 * Memory stays bounded: the cache is emptied at MAX_CACHED_PIECES.
 */
export function cachedPieceCounter(encodingName: string, encodeText: (piece: string) => number): (text: string) => number {
  const pattern = PATTERNS[encodingName];
  if (pattern === undefined) return encodeText;
  const splitter = new RegExp(pattern, "gu");
  const cache = new Map<string, number>();
  // the last few long texts: counting rules encode an assistant reply twice (total, trained)
  const recentTexts: string[] = new Array(RECENT_TEXTS).fill("");
  const recentCounts: number[] = new Array(RECENT_TEXTS).fill(0);
  let recentNext = 0;
  return (text: string): number => {
    // short texts (roles, repeated system prompts) are looked up whole first
    if (text.length <= MAX_CACHED_PIECE) {
      const whole = cache.get(text);
      if (whole !== undefined) return whole;
    } else {
      for (let index = 0; index < RECENT_TEXTS; index++) if (recentTexts[index] === text) return recentCounts[index] as number;
    }
    let total = 0;
    splitter.lastIndex = 0;
    for (let match = splitter.exec(text); match !== null; match = splitter.exec(text)) {
      const piece = match[0];
      let count = cache.get(piece);
      if (count === undefined) {
        count = encodeText(piece);
        if (piece.length <= MAX_CACHED_PIECE) {
          if (cache.size >= MAX_CACHED_PIECES) cache.clear();
          cache.set(piece, count);
        }
      }
      total += count;
    }
    if (text.length <= MAX_CACHED_PIECE) {
      if (cache.size < MAX_CACHED_PIECES) cache.set(text, total);
    } else {
      recentTexts[recentNext] = text;
      recentCounts[recentNext] = total;
      recentNext = (recentNext + 1) % RECENT_TEXTS;
    }
    return total;
  };
}
