/// Regression metrics matching scikit-learn (`force_finite=True` conventions for R² and explained
/// variance: 1 for a perfect fit of a constant target, 0 otherwise).
public enum Regression {
    static func check(_ truth: [Double], _ predicted: [Double]) throws(MetricError) {
        guard truth.count == predicted.count else { throw MetricError("\(truth.count) true values but \(predicted.count) predictions.") }
        guard !truth.isEmpty else { throw MetricError("No samples: regression metrics need at least one.") }
    }

    static func mean(_ values: some Sequence<Double>, count: Int) -> Double { compensatedSum(values) / Double(count) }

    /// `mean_squared_error`.
    public static func mse(_ truth: [Double], _ predicted: [Double]) throws(MetricError) -> Double {
        try check(truth, predicted)
        return mean(zip(truth, predicted).lazy.map { ($0 - $1) * ($0 - $1) }, count: truth.count)
    }

    /// `root_mean_squared_error`.
    public static func rmse(_ truth: [Double], _ predicted: [Double]) throws(MetricError) -> Double {
        try mse(truth, predicted).squareRoot()
    }

    /// `mean_absolute_error`.
    public static func mae(_ truth: [Double], _ predicted: [Double]) throws(MetricError) -> Double {
        try check(truth, predicted)
        return mean(zip(truth, predicted).lazy.map { abs($0 - $1) }, count: truth.count)
    }

    /// `median_absolute_error` (the mean of the two middle values for an even count, like NumPy).
    public static func medianAbsoluteError(_ truth: [Double], _ predicted: [Double]) throws(MetricError) -> Double {
        try check(truth, predicted)
        var errors = zip(truth, predicted).map { abs($0 - $1) }
        errors.sort()
        let n = errors.count
        return n % 2 == 1 ? errors[n / 2] : (errors[n / 2 - 1] + errors[n / 2]) / 2
    }

    /// `mean_absolute_percentage_error`: mean of |y − ŷ| / max(|y|, ε), as a fraction (not ×100).
    public static func mape(_ truth: [Double], _ predicted: [Double]) throws(MetricError) -> Double {
        try check(truth, predicted)
        return mean(zip(truth, predicted).lazy.map { abs($0 - $1) / max(abs($0), Double.ulpOfOne) }, count: truth.count)
    }

    /// `r2_score`: 1 − SS_res / SS_tot.
    public static func r2(_ truth: [Double], _ predicted: [Double]) throws(MetricError) -> Double {
        try check(truth, predicted)
        let m = mean(truth, count: truth.count)
        let residual = compensatedSum(zip(truth, predicted).lazy.map { ($0 - $1) * ($0 - $1) })
        let total = compensatedSum(truth.lazy.map { ($0 - m) * ($0 - m) })
        if total == 0 { return residual == 0 ? 1 : 0 }
        return 1 - residual / total
    }

    /// Adjusted R²: 1 − (1 − R²)·(n − 1)/(n − p − 1) for `features` = p predictors.
    public static func adjustedR2(_ truth: [Double], _ predicted: [Double], features: Int) throws(MetricError) -> Double {
        guard features >= 0 else { throw MetricError("The number of features must not be negative.") }
        let n = truth.count
        guard n - features - 1 > 0 else {
            throw MetricError("Adjusted R² needs more samples than features + 1 (\(n) samples, \(features) features).")
        }
        let r = try r2(truth, predicted)
        return 1 - (1 - r) * Double(n - 1) / Double(n - features - 1)
    }

    /// `explained_variance_score`: 1 − Var(y − ŷ) / Var(y).
    public static func explainedVariance(_ truth: [Double], _ predicted: [Double]) throws(MetricError) -> Double {
        try check(truth, predicted)
        let n = truth.count
        let diffMean = mean(zip(truth, predicted).lazy.map { $0 - $1 }, count: n)
        let numerator = mean(zip(truth, predicted).lazy.map { ($0 - $1 - diffMean) * ($0 - $1 - diffMean) }, count: n)
        let m = mean(truth, count: n)
        let denominator = mean(truth.lazy.map { ($0 - m) * ($0 - m) }, count: n)
        if denominator == 0 { return numerator == 0 ? 1 : 0 }
        return 1 - numerator / denominator
    }
}
