/**
 * A seeded pseudo-random generator for the property tests, so that a failure
 * repeats.
 *
 * @module
 */

/** A small deterministic generator (xorshift): numbers in [0, 1) from `seed`. */
export function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}
