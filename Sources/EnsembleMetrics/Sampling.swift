import Foundation

/// Exact draws from the binomial and multinomial distributions, for bootstraps that resample counts
/// instead of rows: a resample of n examples that fall in k cells is one multinomial draw of n over
/// the cells' shares, so its cost no longer grows with n.
public enum Sampling {
    /// A uniform double in [0, 1) from the generator's top 53 bits.
    @inline(__always)
    public static func unit(_ rng: inout SplitMix64) -> Double { Double(rng.next() >> 11) * 0x1p-53 }

    /// A uniform integer in 0..<bound, without modulo bias (Lemire's multiply-and-reject).
    @inline(__always)
    public static func below(_ bound: UInt64, _ rng: inout SplitMix64) -> UInt64 {
        var m = rng.next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = rng.next().multipliedFullWidth(by: bound) }
        }
        return m.high
    }

    /// A draw from Binomial(n, p): inversion when n·min(p, 1−p) < 10, else Hörmann's BTRS
    /// (transformed rejection with squeeze, "The generation of binomial random variates", 1993), which
    /// is exact and takes about 1.1 rejection rounds whatever n is.
    public static func binomial(_ n: Int, _ p: Double, _ rng: inout SplitMix64) -> Int {
        guard n > 0, p > 0 else { return 0 }
        guard p < 1 else { return n }
        if p > 0.5 { return n - binomial(n, 1 - p, &rng) }
        let q = 1 - p
        if Double(n) * p < 10 {
            // Inversion: walk the pmf from 0, r(k+1) = r(k)·(n−k)/(k+1)·p/q.
            let s = p / q, a = Double(n + 1) * s
            var r = pow(q, Double(n)), u = unit(&rng), x = 0
            while u > r {
                u -= r
                x += 1
                if x > n { return n }  // rounding left a sliver of mass; start over would bias nothing measurable
                r *= a / Double(x) - s
            }
            return x
        }
        let nd = Double(n)
        let spq = (nd * p * q).squareRoot()
        let b = 1.15 + 2.53 * spq
        let a = -0.0873 + 0.0248 * b + 0.01 * p
        let c = nd * p + 0.5
        let vr = 0.92 - 4.2 / b
        let alpha = (2.83 + 5.1 / b) * spq
        let lpq = log(p / q)
        let m = ((nd + 1) * p).rounded(.down)
        let h = lgamma(m + 1) + lgamma(nd - m + 1)
        while true {
            let u = unit(&rng) - 0.5
            var v = unit(&rng)
            let us = 0.5 - abs(u)
            let k = ((2 * a / us + b) * u + c).rounded(.down)
            if k < 0 || k > nd { continue }
            if us >= 0.07 && v <= vr { return Int(k) }
            v = log(v * alpha / (a / (us * us) + b))
            if v <= h - lgamma(k + 1) - lgamma(nd - k + 1) + (k - m) * lpq { return Int(k) }
        }
    }

    /// A draw of `n` items over cells whose shares are `counts[i] / counts.sum()` (a bootstrap resample
    /// of a set with these cell counts), written into `out`: one binomial per cell, each conditional on
    /// what the cells before it took.
    public static func multinomial(_ n: Int, counts: [Int], into out: inout [Int], _ rng: inout SplitMix64) {
        var remainingItems = n
        var remainingMass = counts.reduce(0, +)
        for i in counts.indices {
            if remainingItems == 0 || remainingMass <= 0 {
                out[i] = 0
                continue
            }
            let x = counts[i] >= remainingMass ? remainingItems : binomial(remainingItems, Double(counts[i]) / Double(remainingMass), &rng)
            out[i] = x
            remainingItems -= x
            remainingMass -= counts[i]
        }
    }
}
