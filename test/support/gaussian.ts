/** Standard normal draws from a seeded generator (an LCG through Box-Muller): the same numbers every run. */
export function seededNormal(seed: number): () => number {
  let state = seed;
  const uniform = () => ((state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0) + 0.5) / 2 ** 32;
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}
