import Foundation

/// Text and embedding metrics with a single obvious definition (no reference library needed beyond
/// the formula): token Jaccard, cosine similarity, perplexity.
public enum Text {
    /// Jaccard similarity of the sets of whitespace-separated tokens: |A ∩ B| / |A ∪ B|; 1 when both are empty.
    public static func jaccard(_ a: String, _ b: String) -> Double {
        let x = Set(a.split(whereSeparator: \.isWhitespace)), y = Set(b.split(whereSeparator: \.isWhitespace))
        let union = x.union(y).count
        return union == 0 ? 1 : Double(x.intersection(y).count) / Double(union)
    }

    /// Mean token Jaccard over pairs.
    public static func meanJaccard(references: [String], hypotheses: [String]) throws(MetricError) -> Double {
        guard references.count == hypotheses.count, !references.isEmpty else {
            throw MetricError("Jaccard needs the same positive number of references and hypotheses (\(references.count) and \(hypotheses.count)).")
        }
        return compensatedSum(zip(references, hypotheses).lazy.map { jaccard($0, $1) }) / Double(references.count)
    }

    /// Cosine similarity a·b / (‖a‖‖b‖).
    public static func cosine(_ a: [Double], _ b: [Double]) throws(MetricError) -> Double {
        guard a.count == b.count, !a.isEmpty else { throw MetricError("Cosine similarity needs two vectors of the same positive length (\(a.count) and \(b.count)).") }
        var dot = CompensatedSum(), na = CompensatedSum(), nb = CompensatedSum()
        for (x, y) in zip(a, b) {
            dot.add(x * y)
            na.add(x * x)
            nb.add(y * y)
        }
        let norms = na.value.squareRoot() * nb.value.squareRoot()
        guard norms > 0 else { throw MetricError("Cosine similarity is undefined for a zero vector.") }
        return dot.value / norms
    }

    /// Perplexity exp(−mean log p) from per-token natural-log probabilities.
    public static func perplexity(logProbabilities: [Double]) throws(MetricError) -> Double {
        guard !logProbabilities.isEmpty else { throw MetricError("Perplexity needs at least one token log-probability.") }
        if let bad = logProbabilities.firstIndex(where: { $0.isNaN || $0 > 0 }) {
            throw MetricError("Token \(bad + 1) has log-probability \(logProbabilities[bad]); log-probabilities are ≤ 0 (natural log).")
        }
        return exp(-compensatedSum(logProbabilities) / Double(logProbabilities.count))
    }
}

/// Percentile bootstrap confidence intervals, seeded and reproducible on every platform.
public enum Bootstrap {
    public struct Interval: Sendable, Equatable {
        public var estimate: Double
        public var lower: Double
        public var upper: Double
        public var confidence: Double
        public var resamples: Int
    }

    /// Resamples indices `0..<count` with replacement `resamples` times, evaluates `metric` on each
    /// resample, and returns the (1−c)/2 and (1+c)/2 percentiles (linear interpolation, like NumPy).
    /// Resamples on which the metric is undefined (it throws) are skipped; if more than half are, the
    /// interval is refused.
    public static func interval(
        count: Int, resamples: Int = 1000, confidence: Double = 0.95, seed: UInt64 = 0,
        metric: ([Int]) throws -> Double
    ) throws -> Interval {
        guard count > 0 else { throw MetricError("A bootstrap needs at least one sample.") }
        guard resamples >= 10 else { throw MetricError("Use at least 10 resamples.") }
        guard confidence > 0, confidence < 1 else { throw MetricError("The confidence level must be between 0 and 1, e.g. 0.95.") }
        let estimate = try metric(Array(0..<count))
        var rng = SplitMix64(seed: seed)
        var values: [Double] = []
        values.reserveCapacity(resamples)
        var indices = [Int](repeating: 0, count: count)
        for _ in 0..<resamples {
            for i in 0..<count { indices[i] = Int(rng.next() % UInt64(count)) }
            if let v = try? metric(indices), !v.isNaN { values.append(v) }
        }
        guard values.count * 2 >= resamples else {
            throw MetricError("The metric was undefined on \(resamples - values.count) of \(resamples) resamples; the sample is too small or too unbalanced for a bootstrap.")
        }
        values.sort()
        return Interval(
            estimate: estimate, lower: percentile(sorted: values, (1 - confidence) / 2), upper: percentile(sorted: values, (1 + confidence) / 2),
            confidence: confidence, resamples: values.count)
    }

    /// The `q` quantile of sorted, non-empty values, interpolating linearly between order statistics (NumPy's default).
    public static func percentile(sorted values: [Double], _ q: Double) -> Double {
        let position = q * Double(values.count - 1)
        let lo = Int(position.rounded(.down)), hi = min(lo + 1, values.count - 1)
        return values[lo] + (values[hi] - values[lo]) * (position - Double(lo))
    }
}

/// SplitMix64: a small, fast, well-mixed generator whose sequence is fixed by its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
