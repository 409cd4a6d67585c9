/// Class labels as scikit-learn orders them: numerically when every label is a number, otherwise by
/// Unicode code points (Python's string order).
public struct LabelSet: Sendable, Equatable {
    public let labels: [String]
    let index: [String: Int32]

    public init<S: Sequence>(_ values: S) where S.Element == String {
        let unique = Array(Set(values))
        let numbers = unique.map { Double($0) }
        if !unique.isEmpty, numbers.allSatisfy({ $0 != nil && !$0!.isNaN }) {
            labels = zip(unique, numbers).sorted { ($0.1!, $0.0) < ($1.1!, $1.0) }.map(\.0)
        } else {
            labels = unique.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        }
        var index: [String: Int32] = [:]
        for (i, l) in labels.enumerated() { index[l] = Int32(i) }
        self.index = index
    }

    public var count: Int { labels.count }
    public func code(_ label: String) -> Int32? { index[label] }
}

/// Counts of (true class, predicted class) pairs; rows are true classes, columns predictions, both in
/// ``LabelSet`` order — `sklearn.metrics.confusion_matrix`.
public struct ConfusionMatrix: Sendable, Equatable {
    public let classCount: Int
    /// Row-major `classCount × classCount`.
    public private(set) var counts: [Int]

    public init(classCount: Int) {
        self.classCount = classCount
        self.counts = Array(repeating: 0, count: classCount * classCount)
    }

    public init(truth: [Int32], predicted: [Int32], classCount: Int) {
        self.init(classCount: classCount)
        for (t, p) in zip(truth, predicted) { counts[Int(t) * classCount + Int(p)] += 1 }
    }

    public subscript(truth: Int, predicted: Int) -> Int { counts[truth * classCount + predicted] }

    /// Adds `count` samples of (truth, predicted), for counts gathered while streaming.
    public mutating func add(truth: Int, predicted: Int, count: Int = 1) { counts[truth * classCount + predicted] += count }

    public var total: Int { counts.reduce(0, +) }
    public var correct: Int { (0..<classCount).reduce(0) { $0 + self[$1, $1] } }
    /// Samples whose true class is `c` (support).
    public func trueCount(_ c: Int) -> Int { (0..<classCount).reduce(0) { $0 + self[c, $1] } }
    public func predictedCount(_ c: Int) -> Int { (0..<classCount).reduce(0) { $0 + self[$1, c] } }
    public var rows: [[Int]] { (0..<classCount).map { Array(counts[$0 * classCount..<($0 + 1) * classCount]) } }
}

/// How per-class precision, recall and F are combined (scikit-learn's `average`).
public enum Averaging: String, Sendable, CaseIterable {
    /// Only the positive class (two classes at most).
    case binary
    /// Pool true/false positives and negatives over classes.
    case micro
    /// Unweighted mean over classes.
    case macro
    /// Mean over classes weighted by their support.
    case weighted
}

public struct PrecisionRecallF: Sendable, Equatable {
    public var precision: Double
    public var recall: Double
    public var f: Double
}

/// Classification metrics matching scikit-learn (1.5+) to floating-point precision, with its
/// conventions: labels are the sorted union of truth and predictions; a 0/0 ratio is 0
/// (`zero_division="warn"` behaves as 0).
public enum Classification {
    /// `accuracy_score`: the share of exact matches.
    public static func accuracy(_ cm: ConfusionMatrix) -> Double {
        cm.total == 0 ? 0 : Double(cm.correct) / Double(cm.total)
    }

    /// `balanced_accuracy_score`: the mean recall over classes that occur in the truth.
    public static func balancedAccuracy(_ cm: ConfusionMatrix) -> Double {
        var sum = 0.0
        var n = 0
        for c in 0..<cm.classCount {
            let support = cm.trueCount(c)
            guard support > 0 else { continue }
            sum += Double(cm[c, c]) / Double(support)
            n += 1
        }
        return n == 0 ? 0 : sum / Double(n)
    }

