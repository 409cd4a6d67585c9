import EnsembleJSON
import EnsembleMetrics
import Foundation

/// What kind of predictions a file holds, and so which metrics apply.
public enum EvalTask: String, CaseIterable, Sendable {
    case classification, regression, text, speech, detection

    /// The metrics this task knows, in the order reports list them.
    public var metrics: [String] {
        switch self {
        case .classification:
            ["accuracy", "balanced_accuracy", "precision", "recall", "f1", "fbeta", "mcc", "roc_auc", "average_precision", "log_loss", "top_k_accuracy"]
        case .regression: ["mse", "rmse", "mae", "median_absolute_error", "mape", "r2", "adjusted_r2", "explained_variance"]
        case .speech: ["wer", "cer"]
        case .text: ["bleu", "chrf", "rouge_l", "jaccard", "perplexity"]
        case .detection:
            ["map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_1", "mar_10", "mar_100", "mar_small", "mar_medium", "mar_large"]
        }
    }

    /// Every metric name any task knows.
    public static var allMetrics: [String] { allCases.flatMap(\.metrics) }

    /// The task a metric name belongs to (the first, in case order).
    public init?(inferredFrom metric: String) {
        guard let task = Self.allCases.first(where: { $0.metrics.contains(metric) }) else { return nil }
        self = task
    }
}

/// Everything one evaluation needs to know: the file, the columns, the metrics and their settings.
/// The CLI fills it from its options; the server (handoffs, release gates) fills it from a stored file.
public struct EvalOptions: Sendable {
    public var file: String
    public var task: EvalTask
    /// The metrics to compute; empty means the task's usual set.
    public var metrics: [String] = []
    public var format: TableReader.Format? = nil
    /// binary, micro, macro or weighted; nil means binary for two classes, else macro.
    public var average: String? = nil
    public var beta: Double = 1
    public var posLabel: String? = nil
    /// The declared classes, comma-separated.
    public var labels: String? = nil
    public var labelColumn = "label"
    public var predictionColumn = "prediction"
    public var scoreColumn: String? = nil
    public var probaColumns: String? = nil
    public var probaColumn: String? = nil
    public var referenceColumn = "reference"
    public var hypothesisColumn = "hypothesis"
    public var logprobsColumn: String? = nil
    public var features: Int? = nil
    public var imageColumn = "image"
    public var truthColumn = "ground_truth"
    public var detectionsColumn = "detections"
    public var boxFormat = "xywh"
    public var k = 2
    /// Bootstrap resamples for confidence intervals (0: none).
    public var bootstrap = 0
    public var confidence = 0.95
    public var seed: UInt64 = 0

    public init(file: String, task: EvalTask) {
        self.file = file
        self.task = task
    }

    /// Field `k` of the current row as a finite number, or a line-numbered error.
    static func number(_ reader: TableReader, _ k: Int, _ what: String, file: String, line: Int) throws -> Double {
        guard let v = reader.withField(k, TableReader.parseDouble) else {
            throw InputError(message: "\(file):\(line): \(what) '\(reader.string(k).prefix(40))' is not a number.")
        }
        guard v.isFinite else { throw InputError(message: "\(file):\(line): \(what) is \(reader.string(k)); metrics need finite numbers.") }
        return v
    }
}

/// How far reading has got: rows read, bytes read, bytes in the file.
public struct EvalProgress: Sendable {
    public var rows: Int
    public var bytesRead: Int64
    public var bytesTotal: Int64
}

public enum Evaluation {
    /// Reads the file and computes the metrics. Bad input (a missing column, a non-number, an
    /// unknown metric) throws ``InputError`` or `MetricError` with a message a person can act on.
    public static func run(_ options: EvalOptions, progress: @escaping (EvalProgress) -> Void = { _ in }) throws -> EvalReport {
        for m in options.metrics where !options.task.metrics.contains(m) {
            let task = options.task.rawValue
            throw InputError(message: "'\(m)' is not a \(task) metric. \(task.capitalized) metrics: \(options.task.metrics.joined(separator: ", ")).")
        }
        let input = EvalInput(options: options, progress: progress)
        var report: EvalReport
        switch options.task {
        case .classification: report = try ClassificationEval(c: options, input: input).run()
        case .regression: report = try RegressionEval(c: options, input: input).run()
        case .speech, .text: report = try TextEval(c: options, input: input).run()
        case .detection: report = try DetectionEval(c: options, input: input).run()
        }
        report.readSeconds = input.seconds
        return report
    }
}

/// Streams the rows of one evaluation's file, reporting progress and the time spent reading.
final class EvalInput {
    let options: EvalOptions
    let progress: (EvalProgress) -> Void
    private(set) var seconds = 0.0

