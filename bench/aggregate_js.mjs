// How long the movie page's sensitivity slider takes to re-derive scenes (frontend/static/js/aggregate.js) for
// films of 2 and 10 hours of per-second scores. Usage: node bench/aggregate_js.mjs
import { aggregateProbabilities } from "../frontend/static/js/aggregate.js";

function scores(n, seed) {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const out = new Float64Array(n);
  let level = 0.1;
  for (let i = 0; i < n; i++) {
    if (rand() < 0.01) level = rand() < 0.3 ? 0.85 : 0.1;
    out[i] = Math.min(1, Math.max(0, level + (rand() - 0.5) * 0.4));
  }
  return out;
}

for (const [label, n] of [["2 h", 7200], ["10 h", 36000]]) {
  const p = scores(n, 42);
  for (let i = 0; i < 5; i++) aggregateProbabilities(p, { cut: 0.5, minFrames: 10, threshold: 0.7 }); // warm up
  const times = [];
  let found = 0;
  for (let i = 0; i < 50; i++) {
    const cut = 0.2 + (i % 30) / 50;
    const t0 = performance.now();
    found = aggregateProbabilities(p, { cut, minFrames: 10, threshold: 0.7 }).length;
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const pct = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(2);
  console.log(`${label} (${n} s): median ${pct(0.5)} ms, p95 ${pct(0.95)} ms per re-derivation (last: ${found} scenes)`);
}
