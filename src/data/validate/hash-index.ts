import type { Hash64 } from "./fingerprint.js";

/**
 * A map from 64-bit hashes to uint32 values (line numbers, example ordinals) in typed arrays:
 * 12 bytes a slot, at most half the slots used, grown by doubling up to `maxEntries`. When full it
 * keeps answering lookups but stores nothing more (`full` turns true), so memory stays bounded
 * whatever the file size. Keeps the first value stored under a key.
 */
export class HashIndex {
  private highs: Uint32Array;
  private lows: Uint32Array;
  /** value + 1; 0 marks an empty slot */
  private values: Uint32Array;
  private mask: number;
  private count = 0;
  full = false;

  constructor(
    readonly maxEntries: number,
    initialSlots = 1 << 12,
  ) {
    this.highs = new Uint32Array(initialSlots);
    this.lows = new Uint32Array(initialSlots);
    this.values = new Uint32Array(initialSlots);
    this.mask = initialSlots - 1;
  }

  get size(): number {
    return this.count;
  }

  /** the value stored under `key`, or -1 */
  get(key: Hash64): number {
    let slot = (key.low ^ Math.imul(key.high, 0x9e3779b1)) & this.mask;
    for (;;) {
      const stored = this.values[slot] as number;
      if (stored === 0) return -1;
      if (this.highs[slot] === key.high && this.lows[slot] === key.low) return stored - 1;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Stores `value` under `key` unless the key is present; returns the earlier value or -1. */
  getOrSet(key: Hash64, value: number): number {
    const existing = this.get(key);
    if (existing !== -1) return existing;
    if (this.count >= this.maxEntries) {
      this.full = true;
      return -1;
    }
    if ((this.count + 1) * 2 > this.values.length) this.grow();
    this.insert(key.high, key.low, value + 1);
    this.count++;
    return -1;
  }

  private insert(high: number, low: number, storedValue: number): void {
    let slot = (low ^ Math.imul(high, 0x9e3779b1)) & this.mask;
    while (this.values[slot] !== 0) slot = (slot + 1) & this.mask;
    this.highs[slot] = high;
    this.lows[slot] = low;
    this.values[slot] = storedValue;
  }

  private grow(): void {
    const { highs, lows, values } = this;
    const slots = values.length * 2;
    this.highs = new Uint32Array(slots);
    this.lows = new Uint32Array(slots);
    this.values = new Uint32Array(slots);
    this.mask = slots - 1;
    for (let slot = 0; slot < values.length; slot++) {
      const stored = values[slot] as number;
      if (stored !== 0) this.insert(highs[slot] as number, lows[slot] as number, stored);
    }
  }
}
