import Foundation

/// Distances and tests between a reference sample and a current one, column by column: for numbers the
/// two-sample Kolmogorov–Smirnov test, the Wasserstein distance and the population stability index; for
/// categories Pearson's chi-square on the 2 × k table and the Jensen–Shannon distance. Each equals its
/// SciPy counterpart to 1e-9 (tests/compat/test_drift_oracle.py).
public enum Drift {
    // MARK: Kolmogorov–Smirnov

    /// What one pass over two sorted samples gives: the KS statistic D = sup |F_a − F_b| over every
    /// value of either sample, the first Wasserstein distance ∫ |F_a − F_b| dx, and each sample's counts
    /// in the bins (−∞, e₁], (e₁, e₂], …, (e_k, ∞) of the given edges.
    public struct SortedComparison: Sendable {
        public var statistic: Double
        public var wasserstein: Double
        public var binsA: [Int]
        public var binsB: [Int]
    }

    /// Merges two ascending sequences of `countA` and `countB` values (neither empty) in one pass, so
    /// samples larger than memory can be compared from sorted runs on disk.
    public static func compareSorted<A: IteratorProtocol<Double>, B: IteratorProtocol<Double>>(
        _ a: inout A, count countA: Int, _ b: inout B, count countB: Int, edges: [Double] = []
    ) -> SortedComparison {
        let na = Double(countA), nb = Double(countB)
        var x = a.next(), y = b.next()
        var i = 0, j = 0, d = 0.0, w = 0.0
        var previous = 0.0, previousGap = 0.0, first = true
        var binsA = [Int](repeating: 0, count: edges.count + 1), binsB = binsA, bin = 0
        while x != nil || y != nil {
            // The next distinct value, and every copy of it in both samples.
            let v: Double
            if let xv = x, let yv = y { v = min(xv, yv) } else { v = x ?? y! }
            if !first { w += previousGap * (v - previous) }
            while bin < edges.count && v > edges[bin] { bin += 1 }
            while let xv = x, xv == v {
                i += 1
                binsA[bin] += 1
                x = a.next()
            }
            while let yv = y, yv == v {
                j += 1
                binsB[bin] += 1
                y = b.next()
            }
            let gap = abs(Double(i) / na - Double(j) / nb)
            d = max(d, gap)
            (previous, previousGap, first) = (v, gap, false)
        }
        return SortedComparison(statistic: d, wasserstein: w, binsA: binsA, binsB: binsB)
    }

    /// The two-sided asymptotic p-value of D between samples of `m` and `n` values, as SciPy's
    /// `ks_2samp(method="asymp")`: the one-sample Kolmogorov distribution with round(m·n / (m + n)) observations.
    public static func ksPValue(_ d: Double, _ m: Int, _ n: Int) -> Double {
        let big = Double(max(m, n)), small = Double(min(m, n))
        let effective = Int((big * small / (big + small)).rounded(.toNearestOrEven))
        return min(1, max(0, kolmogorovSF(n: max(effective, 1), d)))
    }

    /// The two-sample test on samples in memory (both non-empty; NaN otherwise).
    public static func kolmogorovSmirnov(_ a: [Double], _ b: [Double]) -> (statistic: Double, pValue: Double) {
        guard !a.isEmpty, !b.isEmpty else { return (.nan, .nan) }
        var sa = a.sorted().makeIterator(), sb = b.sorted().makeIterator()
        let d = compareSorted(&sa, count: a.count, &sb, count: b.count).statistic
        return (d, ksPValue(d, a.count, b.count))
    }

