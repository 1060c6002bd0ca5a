/**
 * Statistics for comparing repeated samples, after benchstat (golang.org/x/perf/cmd/benchstat):
 * the median with a distribution-free 95 % confidence interval (order statistics of the binomial),
 * the two-sided Mann–Whitney U test, and the geometric mean of ratios. Pure functions, no I/O.
 */

export const ALPHA = 0.05;
export const CONFIDENCE = 0.95;

export function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** ln C(n, k), exact enough for the binomial tails used here (n ≤ a few thousand). */
function logChoose(n: number, k: number): number {
  let r = 0;
  for (let i = 1; i <= k; i++) r += Math.log(n - k + i) - Math.log(i);
  return r;
}

/** P(X ≤ k) for X ~ Binomial(n, 1/2). */
function binomHalfCdf(n: number, k: number): number {
  let p = 0;
  for (let i = 0; i <= k; i++) p += Math.exp(logChoose(n, i) - n * Math.LN2);
  return Math.min(1, p);
}

/**
 * A distribution-free confidence interval for the median: [x(k), x(n−k+1)] for the largest k with
 * P(Binomial(n, ½) < k) ≤ (1 − confidence)/2. With fewer than 6 samples no such k exists at 95 %
 * and the interval is unbounded (benchstat prints ±∞ there too).
 */
export function medianCI(xs: readonly number[], confidence = CONFIDENCE): { lo: number; hi: number } {
  const s = sorted(xs);
  const n = s.length;
  const tail = (1 - confidence) / 2;
  let k = 0;
  for (let j = 1; j <= n >> 1; j++) {
    if (binomHalfCdf(n, j - 1) <= tail) k = j;
    else break;
  }
  if (k === 0) return { lo: -Infinity, hi: Infinity };
  return { lo: s[k - 1], hi: s[n - k] };
}

/** The ± of a median as a fraction of the median (∞ when the CI is unbounded, 0 for a zero median). */
export function relativeSpread(xs: readonly number[]): number {
  const m = median(xs);
  const { lo, hi } = medianCI(xs);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return Infinity;
  if (m === 0) return lo === 0 && hi === 0 ? 0 : Infinity;
  return Math.max(m - lo, hi - m) / Math.abs(m);
}

/** Exact null distribution of U for sizes n1, n2 without ties: counts of each U value. */
function uDistribution(n1: number, n2: number): number[] {
  // f(i, j, u): arrangements of i x's and j y's with statistic u; rolled into one table per (i, j)
  let prev: number[][] = Array.from({ length: n2 + 1 }, () => [1]);
  for (let i = 1; i <= n1; i++) {
    const cur: number[][] = [[1]];
    for (let j = 1; j <= n2; j++) {
      const a = cur[j - 1]; // last element is a y: U unchanged
      const b = prev[j]; // last element is an x: it beats all j y's
      const len = Math.max(a.length, b.length + j);
      const row = new Array<number>(len).fill(0);
      for (let u = 0; u < a.length; u++) row[u] += a[u];
      for (let u = 0; u < b.length; u++) row[u + j] += b[u];
      cur.push(row);
    }
    prev = cur;
  }
  return prev[n2];
}

function normalCdf(z: number): number {
  // Abramowitz & Stegun 7.1.26 via erf; error < 1.5e-7
  const t = 1 / (1 + 0.3275911 * (Math.abs(z) / Math.SQRT2));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

/**
 * Two-sided Mann–Whitney U test. Exact p-value when there are no ties and the samples are small
 * (n1·n2 ≤ 2,500); otherwise the normal approximation with tie correction and continuity
 * correction. Identical samples give p = 1.
 */
export function mannWhitneyU(xs: readonly number[], ys: readonly number[]): { u: number; p: number } {
  const n1 = xs.length, n2 = ys.length;
  if (n1 === 0 || n2 === 0) return { u: NaN, p: 1 };
  const all = [...xs.map((v) => ({ v, x: true })), ...ys.map((v) => ({ v, x: false }))].sort((a, b) => a.v - b.v);
  const ranks = new Array<number>(all.length);
  let tieTerm = 0;
  let ties = false;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1].v === all[i].v) j++;
    const t = j - i + 1;
    if (t > 1) {
      ties = true;
      tieTerm += t * t * t - t;
    }
    for (let k = i; k <= j; k++) ranks[k] = (i + j) / 2 + 1;
    i = j + 1;
  }
  let r1 = 0;
  for (let i = 0; i < all.length; i++) if (all[i].x) r1 += ranks[i];
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const u = Math.min(u1, n1 * n2 - u1);
  const n = n1 + n2;
  if (!ties && n1 * n2 <= 2500) {
    const dist = uDistribution(n1, n2);
    const total = dist.reduce((a, b) => a + b, 0);
    let tail = 0;
    for (let k = 0; k <= Math.floor(u) && k < dist.length; k++) tail += dist[k];
    return { u: u1, p: Math.min(1, (2 * tail) / total) };
  }
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { u: u1, p: 1 };
  const z = (Math.abs(u1 - mean) - 0.5) / Math.sqrt(variance);
  if (z <= 0) return { u: u1, p: 1 };
  return { u: u1, p: Math.min(1, 2 * (1 - normalCdf(z))) };
}

/** Geometric mean of positive values; NaN when there are none. */
export function geomean(xs: readonly number[]): number {
  const pos = xs.filter((x) => x > 0 && Number.isFinite(x));
  if (pos.length === 0) return NaN;
  return Math.exp(pos.reduce((a, x) => a + Math.log(x), 0) / pos.length);
}

/** Least-squares fit of log y = log a + b log x over points with x, y > 0: y ≈ a·x^b. */
export function powerFit(points: readonly { x: number; y: number }[]): { a: number; b: number; r2: number; n: number } | null {
  const p = points.filter((q) => q.x > 0 && q.y > 0 && Number.isFinite(q.x) && Number.isFinite(q.y));
  const xsUnique = new Set(p.map((q) => q.x));
  if (xsUnique.size < 2) return null;
  const lx = p.map((q) => Math.log(q.x)), ly = p.map((q) => Math.log(q.y));
  const n = p.length;
  const mx = lx.reduce((a, b) => a + b, 0) / n, my = ly.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (lx[i] - mx) * (ly[i] - my);
    sxx += (lx[i] - mx) ** 2;
    syy += (ly[i] - my) ** 2;
  }
  const b = sxy / sxx;
  const a = Math.exp(my - b * mx);
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { a, b, r2, n };
}