    /// `precision_recall_fscore_support(..., beta, average, pos_label)` — F is
    /// `(1+β²)·tp / ((1+β²)·tp + β²·fn + fp)`.
    /// - Parameter positive: the positive class index for `.binary`.
    public static func precisionRecallF(_ cm: ConfusionMatrix, beta: Double = 1, average: Averaging, positive: Int? = nil) throws(MetricError)
        -> PrecisionRecallF
    {
        guard beta >= 0 else { throw MetricError("beta must be non-negative; got \(beta).") }
        let beta2 = beta * beta
        func divide(_ a: Double, _ b: Double) -> Double { b == 0 ? 0 : a / b }
        func score(tp: Double, predicted: Double, actual: Double) -> PrecisionRecallF {
            let f = beta.isInfinite ? divide(tp, actual) : divide((1 + beta2) * tp, beta2 * actual + predicted)
            return PrecisionRecallF(precision: divide(tp, predicted), recall: divide(tp, actual), f: f)
        }
        switch average {
        case .binary:
            guard let positive else { throw MetricError("Binary averaging needs the positive label (--pos-label).") }
            let present = (0..<cm.classCount).filter { cm.trueCount($0) > 0 || cm.predictedCount($0) > 0 }
            guard present.count <= 2 else {
                throw MetricError("The target has \(present.count) classes, but binary averaging takes two; choose --average micro, macro or weighted.")
            }
            return score(tp: Double(cm[positive, positive]), predicted: Double(cm.predictedCount(positive)), actual: Double(cm.trueCount(positive)))
        case .micro:
            return score(tp: Double(cm.correct), predicted: Double(cm.total), actual: Double(cm.total))
        case .macro, .weighted:
            var p = 0.0, r = 0.0, f = 0.0, weights = 0.0
            for c in 0..<cm.classCount {
                let s = score(tp: Double(cm[c, c]), predicted: Double(cm.predictedCount(c)), actual: Double(cm.trueCount(c)))
                let w = average == .macro ? 1 : Double(cm.trueCount(c))
                p += w * s.precision
                r += w * s.recall
                f += w * s.f
                weights += w
            }
            guard weights > 0 else { return PrecisionRecallF(precision: 0, recall: 0, f: 0) }
            return PrecisionRecallF(precision: p / weights, recall: r / weights, f: f / weights)
        }
    }

    /// `matthews_corrcoef`, multiclass form; 0 when undefined.
    public static func matthews(_ cm: ConfusionMatrix) -> Double {
        let s = Double(cm.total), c = Double(cm.correct)
        var tp = 0.0, tt = 0.0, pp = 0.0
        for k in 0..<cm.classCount {
            let t = Double(cm.trueCount(k)), p = Double(cm.predictedCount(k))
            tp += t * p
            tt += t * t
            pp += p * p
        }
        let covYtYp = c * s - tp, covYtYt = s * s - tt, covYpYp = s * s - pp
        guard covYtYt * covYpYp != 0 else { return 0 }
        return covYtYp / (covYtYt * covYpYp).squareRoot()
    }

    // MARK: Scores

    /// Cumulative (false positives, true positives, threshold) at each distinct score, highest first.
    ///
    /// Positive and negative scores are radix-sorted separately (O(n)) and walked together from the top,
    /// grouping equal scores, so ties are exact.
    static func cumulativeCounts(scores: [Double], positives: [Bool]) throws(MetricError) -> (fps: [Int], tps: [Int], thresholds: [Double]) {
        guard scores.count == positives.count else { throw MetricError("\(scores.count) scores but \(positives.count) labels.") }
        if let bad = scores.firstIndex(where: { !$0.isFinite }) { throw MetricError("Score \(bad + 1) is \(scores[bad]); scores must be finite numbers.") }
        var pos: [Double] = [], neg: [Double] = []
        let positiveCount = positives.lazy.filter { $0 }.count
        pos.reserveCapacity(positiveCount)
        neg.reserveCapacity(scores.count - positiveCount)
        for (score, positive) in zip(scores, positives) {
            let s = score == 0 ? 0 : score  // -0.0 and 0.0 are one threshold
            if positive { pos.append(s) } else { neg.append(s) }
        }
        RadixSort.sort(&pos)
        RadixSort.sort(&neg)
        var fps: [Int] = [], tps: [Int] = [], thresholds: [Double] = []
        var i = pos.count - 1, j = neg.count - 1
        var tp = 0, fp = 0
        while i >= 0 || j >= 0 {
            let s = i < 0 ? neg[j] : j < 0 ? pos[i] : max(pos[i], neg[j])
            while i >= 0, pos[i] == s {
                tp += 1
                i -= 1
            }
            while j >= 0, neg[j] == s {
                fp += 1
                j -= 1
            }
            fps.append(fp)
            tps.append(tp)
            thresholds.append(s)
        }
        return (fps, tps, thresholds)
    }

    /// `roc_auc_score` for two classes: the area under the ROC curve, ties counted half (sort-based,
    /// O(n log n)).
    public static func rocAUC(scores: [Double], positives: [Bool]) throws(MetricError) -> Double {
        let (fps, tps, _) = try cumulativeCounts(scores: scores, positives: positives)
        let p = tps.last ?? 0, n = fps.last ?? 0
        guard p > 0, n > 0 else {
            throw MetricError("ROC AUC is undefined when the truth has only one class (\(p) positive, \(n) negative samples).")
        }
        // Trapezoids in integer counts, normalised once at the end.
        var area = 0.0
        var prevFP = 0, prevTP = 0
        for (fp, tp) in zip(fps, tps) {
            area += Double(fp - prevFP) * Double(tp + prevTP)
            prevFP = fp
            prevTP = tp
        }
        return area / 2 / (Double(p) * Double(n))
    }

    public struct ROCPoint: Sendable, Equatable {
        public var falsePositiveRate: Double
        public var truePositiveRate: Double
        /// The score at or above which samples are called positive; `+∞` for the first point.
        public var threshold: Double
    }

