/**
 * Token buckets by key: `rate` tokens a second, up to `burst`. Keys idle long enough to have
 * refilled are forgotten, so the map cannot grow without bound.
 */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(rate: number, burst = Math.max(1, rate)) {
    this.#rate = rate;
    this.#burst = burst;
  }

  /** Takes a token for `key`; returns 0 when allowed, else the seconds until one is free. */
  take(key: string, now = performance.now()): number {
    this.#sweep(now);
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#rate);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / this.#rate;
  }

  #sweep(now: number): void {
    if (this.#buckets.size < 1024) return;
    const full = (this.#burst / this.#rate) * 1000;
    for (const [key, b] of this.#buckets) if (now - b.at > full) this.#buckets.delete(key);
  }
}
