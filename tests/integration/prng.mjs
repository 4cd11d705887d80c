// A small deterministic PRNG (32-bit state advanced by a Weyl sequence, then mixed): the same
// seed gives the same sequence on every machine, so a failing case or a benchmark corpus can be
// made again from its seed alone. Used by the tokenizer test and bench/tokenizer.
export function prng(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return { float: next, int, pick: (list) => list[int(list.length)] };
}