    /// `roc_curve(..., drop_intermediate=True)`: the points where the curve bends, starting at (0, 0).
    public static func rocCurve(scores: [Double], positives: [Bool], dropIntermediate: Bool = true) throws(MetricError) -> [ROCPoint] {
        var (fps, tps, thresholds) = try cumulativeCounts(scores: scores, positives: positives)
        if dropIntermediate, fps.count > 2 {
            var keep = [0]
            for i in 1..<(fps.count - 1) where fps[i - 1] - 2 * fps[i] + fps[i + 1] != 0 || tps[i - 1] - 2 * tps[i] + tps[i + 1] != 0 {
                keep.append(i)
            }
            keep.append(fps.count - 1)
            fps = keep.map { fps[$0] }
            tps = keep.map { tps[$0] }
            thresholds = keep.map { thresholds[$0] }
        }
        let p = Double(tps.last ?? 0), n = Double(fps.last ?? 0)
        var points = [ROCPoint(falsePositiveRate: 0, truePositiveRate: 0, threshold: .infinity)]
        for i in fps.indices {
            points.append(ROCPoint(falsePositiveRate: n == 0 ? .nan : Double(fps[i]) / n, truePositiveRate: p == 0 ? .nan : Double(tps[i]) / p, threshold: thresholds[i]))
        }
        return points
    }

    /// `average_precision_score`: Σ (Rₙ − Rₙ₋₁)·Pₙ over distinct thresholds.
    public static func averagePrecision(scores: [Double], positives: [Bool]) throws(MetricError) -> Double {
        let (fps, tps, _) = try cumulativeCounts(scores: scores, positives: positives)
        let p = tps.last ?? 0
        guard p > 0 else { throw MetricError("Average precision is undefined when there are no positive samples.") }
        var ap = 0.0
        var prevRecall = 0.0
        for (fp, tp) in zip(fps, tps) {
            let recall = Double(tp) / Double(p)
            let precision = Double(tp) / Double(tp + fp)
            ap += (recall - prevRecall) * precision
            prevRecall = recall
        }
        return ap
    }

    /// Multiclass `roc_auc_score(multi_class="ovr", average=macro|weighted)`: each class against the
    /// rest, on its own probability column.
    /// - Parameter probabilities: row-major `n × classCount`.
    public static func rocAUCOneVsRest(truth: [Int32], probabilities: [Double], classCount: Int, average: Averaging) throws(MetricError) -> Double {
        guard average == .macro || average == .weighted else { throw MetricError("One-vs-rest ROC AUC averages 'macro' or 'weighted'.") }
        guard probabilities.count == truth.count * classCount else { throw MetricError("Expected \(classCount) probabilities per sample.") }
        var total = 0.0, weights = 0.0
        var column = [Double](repeating: 0, count: truth.count)
        for c in 0..<classCount {
            for i in truth.indices { column[i] = probabilities[i * classCount + c] }
            let positives = truth.map { Int($0) == c }
            let support = Double(positives.lazy.filter { $0 }.count)
            let auc = try rocAUC(scores: column, positives: positives)
            let w = average == .macro ? 1 : support
            total += w * auc
            weights += w
        }
        return total / weights
    }

    /// `log_loss` with probabilities clipped to [ε, 1−ε], ε = 2.22e-16 (float64 machine epsilon).
    public static func logLoss(truth: [Int32], probabilities: [Double], classCount: Int) throws(MetricError) -> Double {
        guard probabilities.count == truth.count * classCount else { throw MetricError("Expected \(classCount) probabilities per sample.") }
        guard !truth.isEmpty else { throw MetricError("Log loss needs at least one sample.") }
        let eps = Double.ulpOfOne
        var sum = CompensatedSum()
        for (i, t) in truth.enumerated() {
            let p = min(max(probabilities[i * classCount + Int(t)], eps), 1 - eps)
            sum.add(-Foundation.log(p))
        }
        return sum.value / Double(truth.count)
    }

    /// `top_k_accuracy_score`: the share of samples whose true class is among the `k` highest scores
    /// (ties broken towards the later class, as scikit-learn's reversed stable sort does).
    public static func topKAccuracy(truth: [Int32], scores: [Double], classCount: Int, k: Int) throws(MetricError) -> Double {
        guard k >= 1 else { throw MetricError("k must be at least 1.") }
        guard scores.count == truth.count * classCount else { throw MetricError("Expected \(classCount) scores per sample.") }
        guard !truth.isEmpty else { return 0 }
        if k >= classCount { return 1 }
        var hits = 0
        for (i, t) in truth.enumerated() {
            let row = i * classCount
            let own = scores[row + Int(t)]
            // Classes ranked above the true one: higher score, or equal score and a later index.
            var above = 0
            for c in 0..<classCount where c != Int(t) {
                let s = scores[row + c]
                if s > own || (s == own && c > Int(t)) { above += 1 }
            }
            if above < k { hits += 1 }
        }
        return Double(hits) / Double(truth.count)
    }
}

import Foundation