    /// P(D_n > x) for the two-sided one-sample statistic with n observations, choosing among exact and
    /// asymptotic methods by region as Simard and L'Ecuyer (2011) recommend: Ruben–Gambino's closed forms
    /// at the edges, Durbin's matrix (Marsaglia–Tsang–Wang) where it is cheap, twice Smirnov's one-sided
    /// tail far out, and the Pelz–Good expansion for large n.
    public static func kolmogorovSF(n: Int, _ x: Double) -> Double {
        guard x > 0 else { return 1 }
        guard x < 1 else { return 0 }
        let nd = Double(n), t = nd * x
        if t <= 1 {
            if t <= 0.5 { return 1 }
            // n!/n^n · (2t − 1)^n
            let cdf = exp(logFactorialOverPower(n) + nd * log(2 * t - 1))
            return 1 - cdf
        }
        if t >= nd - 1 { return 2 * pow(1 - x, nd) }
        if x >= 0.5 { return 2 * smirnovSF(n: n, x) }
        let nx2 = t * x
        if n <= 140 {
            // Durbin's matrix is exact everywhere; SciPy uses Pomeranz's (also exact) between 0.754693 and 4.
            if nx2 <= 4 { return 1 - durbin(n: n, x) }
            return 2 * smirnovSF(n: n, x)
        }
        if nx2 >= 370 { return 0 }
        if nx2 >= 2.2 { return 2 * smirnovSF(n: n, x) }
        if nx2 >= 18 { return 0 }
        if n <= 100_000 && nd * pow(x, 1.5) <= 1.4 { return 1 - durbin(n: n, x) }
        return 1 - pelzGood(n: n, x)
    }

    /// log(n! / nⁿ), by Stirling's series with the n·log n terms cancelled first.
    static func logFactorialOverPower(_ n: Int) -> Double {
        if n <= 140 {
            var s = 0.0
            for i in 1...n { s += log(Double(i) / Double(n)) }
            return s
        }
        let nd = Double(n), r = 1 / nd, r2 = r * r
        // Σ B_2j / (2j(2j−1) n^(2j−1)), j = 1…8, by Horner in 1/n².
        let c: [Double] = [-2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3, 8.4175084175084175084e-4,
                           -5.952380952380952381e-4, 7.9365079365079365079e-4, -2.7777777777777777778e-3, 8.3333333333333333333e-2]
        var series = 0.0
        for coefficient in c { series = series * r2 + coefficient }
        return log(nd) / 2 - nd + log(2 * Double.pi) / 2 + r * series
    }

    /// P(D⁺_n ≥ x), the one-sided tail, exactly by the Birnbaum–Tingey sum (terms in log space).
    static func smirnovSF(n: Int, _ x: Double) -> Double {
        guard x > 0 else { return 1 }
        guard x < 1 else { return 0 }
        let nd = Double(n)
        let last = Int((nd * (1 - x)).rounded(.down))
        var logs: [Double] = []
        logs.reserveCapacity(last + 1)
        let logN: Double = lgamma(nd + 1)
        for j in 0...last {
            let jd = Double(j)
            let a = 1 - x - jd / nd, b = x + jd / nd
            if a <= 0 && nd - jd > 0 { continue }
            let choose: Double = logN - lgamma(jd + 1) - lgamma(nd - jd + 1)
            let powers: Double = (nd - jd > 0 ? (nd - jd) * log(a) : 0) + (jd - 1) * log(b)
            let term = choose + powers
            logs.append(term)
        }
        guard let top = logs.max() else { return 0 }
        let sum = logs.reduce(0) { $0 + exp($1 - top) }
        return min(1, x * exp(top) * sum)
    }

