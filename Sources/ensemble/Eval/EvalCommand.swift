import ArgumentParser
import EnsembleClient
import EnsembleJSON
import EnsembleMetrics
import Foundation

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Compute evaluation metrics from a predictions file (CSV or JSON Lines).",
        discussion: """
            Metrics match scikit-learn (classification, regression) and jiwer (speech) to floating-point
            precision; docs/METRICS.md lists each formula and its reference.

            Examples:
              ensemble eval preds.csv --task classification --label-column y --prediction-column yhat
              ensemble eval preds.csv --task classification --score-column p --metric roc_auc --metric average_precision
              ensemble eval preds.jsonl --task classification --proba-column probs --metric log_loss --metric top_k_accuracy --k 3
              ensemble eval preds.csv --task regression --features 12 --json
              ensemble eval asr.csv --task speech --reference-column ref --hypothesis-column hyp
              ensemble eval preds.csv --metric f1 --average macro --run 0f21… --server http://127.0.0.1:5000
            """
    )

    enum Task: String, ExpressibleByArgument, CaseIterable { case classification, regression, text, speech, detection }

    @Argument(help: "Predictions file: CSV with a header row, or JSON Lines (one object per line).") var file: String
    @Option(help: "classification, regression, text, speech or detection. Inferred from --metric when omitted.") var task: Task?
    @Option(name: .customLong("metric"), help: "A metric to compute (repeatable); default: the task's usual set.") var metrics: [String] = []
    @Option(help: "Precision/recall/F averaging: binary, micro, macro or weighted. Default: binary for two classes, else macro.")
    var average: String?
    @Option(help: "β for fbeta.") var beta: Double = 1
    @Option(help: "The positive class for binary metrics. Default: '1' if present, else the greater label.") var posLabel: String?
    @Option(help: "The classes, in order (comma-separated); any other label in the file is an error.") var labels: String?
    @Option(help: "Column with the true label or value.") var labelColumn = "label"
    @Option(help: "Column with the predicted label or value. For classification it may be omitted when probabilities are given (argmax).")
    var predictionColumn = "prediction"
    @Option(help: "Column with the positive class's score (binary ROC AUC, average precision, log loss).") var scoreColumn: String?
    @Option(help: "Comma-separated columns with one probability per class, in class order.") var probaColumns: String?
    @Option(help: "Column holding a JSON array of class probabilities, in class order.") var probaColumn: String?
    @Option(help: "Column with the reference text (speech, text).") var referenceColumn = "reference"
    @Option(help: "Column with the hypothesis text (speech, text).") var hypothesisColumn = "hypothesis"
    @Option(help: "Column holding a JSON array of per-token natural-log probabilities (text: perplexity).") var logprobsColumn: String?
    @Option(help: "Number of features, for adjusted_r2.") var features: Int?
    @Option(help: "Detection: column with the image id.") var imageColumn = "image"
    @Option(help: "Detection: column with the ground-truth boxes [{bbox, category, iscrowd?, area?}].") var truthColumn = "ground_truth"
    @Option(help: "Detection: column with the detections [{bbox, category, score}].") var detectionsColumn = "detections"
    @Option(help: "Detection: box coordinates as xywh (COCO) or xyxy.") var boxFormat = "xywh"
    @Option(help: "k for top_k_accuracy.") var k: Int = 2
    @Option(help: "Input format: csv or jsonl. Default: from the file extension.") var format: String?
    @Option(help: "Bootstrap resamples for confidence intervals (0: none).") var bootstrap: Int = 0
    @Option(help: "Confidence level of bootstrap intervals.") var confidence: Double = 0.95
    @Option(help: "Seed of the bootstrap's random generator.") var seed: UInt64 = 0
    @Flag(help: "Print JSON instead of a table.") var json = false
    @Flag(help: "No progress display.") var quiet = false
    @Flag(help: "Print the seconds spent reading the file and computing to standard error (for benchmarks).") var timings = false
    @Option(help: "Log the results as metrics of this MLflow run on --server.") var run: String?
    @Option(help: "Prefix for metric keys logged with --run.") var prefix: String = ""
    @OptionGroup var server: ServerOption

    static let classificationMetrics = [
        "accuracy", "balanced_accuracy", "precision", "recall", "f1", "fbeta", "mcc", "roc_auc", "average_precision", "log_loss",
        "top_k_accuracy",
    ]
    static let regressionMetrics = ["mse", "rmse", "mae", "median_absolute_error", "mape", "r2", "adjusted_r2", "explained_variance"]
    static let speechMetrics = ["wer", "cer"]
    static let textMetrics = ["bleu", "chrf", "rouge_l", "jaccard", "perplexity"]
    static let detectionMetrics = ["map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_1", "mar_10", "mar_100", "mar_small", "mar_medium", "mar_large"]

    func resolvedTask() throws -> Task {
        if let task { return task }
        guard let first = metrics.first else {
            throw ValidationError("Say what to compute: --task classification|regression|text|speech|detection, or --metric NAME.")
        }
        for (task, names) in [(Task.classification, Self.classificationMetrics), (.regression, Self.regressionMetrics), (.speech, Self.speechMetrics), (.text, Self.textMetrics), (.detection, Self.detectionMetrics)]
        where names.contains(first) {
            return task
        }
        throw ValidationError("Unknown metric '\(first)'. Known: \((Self.classificationMetrics + Self.regressionMetrics + Self.speechMetrics + Self.textMetrics + Self.detectionMetrics).joined(separator: ", ")).")
    }

    func run() async throws {
        let task = try resolvedTask()
        let known: [String] = switch task {
        case .classification: Self.classificationMetrics
        case .regression: Self.regressionMetrics
        case .speech: Self.speechMetrics
        case .text: Self.textMetrics
        case .detection: Self.detectionMetrics
        }
        for m in metrics where !known.contains(m) {
            throw ValidationError("'\(m)' is not a \(task.rawValue) metric. \(task.rawValue.capitalized) metrics: \(known.joined(separator: ", ")).")
        }
        let inputFormat: TableReader.Format?
        if let format {
            guard let f = TableReader.Format(rawValue: format) else { throw ValidationError("--format must be csv or jsonl; got '\(format)'.") }
            inputFormat = f
        } else {
            inputFormat = nil
        }
        // Progress only where reading takes a while.
        let size = ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.int64Value ?? 0
        let progress = ProgressLine(quiet: quiet || size < 16 << 20)
        let report: EvalReport
        let started = Date()
        do {
            switch task {
            case .classification: report = try ClassificationEval(command: self).run(format: inputFormat, progress: progress)
            case .regression: report = try RegressionEval(command: self).run(format: inputFormat, progress: progress)
            case .speech, .text: report = try TextEval(command: self, task: task).run(format: inputFormat, progress: progress)
            case .detection: report = try DetectionEval(command: self).run(format: inputFormat, progress: progress)
            }
        } catch let error as InputError {
            throw CLIFailure(message: error.message)
        } catch let error as MetricError {
            throw CLIFailure(message: error.message)
        }
        if timings {
            let total = Date().timeIntervalSince(started), read = ReadTiming.shared.seconds
            FileHandle.standardError.write(Data(String(format: "timings: read %.3f s, compute %.3f s, total %.3f s\n", read, total - read, total).utf8))
        }
        print(json ? report.json() : report.table())
        if let run {
            let client = try await server.client()
            try await reportingErrors { try await report.log(to: client, runID: run, prefix: prefix) }
            if !json { print("Logged \(report.metrics.count) metric(s) to run \(run).") }
        }
    }

    func readAll(_ columns: [String], format: TableReader.Format?, progress: ProgressLine, _ row: ([String], Int) throws -> Void) throws -> Int {
        try readRows(columns, format: format, progress: progress) { reader, line in
            try row((0..<columns.count).map(reader.string), line)
        }
    }

    /// Streams the rows, handing the reader itself to `row` so hot paths read fields as bytes.
    func readRows(_ columns: [String], format: TableReader.Format?, progress: ProgressLine, _ row: (TableReader, Int) throws -> Void) throws -> Int {
        let started = Date()
        defer { ReadTiming.shared.seconds += Date().timeIntervalSince(started) }
        let reader = try TableReader(path: file, format: format, columns: columns)
        var rows = 0
        while try reader.nextRow() {
            try row(reader, reader.line)
            rows += 1
            if rows % 65536 == 0 {
                progress.update(TransferProgress(phase: .reading, filesDone: rows, filesTotal: 0, bytesDone: reader.bytesRead, bytesTotal: reader.size))
            }
        }
        progress.update(TransferProgress(phase: .reading, filesDone: rows, filesTotal: 0, bytesDone: reader.size, bytesTotal: reader.size))
        guard rows > 0 else { throw InputError(message: "'\(file)' has no data rows.") }
        return rows
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

/// The outcome of one evaluation, printable as a table or JSON and loggable to a run.
struct EvalReport {
    var task: String
    var samples: Int
    var metrics: [(String, Double)] = []
    var counts: [(String, Int)] = []
    var details: [(String, String)] = []
    var labels: [String]? = nil
    var confusion: [[Int]]? = nil
    var intervals: [String: Bootstrap.Interval] = [:]

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

    func json() -> String {
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

    func table() -> String {
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

    func log(to client: EnsembleClient, runID: String, prefix: String) async throws {
        struct Metric: Encodable {
            var key: String
            var value: Double
            var timestamp: Int64
            var step: Int64
        }
        struct Batch: Encodable {
            var runId: String
            var metrics: [Metric]
        }
        struct Empty: Decodable {}
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let items = metrics.filter { $0.1.isFinite }.map { Metric(key: prefix + $0.0, value: $0.1, timestamp: now, step: 0) }
        let _: Empty = try await client.json(.POST, "/api/2.0/mlflow/runs/log-batch", body: Batch(runId: runID, metrics: items))
    }
}

/// Seconds spent reading input, for `--timings`.
final class ReadTiming: @unchecked Sendable {
    static let shared = ReadTiming()
    var seconds = 0.0
}
