//! Small, fast, dependency-free randomness: a SplitMix64 generator, a stateless
//! hash for per-index decisions, and a keyed bijection on `[0, n)`.
//!
//! Everything here is integer arithmetic except the few floating-point helpers
//! (`exp`, `log_uniform`, `pareto`), which use `f64::ln`/`powf`; those are exact
//! on one platform, so a seed reproduces the same bytes on the same target.

/// The SplitMix64 finaliser: a strong 64-bit mixing function.
#[inline]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hash of two words, for decisions that depend only on (seed, index).
#[inline]
pub(crate) fn hash2(a: u64, b: u64) -> u64 {
    mix(a ^ mix(b.wrapping_add(0x9e37_79b9_7f4a_7c15)))
}

/// SplitMix64: one `u64` of state, passes BigCrush, about 1 ns a draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    #[inline]
    pub(crate) fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in `[0, n)` (0 when `n` is 0), by multiply-shift.
    #[inline]
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[lo, hi]`.
    #[inline]
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        debug_assert!(lo <= hi);
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub(crate) fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p` (a fraction, not a percentage).
    #[inline]
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Exponentially distributed with the given mean.
    pub(crate) fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }

    /// Log-uniform in `[lo, hi)`: as many small values per decade as large ones.
    pub(crate) fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo * (hi / lo).powf(self.f64())
    }

    /// Pareto with shape `alpha` (> 1) scaled to mean 1, truncated at `cap`.
    pub(crate) fn pareto_mean1(&mut self, alpha: f64, cap: f64) -> f64 {
        let xm = (alpha - 1.0) / alpha;
        let u = 1.0 - self.f64(); // (0, 1]
        (xm / u.powf(1.0 / alpha)).min(cap)
    }

    /// Picks an index from a table of integer weights.
    pub(crate) fn weighted<T: Copy>(&mut self, table: &[(T, u32)]) -> T {
        let total: u64 = table.iter().map(|&(_, w)| u64::from(w)).sum();
        let mut x = self.below(total);
        for &(v, w) in table {
            if x < u64::from(w) {
                return v;
            }
            x -= u64::from(w);
        }
        table[table.len() - 1].0
    }
}

/// A keyed pseudo-random bijection on `[0, n)`: a four-round Feistel network on
/// the smallest even-width power of two that holds `n`, with cycle walking.
#[derive(Debug, Clone)]
pub(crate) struct Permutation {
    n: u64,
    half_bits: u32,
    mask: u64,
    keys: [u64; 4],
}

impl Permutation {
    pub(crate) fn new(n: u64, seed: u64) -> Permutation {
        let bits = if n <= 1 {
            2
        } else {
            64 - (n - 1).leading_zeros()
        };
        let half_bits = bits.div_ceil(2).max(1);
        let mut rng = Rng::new(seed ^ 0x7065_726d_7574_6521);
        Permutation {
            n,
            half_bits,
            mask: (1u64 << half_bits) - 1,
            keys: [
                rng.next_u64(),
                rng.next_u64(),
                rng.next_u64(),
                rng.next_u64(),
            ],
        }
    }

    #[inline]
    fn feistel(&self, x: u64) -> u64 {
        let mut l = x >> self.half_bits;
        let mut r = x & self.mask;
        for k in self.keys {
            let f = mix(r ^ k) & self.mask;
            (l, r) = (r, l ^ f);
        }
        (l << self.half_bits) | r
    }

    /// The image of `x` (which must be below `n`).
    #[inline]
    pub(crate) fn apply(&self, x: u64) -> u64 {
        debug_assert!(x < self.n);
        let mut y = self.feistel(x);
        while y >= self.n {
            y = self.feistel(y);
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_a_bijection() {
        for n in [1u64, 2, 3, 7, 100, 1000, 4097] {
            let p = Permutation::new(n, 42);
            let mut seen = vec![false; n as usize];
            for x in 0..n {
                let y = p.apply(x);
                assert!(y < n);
                assert!(!seen[y as usize], "n={n} x={x} y={y} twice");
                seen[y as usize] = true;
            }
        }
    }

    #[test]
    fn distributions_stay_in_range() {
        let mut r = Rng::new(7);
        for _ in 0..10_000 {
            assert!(r.below(10) < 10);
            let x = r.range(5, 9);
            assert!((5..=9).contains(&x));
            let f = r.f64();
            assert!((0.0..1.0).contains(&f));
            let l = r.log_uniform(1.0, 100.0);
            assert!((1.0..=100.0).contains(&l));
            let p = r.pareto_mean1(1.5, 50.0);
            assert!(p > 0.0 && p <= 50.0);
        }
        let mean: f64 = (0..100_000).map(|_| r.pareto_mean1(1.5, 1e9)).sum::<f64>() / 1e5;
        assert!((0.8..1.3).contains(&mean), "pareto mean {mean}");
    }
}