    /// P(D_n ≤ x) by Durbin's matrix: the k-th diagonal entry of Hⁿ times n!/nⁿ, with H the (2k−1)-square
    /// matrix of Marsaglia, Tsang and Wang (2003), powers rescaled by 2¹²⁸ to stay in range.
    static func durbin(n: Int, _ x: Double) -> Double {
        let nd = Double(n) * x
        if nd <= 0.5 { return 0 }
        let k = Int(nd.rounded(.up)), h = Double(k) - nd, m = 2 * k - 1
        var factorial = [Double](repeating: 1, count: m + 1)  // 1/i!
        for i in 1...m { factorial[i] = factorial[i - 1] / Double(i) }
        var hm = [Double](repeating: 0, count: m * m)
        for r in 0..<m {
            for c in 0..<m where r - c + 1 >= 0 { hm[r * m + c] = factorial[r - c + 1] }
        }
        for r in 0..<m { hm[r * m] = (1 - pow(h, Double(r + 1))) * factorial[r + 1] }
        for c in 0..<m { hm[(m - 1) * m + c] = (1 - pow(h, Double(m - c))) * factorial[m - c] }
        hm[(m - 1) * m] = (1 - 2 * pow(h, Double(m)) + pow(max(0, 2 * h - 1), Double(m))) * factorial[m]

        func multiply(_ a: [Double], _ b: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: m * m)
            for r in 0..<m {
                for i in 0..<m {
                    let v = a[r * m + i]
                    if v == 0 { continue }
                    for c in 0..<m { out[r * m + c] += v * b[i * m + c] }
                }
            }
            return out
        }
        let scale = 0x1p128, limit = 0x1p128
        var power = [Double](repeating: 0, count: m * m)
        for i in 0..<m { power[i * m + i] = 1 }
        var base = hm, remaining = n, exponent = 0, baseExponent = 0
        while remaining > 0 {
            if remaining % 2 == 1 {
                power = multiply(power, base)
                exponent += baseExponent
            }
            base = multiply(base, base)
            baseExponent *= 2
            if abs(base[(k - 1) * m + (k - 1)]) > limit {
                for i in base.indices { base[i] /= scale }
                baseExponent += 128
            }
            remaining /= 2
        }
        var p = power[(k - 1) * m + (k - 1)]
        for i in 1...n {
            p = Double(i) * p / Double(n)
            if abs(p) < 1 / limit {
                p *= scale
                exponent -= 128
            }
        }
        return min(1, max(0, exponent == 0 ? p : scalbn(p, exponent)))
    }

    /// P(D_n ≤ x) by Pelz and Good's expansion (1976): the Li-Chien–Korolyuk terms K₀…K₃ in n^(−1/2)
    /// rewritten with Jacobi theta functions for small z = x√n.
    static func pelzGood(n: Int, _ x: Double) -> Double {
        let pi2 = Double.pi * Double.pi, pi4 = pi2 * pi2, pi6 = pi4 * pi2
        let z = Double(n).squareRoot() * x
        let z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2
        let logQ = -pi2 / 8 / z2
        if logQ < -708 { return 0 }
        var q = exp(logQ)
        let k1a = -z2, k1b = pi2 / 4
        let k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4, k2c = pi4 * (1 - 2 * z2) / 16
        let k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16
        let k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * z6 * z2
        var k = [0.0, 0.0, 0.0, 0.0]
        let maxK = Int((16 * z / Double.pi).rounded(.up))
        // Σ over odd m = 2j − 1 of c(m) q^(m²), by Horner in q⁸ʲ from the largest j down.
        var j = maxK
        while j >= 1 {
            let m = Double(2 * j - 1), m2 = m * m, m4 = m2 * m2, m6 = m4 * m2
            let qPower = pow(q, 8 * Double(j))
            let terms = [1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6]
            for i in 0..<4 { k[i] = k[i] * qPower + terms[i] }
            j -= 1
        }
        let root2pi = (2 * Double.pi).squareRoot()
        let divisors = [z, 6 * z4, 72 * z6 * z, 6480 * z6 * z4]
        for i in 0..<4 { k[i] = k[i] * q * root2pi / divisors[i] }
        // The sums over every integer j: K₂ gains (π²j²) q^(j²), K₃ gains (3π²j²z² − π⁴j⁴) q^(j²).
        q = exp(-pi2 / 2 / z2)
        var extra2 = 0.0, extra3 = 0.0
        let sqrt3z = 3.0.squareRoot() * z
        j = maxK
        while j >= 1 {
            let jd = Double(j), j2 = jd * jd, qj = pow(q, j2), jpi = Double.pi * jd
            extra2 += j2 * qj
            extra3 += (sqrt3z + jpi) * (sqrt3z - jpi) * j2 * qj
            j -= 1
        }
        k[2] += extra2 * pi2 * root2pi / (-36 * z3)
        k[3] += extra3 * pi2 * root2pi / (216 * z6)
        let nd = Double(n)
        return k[0] + k[1] / nd.squareRoot() + k[2] / nd + k[3] / (nd * nd.squareRoot())
    }

    // MARK: Wasserstein and PSI

    /// The first Wasserstein distance between two samples in memory (SciPy's `wasserstein_distance`).
    public static func wasserstein(_ a: [Double], _ b: [Double]) -> Double {
        guard !a.isEmpty, !b.isEmpty else { return .nan }
        var sa = a.sorted().makeIterator(), sb = b.sorted().makeIterator()
        return compareSorted(&sa, count: a.count, &sb, count: b.count).wasserstein
    }

    /// The population stability index over ten bins cut at the reference's deciles (linear interpolation,
    /// as NumPy's `quantile`); each bin is (edge₍ᵢ₋₁₎, edgeᵢ], shares floored at 10⁻⁴ so an empty bin counts.
    public static func psi(reference: [Double], current: [Double]) -> Double {
        guard !reference.isEmpty, !current.isEmpty else { return .nan }
        let sorted = reference.sorted()
        var edgeReader = sorted.makeIterator()
        let edges = decileEdges(&edgeReader, count: sorted.count)
        var sa = sorted.makeIterator(), sb = current.sorted().makeIterator()
        let c = compareSorted(&sa, count: sorted.count, &sb, count: current.count, edges: edges)
        return psi(referenceBins: c.binsA, currentBins: c.binsB)
    }

    /// PSI from the two samples' counts in the same bins.
    public static func psi(referenceBins r: [Int], currentBins c: [Int]) -> Double {
        let nr = Double(r.reduce(0, +)), nc = Double(c.reduce(0, +))
        return zip(r, c).reduce(0) { total, pair in
            let a = max(Double(pair.0) / nr, 1e-4), b = max(Double(pair.1) / nc, 1e-4)
            return total + (b - a) * log(b / a)
        }
    }

    /// The nine inner deciles of an ascending sequence of `count` values, by NumPy's linear quantile.
    public static func decileEdges<S: IteratorProtocol<Double>>(_ sorted: inout S, count: Int) -> [Double] {
        guard count > 0 else { return [] }
        let positions = (1...9).map { Double($0) / 10 * Double(count - 1) }
        var wanted: [Int: Double] = [:]
        for p in positions {
            let low = Int(p.rounded(.down))
            wanted[low] = .nan
            wanted[min(low + 1, count - 1)] = .nan
        }
        let last = wanted.keys.max()!
        var index = 0
        while index <= last, let v = sorted.next() {
            if wanted[index] != nil { wanted[index] = v }
            index += 1
        }
        return positions.map { p in
            let low = Int(p.rounded(.down)), high = min(low + 1, count - 1)
            return wanted[low]! + (wanted[high]! - wanted[low]!) * (p - Double(low))
        }
    }

    // MARK: Categories

    /// Pearson's chi-square on the 2 × k table of category counts (SciPy's `chi2_contingency` without
    /// Yates' correction): the statistic, its degrees of freedom (k − 1) and p-value.
    public static func chiSquare(reference: [Int], current: [Int]) -> (statistic: Double, df: Int, pValue: Double) {
        let kept = zip(reference, current).filter { $0.0 + $0.1 > 0 }
        let rowA = Double(kept.reduce(0) { $0 + $1.0 }), rowB = Double(kept.reduce(0) { $0 + $1.1 })
        let total = rowA + rowB
        guard kept.count > 1, rowA > 0, rowB > 0 else { return (0, 0, 1) }
        var chi = 0.0
        for (a, b) in kept {
            let column = Double(a + b)
            let ea = rowA * column / total, eb = rowB * column / total
            chi += (Double(a) - ea) * (Double(a) - ea) / ea + (Double(b) - eb) * (Double(b) - eb) / eb
        }
        let df = kept.count - 1
        return (chi, df, Distributions.chiSquareSF(chi, df: Double(df)))
    }

    /// The Jensen–Shannon distance (the square root of the divergence, base 2, so 0 to 1) between two
    /// count vectors over the same categories (SciPy's `jensenshannon(p, q, base=2)`).
    public static func jensenShannon(_ p: [Int], _ q: [Int]) -> Double {
        let sp = Double(p.reduce(0, +)), sq = Double(q.reduce(0, +))
        var divergence = 0.0
        for (a, b) in zip(p, q) {
            let pa = Double(a) / sp, qb = Double(b) / sq, m = (pa + qb) / 2
            if pa > 0 { divergence += pa * log(pa / m) }
            if qb > 0 { divergence += qb * log(qb / m) }
        }
        return (max(0, divergence / 2) / log(2)).squareRoot()
    }
}
