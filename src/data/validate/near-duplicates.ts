import { mix32 } from "./fingerprint.js";
import { HashIndex } from "./hash-index.js";

/**
 * Near-duplicate detection in bounded memory: MinHash over word 3-shingles of the lower-cased
 * text, then locality-sensitive hashing. Only signatures are kept, never examples.
 *
 * - a signature holds MINHASH_SIZE minimums (one-permutation hashing, see minHashSignature).
 * - LSH: BANDS bands of ROWS values each; two examples sharing one band are candidates
 *   (probability 1 - (1 - J^4)^6: 0.96 at Jaccard 0.8, 0.998 at 0.9).
 * - A candidate is confirmed when the estimated Jaccard similarity (fraction of equal signature
 *   values, from 8-bit stored values corrected for chance matches) is >= NEAR_DUPLICATE_THRESHOLD.
 */
export const MINHASH_SIZE = 24;
const BANDS = 6;
const ROWS = 4;
export const NEAR_DUPLICATE_THRESHOLD = 0.8;
export const NEAR_DUPLICATE_METHOD = `one-permutation MinHash of word 3-shingles (${MINHASH_SIZE} bins, LSH ${BANDS} bands x ${ROWS} rows), estimated Jaccard >= ${NEAR_DUPLICATE_THRESHOLD}`;

const EMPTY = 0xffffffff;

function isWordCharacter(code: number): boolean {
  return (
    (code >= 97 && code <= 122) ||
    (code >= 48 && code <= 57) ||
    (code >= 65 && code <= 90) ||
    (code >= 0xc0 && code !== 0x2028 && code !== 0x2029 && code !== 0x3000 && code !== 0xfeff)
  );
}

/**
 * Writes the MinHash signature of `text` into `target` at `offset`; returns false when the text
 * has no words. One-permutation hashing (Li, Owen, Zhang 2012): each shingle's hash picks one of
 * MINHASH_SIZE bins by its high bits and competes for that bin's minimum, so a shingle costs one
 * hash instead of MINHASH_SIZE; empty bins borrow from the next non-empty bin, offset by the
 * distance (rotation densification, Shrivastava and Li 2014), so short texts still compare.
 */
export function minHashSignature(text: string, target: Uint32Array, offset = 0): boolean {
  for (let index = 0; index < MINHASH_SIZE; index++) target[offset + index] = EMPTY;
  const lower = text.toLowerCase();
  let previous2 = 0;
  let previous1 = 0;
  let words = 0;
  let word = 0x811c9dc5;
  let inWord = false;
  const addShingle = (shingle: number): void => {
    const hash = mix32(shingle);
    const bin = Math.floor((hash / 0x100000000) * MINHASH_SIZE);
    const value = mix32(hash ^ 0x6a09e667);
    if (value < (target[offset + bin] as number)) target[offset + bin] = value;
  };
  for (let index = 0; index <= lower.length; index++) {
    const code = index < lower.length ? lower.charCodeAt(index) : 32;
    if (isWordCharacter(code)) {
      word = Math.imul(word ^ code, 0x01000193);
      inWord = true;
    } else if (inWord) {
      words++;
      const current = mix32(word);
      if (words >= 3) addShingle(Math.imul(previous2, 0x9e3779b1) ^ Math.imul(previous1, 0x85ebca6b) ^ current);
      previous2 = previous1;
      previous1 = current;
      word = 0x811c9dc5;
      inWord = false;
    }
  }
  if (words === 0) return false;
  if (words < 3) addShingle(Math.imul(previous2, 0x9e3779b1) ^ previous1);
  let filled = 0; // bit i: bin i got a shingle (MINHASH_SIZE <= 32)
  for (let index = 0; index < MINHASH_SIZE; index++) if (target[offset + index] !== EMPTY) filled |= 1 << index;
  for (let index = 0; index < MINHASH_SIZE; index++) {
    if (filled & (1 << index)) continue;
    for (let distance = 1; distance < MINHASH_SIZE; distance++) {
      const source = (index + distance) % MINHASH_SIZE;
      if (filled & (1 << source)) {
        target[offset + index] = mix32((target[offset + source] as number) + Math.imul(distance, 0x9e3779b1));
        break;
      }
    }
  }
  return true;
}

export interface NearDuplicateMatch {
  line: number;
  similarity: number;
}

export class NearDuplicateIndex {
  private readonly bands: HashIndex;
  private signatures: Uint8Array;
  private lines: Uint32Array;
  private count = 0;
  full = false;

  constructor(readonly maxExamples: number) {
    this.bands = new HashIndex(maxExamples * BANDS);
    this.signatures = new Uint8Array(1024 * MINHASH_SIZE);
    this.lines = new Uint32Array(1024);
  }

  /**
   * Returns the earliest indexed example this one nearly duplicates, then indexes this one (while
   * there is room). `signature[offset .. offset + MINHASH_SIZE)` is its MinHash signature.
   */
  checkAndAdd(signature: Uint32Array, offset: number, line: number): NearDuplicateMatch | null {
    const ordinal = this.count;
    const room = ordinal < this.maxExamples;
    let best: NearDuplicateMatch | null = null;
    for (let band = 0; band < BANDS; band++) {
      let high = mix32(band + 1);
      let low = mix32(band + 0x51);
      for (let row = 0; row < ROWS; row++) {
        const value = signature[offset + band * ROWS + row] as number;
        high = mix32(high ^ value);
        low = mix32(Math.imul(low, 31) + value);
      }
      const key = { high, low };
      const candidate = room ? this.bands.getOrSet(key, ordinal) : this.bands.get(key);
      if (candidate === -1 || candidate === ordinal) continue;
      const candidateLine = this.lines[candidate] as number;
      if (best !== null && best.line <= candidateLine) continue;
      const similarity = this.similarity(signature, offset, candidate);
      if (similarity >= NEAR_DUPLICATE_THRESHOLD) best = { line: candidateLine, similarity };
    }
    if (room) {
      if (ordinal >= this.lines.length) this.grow();
      for (let index = 0; index < MINHASH_SIZE; index++) {
        this.signatures[ordinal * MINHASH_SIZE + index] = (signature[offset + index] as number) & 0xff;
      }
      this.lines[ordinal] = line;
      this.count++;
    } else {
      this.full = true;
    }
    return best;
  }

  private similarity(signature: Uint32Array, offset: number, ordinal: number): number {
    let equal = 0;
    for (let index = 0; index < MINHASH_SIZE; index++) {
      if (((signature[offset + index] as number) & 0xff) === this.signatures[ordinal * MINHASH_SIZE + index]) equal++;
    }
    // 8-bit values also match by chance (1/256): correct for it (b-bit MinHash)
    const chance = 1 / 256;
    return Math.max(0, (equal / MINHASH_SIZE - chance) / (1 - chance));
  }

  private grow(): void {
    const lines = new Uint32Array(this.lines.length * 2);
    lines.set(this.lines);
    this.lines = lines;
    const signatures = new Uint8Array(this.signatures.length * 2);
    signatures.set(this.signatures);
    this.signatures = signatures;
  }
}
