import Foundation

/// The distribution functions the tests of A/B analysis and drift need: normal, Student's t and
/// chi-square, from the regularized incomplete beta and gamma functions (continued fractions
/// evaluated with the modified Lentz method, as in Numerical Recipes §6.2–6.4), to about 1e-14.
public enum Distributions {
    // MARK: Normal

    /// P(Z ≤ x) for a standard normal Z.
    public static func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    /// P(Z > x), accurate far in the upper tail.
    public static func normalSF(_ x: Double) -> Double { 0.5 * erfc(x / 2.0.squareRoot()) }

    /// The x with P(Z ≤ x) = p: Acklam's rational approximation (relative error 1e-9) refined by one
    /// Halley step on erfc, which brings it to machine precision.
    public static func normalQuantile(_ p: Double) -> Double {
        guard p > 0 else { return -.infinity }
        guard p < 1 else { return .infinity }
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - low {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * log(1 - p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let e = 0.5 * erfc(-x / 2.0.squareRoot()) - p
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        x -= u / (1 + x * u / 2)
        return x
    }

    // MARK: Incomplete beta and gamma

    /// The regularized incomplete beta function I_x(a, b). `complement` is 1 − x when the caller has it
    /// more precisely than 1 − x would be (x near 1, as for Student's t with millions of degrees of freedom).
    public static func incompleteBeta(_ a: Double, _ b: Double, _ x: Double, complement: Double? = nil) -> Double {
        let y = complement ?? 1 - x
        guard x > 0 else { return 0 }
        guard y > 0 else { return 1 }
        let logX = x > 0.5 ? log1p(-y) : log(x), logY = y > 0.5 ? log1p(-x) : log(y)
        let front = exp(a * logX + b * logY - logBeta(a, b))
        // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
        if x < (a + 1) / (a + b + 2) { return front * betaFraction(a, b, x) / a }
        return 1 - front * betaFraction(b, a, y) / b
    }

    /// log B(a, b) = lgamma(a) + lgamma(b) − lgamma(a + b). When one argument is large the two big
    /// lgamma terms nearly cancel (at a = 5·10⁶ they are 7·10⁷ and lose 8 digits), so the difference
    /// lgamma(a + b) − lgamma(a) is taken from Stirling's series instead, where nothing large cancels.
    public static func logBeta(_ a: Double, _ b: Double) -> Double {
        let large = max(a, b), small = min(a, b)
        guard large >= 100 else { return lgamma(a) + lgamma(b) - lgamma(a + b) }
        return lgamma(small) - lgammaIncrease(large, small)
    }

    /// lgamma(a + b) − lgamma(a) for a ≥ 100, b > 0: (a − ½)·log1p(b/a) + b·log(a + b) − b plus the
    /// difference of the series Σ B₂ₖ / (2k(2k − 1) z^(2k−1)), k = 1…5 (below 10⁻¹⁹ at z ≥ 100).
    static func lgammaIncrease(_ a: Double, _ b: Double) -> Double {
        func series(_ z: Double) -> Double {
            let r = 1 / z, r2 = r * r
            return r * (1.0 / 12 + r2 * (-1.0 / 360 + r2 * (1.0 / 1260 + r2 * (-1.0 / 1680 + r2 / 1188))))
        }
        return (a - 0.5) * log1p(b / a) + b * log(a + b) - b + (series(a + b) - series(a))
    }

    /// Lentz's continued fraction for I_x(a, b). Near x = (a + 1) / (a + b + 2) with a in the millions
    /// (Student's t at |t| ≈ 1.5–3 and millions of degrees of freedom) its terms cancel: there it agrees
    /// with SciPy (Boost's ibeta) to about 1e-9 relative at 10⁷ degrees of freedom and 1e-8 at 10⁹.
    static func betaFraction(_ a: Double, _ b: Double, _ x: Double) -> Double {
        let tiny = 1e-300
        let qab = a + b, qap = a + 1, qam = a - 1
        var c = 1.0, d = 1 - qab * x / qap
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let m = Double(m), m2 = 2 * m
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return h
    }

    /// The regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a).
    public static func upperIncompleteGamma(_ a: Double, _ x: Double) -> Double {
        guard x > 0 else { return 1 }
        if x < a + 1 {
            // Series for P(a, x).
            var sum = 1 / a, term = sum, ap = a
            for _ in 0..<100_000 {
                ap += 1
                term *= x / ap
                sum += term
                if abs(term) < abs(sum) * 1e-17 { break }
            }
            return max(0, 1 - sum * exp(-x + a * log(x) - lgamma(a)))
        }
        // Continued fraction for Q(a, x).
        let tiny = 1e-300
        var b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d
        for i in 1...100_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return exp(-x + a * log(x) - lgamma(a)) * h
    }

    // MARK: Student's t and chi-square

    /// P(T > t) for Student's t with `df` degrees of freedom (df may be fractional, as Welch's is).
    public static func studentSF(_ t: Double, df: Double) -> Double {
        guard t.isFinite else { return t > 0 ? 0 : 1 }
        let tail = 0.5 * incompleteBeta(df / 2, 0.5, df / (df + t * t), complement: t * t / (df + t * t))
        return t >= 0 ? tail : 1 - tail
    }

    /// The t with P(T ≤ t) = p, by bisection on the CDF from a normal start (to 1e-13 relative).
    public static func studentQuantile(_ p: Double, df: Double) -> Double {
        guard p > 0 else { return -.infinity }
        guard p < 1 else { return .infinity }
        if p < 0.5 { return -studentQuantile(1 - p, df: df) }
        if p == 0.5 { return 0 }
        var low = 0.0, high = max(1, normalQuantile(p))
        while 1 - studentSF(high, df: df) < p { high *= 2 }
        for _ in 0..<200 {
            let mid = (low + high) / 2
            if 1 - studentSF(mid, df: df) < p { low = mid } else { high = mid }
            if high - low <= 1e-14 * high { break }
        }
        return (low + high) / 2
    }

    /// P(X > x) for chi-square with `df` degrees of freedom.
    public static func chiSquareSF(_ x: Double, df: Double) -> Double { upperIncompleteGamma(df / 2, x / 2) }
}