    init(options: EvalOptions, progress: @escaping (EvalProgress) -> Void) {
        self.options = options
        self.progress = progress
    }

    func readAll(_ columns: [String], format: TableReader.Format?, _ row: ([String], Int) throws -> Void) throws -> Int {
        try readRows(columns, format: format) { reader, line in
            try row((0..<columns.count).map(reader.string), line)
        }
    }

    /// Streams the rows, handing the reader itself to `row` so hot paths read fields as bytes.
    func readRows(_ columns: [String], format: TableReader.Format?, _ row: (TableReader, Int) throws -> Void) throws -> Int {
        let started = Date()
        defer { seconds += Date().timeIntervalSince(started) }
        let reader = try TableReader(path: options.file, format: format, columns: columns)
        var rows = 0
        while try reader.nextRow() {
            try row(reader, reader.line)
            rows += 1
            if rows % 65536 == 0 { progress(EvalProgress(rows: rows, bytesRead: reader.bytesRead, bytesTotal: reader.size)) }
        }
        progress(EvalProgress(rows: rows, bytesRead: reader.size, bytesTotal: reader.size))
        guard rows > 0 else { throw InputError(message: "'\(options.file)' has no data rows.") }
        return rows
    }
}

/// The outcome of one evaluation, printable as a table or JSON.
public struct EvalReport: Sendable {
    public var task: String
    public var samples: Int
    public var metrics: [(String, Double)] = []
    public var counts: [(String, Int)] = []
    public var details: [(String, String)] = []
    public var labels: [String]? = nil
    public var confusion: [[Int]]? = nil
    public var intervals: [String: Bootstrap.Interval] = [:]
    /// Seconds spent reading the file (the rest of the run is computing).
    public var readSeconds = 0.0

    public init(task: String, samples: Int) {
        self.task = task
        self.samples = samples
    }

    /// The value of one metric, if it was computed.
    public func value(_ name: String) -> Double? { metrics.first { $0.0 == name }?.1 }

    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "Infinity" : "-Infinity" }
        return "\(v)"
    }

    static func quoted(_ s: String) -> String {
        var w = JSONWriter()
        w.string(s)
        return w.string
    }

    public func json() -> String {
        var parts = ["\"task\": \(Self.quoted(task))", "\"samples\": \(samples)"]
        for (k, v) in details { parts.append("\(Self.quoted(k)): \(Self.quoted(v))") }
        parts.append("\"metrics\": {" + metrics.map { "\(Self.quoted($0.0)): \(Self.number($0.1))" }.joined(separator: ", ") + "}")
        if !counts.isEmpty { parts.append("\"counts\": {" + counts.map { "\(Self.quoted($0.0)): \($0.1)" }.joined(separator: ", ") + "}") }
        if let labels { parts.append("\"labels\": [" + labels.map(Self.quoted).joined(separator: ", ") + "]") }
        if let confusion { parts.append("\"confusion_matrix\": [" + confusion.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" }.joined(separator: ", ") + "]") }
        if !intervals.isEmpty {
            let items = metrics.compactMap { name, _ -> String? in
                guard let i = intervals[name] else { return nil }
                return "\(Self.quoted(name)): {\"lower\": \(Self.number(i.lower)), \"upper\": \(Self.number(i.upper)), \"confidence\": \(i.confidence), \"resamples\": \(i.resamples)}"
            }
            parts.append("\"intervals\": {" + items.joined(separator: ", ") + "}")
        }
        return "{" + parts.joined(separator: ", ") + "}"
    }

    public func table() -> String {
        var lines = ["\(task): \(samples) samples" + details.map { ", \($0.0) \($0.1)" }.joined()]
        let width = max(12, (metrics.map(\.0) + counts.map(\.0)).map(\.count).max() ?? 0)
        for (name, value) in metrics {
            var line = name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + String(format: "%.6f", value)
            if let i = intervals[name] { line += String(format: "   [%.6f, %.6f] %.0f%% CI", i.lower, i.upper, i.confidence * 100) }
            lines.append(line)
        }
        for (name, value) in counts { lines.append(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  \(value)") }
        if let labels, let confusion, labels.count <= 20 {
            lines.append("confusion matrix (rows: true, columns: predicted):")
            let cell = max(6, labels.map(\.count).max() ?? 0, confusion.flatMap { $0 }.map { String($0).count }.max() ?? 0)
            func pad(_ s: String) -> String { String(repeating: " ", count: max(0, cell - s.count)) + s }
            lines.append(pad("") + " " + labels.map(pad).joined(separator: " "))
            for (label, row) in zip(labels, confusion) { lines.append(pad(label) + " " + row.map { pad(String($0)) }.joined(separator: " ")) }
        }
        return lines.joined(separator: "\n")
    }
}
