// Algorithm 1 (Ziai 2019), an exact port of detector/aggregate.py so the sensitivity slider re-derives the very
// segments the server would store. Per-second labels -> non-overlapping inclusive [start, end] window pairs.
//
// The mean test `count / length >= threshold` is decided exactly as IEEE-754 decides it (as Python does), through a
// small integer fraction a/b equivalent to the threshold for every length up to n; the candidate search is then
// O(n log n) with integer arithmetic, so a two-hour film re-derives within a frame.

// No defaults here: the settings always come from the scene type (the API), whose defaults detector/aggregate.py
// defines once.

function checkParameters(minFrames, threshold) {
  if (typeof minFrames !== "number" || !Number.isInteger(minFrames) || minFrames < 1) {
    throw new RangeError(`min_frames must be a whole number >= 1, got ${minFrames}`);
  }
  if (typeof threshold !== "number" || !(threshold > 0 && threshold <= 1)) {
    throw new RangeError(`threshold must be in (0, 1], got ${threshold}`);
  }
}

function gcd(a, b) {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b) [a, b] = [b, a % b];
  return a;
}

function reduce(num, den) {
  const g = gcd(num, den) || 1n;
  return [num / g, den / g];
}

const view = new DataView(new ArrayBuffer(8));

/** The exact value of a positive finite double as a reduced fraction [num, den] of BigInts. */
function doubleToFraction(x) {
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exponentBits = (bits >> 52n) & 0x7ffn;
  const fraction = bits & ((1n << 52n) - 1n);
  const mantissa = exponentBits === 0n ? fraction : fraction | (1n << 52n);
  const exponent = exponentBits === 0n ? -1074n : exponentBits - 1075n;
  return exponent >= 0n ? [mantissa << exponent, 1n] : reduce(mantissa, 1n << -exponent);
}

/** The next double towards zero (x > 0). */
function nextTowardZero(x) {
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) - 1n);
  return view.getFloat64(0);
}

/** Smallest a/b >= x with 1 <= b <= maxDen, via the continued-fraction walk (x = [num, den] > 0). */
function smallestFractionAtLeast([num, den], maxDen) {
  if (den <= maxDen) return [num, den];
  let p0 = 0n, q0 = 1n, p1 = 1n, q1 = 0n;
  let n = num, d = den;
  for (;;) {
    const a = n / d;
    const q2 = q0 + a * q1;
    if (q2 > maxDen) break;
    [p0, q0, p1, q1] = [p1, q1, p0 + a * p1, q2];
    [n, d] = [d, n - a * d];
  }
  const k = (maxDen - q0) / q1;
  const firstGeq = p1 * den >= num * q1;
  return firstGeq ? reduce(p1, q1) : reduce(p0 + k * p1, q0 + k * q1);
}

/** [a, b]: for every length L <= maxLength and count c, (c / L >= threshold) <=> (c * b >= a * L). */
function thresholdFraction(threshold, maxLength) {
  const [tn, td] = doubleToFraction(threshold);
  const [bn, bd] = doubleToFraction(nextTowardZero(threshold));
  const midpoint = reduce(tn * bd + bn * td, 2n * td * bd);
  const [a, b] = smallestFractionAtLeast(midpoint, BigInt(Math.max(1, maxLength)));
  return [Number(a), Number(b)];
}

function checkedLabels(labels) {
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (v === true || v === 1) out[i] = 1;
    else if (v === false || v === 0) out[i] = 0;
    else throw new RangeError("labels must all be 0 or 1");
  }
  return out;
}

function candidates(p, m, t) {
  const n = p.length;
  const starts = [];
  const ends = [];
  if (n < m) return [starts, ends];
  const [a, b] = thresholdFraction(t, n);
  // D[i] = b * S[i] - a * i; mean(P[s..e]) >= t  <=>  D[e + 1] >= D[s]. Values stay below n^2: exact in doubles.
  const d = new Float64Array(n + 1);
  let ones = 0;
  for (let i = 1; i <= n; i++) {
    ones += p[i - 1];
    d[i] = b * ones - a * i;
  }
  const suffixMax = new Float64Array(n + 1);
  let best = -Infinity;
  for (let j = n; j >= 0; j--) {
    if (j > 0 && p[j - 1] === 1 && d[j] > best) best = d[j];
    suffixMax[j] = best;
  }
  for (let s = 0; s <= n - m; s++) {
    if (p[s] !== 1) continue;
    // Largest j with suffixMax[j] >= D[s] (suffixMax never increases).
    let lo = 0, hi = n, j = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (suffixMax[mid] >= d[s]) { j = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    if (j >= s + m) {
      starts.push(s);
      ends.push(j - 1);
    }
  }
  return [starts, ends];
}

function resolveOverlaps(starts, ends) {
  const keptS = [];
  const keptE = [];
  for (let i = 0; i < starts.length; i++) {
    const s = starts[i];
    const e = ends[i];
    let alive = true;
    while (keptS.length && s <= keptE[keptE.length - 1]) {
      const top = keptS.length - 1;
      if (e - s > keptE[top] - keptS[top]) {
        keptS.pop();
        keptE.pop();
      } else {
        alive = false;
        break;
      }
    }
    if (alive) {
      keptS.push(s);
      keptE.push(e);
    }
  }
  return keptS.map((s, i) => [s, keptE[i]]);
}

/** Algorithm 1 on 0/1 labels: inclusive [start, end] window index pairs, in order. */
export function aggregate(labels, minFrames, threshold) {
  const p = checkedLabels(labels);
  checkParameters(minFrames, threshold);
  const [starts, ends] = candidates(p, minFrames, threshold);
  return resolveOverlaps(starts, ends);
}

/** Per-second probabilities -> [{start_s, end_s, confidence}] exactly as detector.aggregate() returns them. */
export function aggregateProbabilities(
  probabilities,
  { cut, minFrames, threshold, windowS = 1.0 },
) {
  const n = probabilities.length;
  const prefix = new Float64Array(n + 1);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = Number(probabilities[i]);
    if (!Number.isFinite(v)) throw new RangeError("probabilities must be finite numbers; got NaN or infinity");
    prefix[i + 1] = prefix[i] + v;
    labels[i] = v >= cut ? 1 : 0;
  }
  if (!(cut >= 0 && cut <= 1)) throw new RangeError(`cut must be between 0 and 1, got ${cut}`);
  return aggregate(labels, minFrames, threshold).map(([s, e]) => ({
    start_s: s * windowS,
    end_s: (e + 1) * windowS,
    confidence: (prefix[e + 1] - prefix[s]) / (e + 1 - s),
  }));
}

/** Why settings find no scene in these scores: how many seconds pass the cut, and the longest run of them. */
export function passingRuns(probabilities, cut) {
  let passing = 0;
  let longest = 0;
  let run = 0;
  for (const p of probabilities) {
    if (Number(p) >= cut) { passing += 1; run += 1; if (run > longest) longest = run; } else run = 0;
  }
  return { passing, longest };
}
