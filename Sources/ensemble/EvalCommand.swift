import ArgumentParser
import EnsembleClient
import EnsembleEval
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

    @Argument(help: "Predictions file: CSV with a header row, or JSON Lines (one object per line).") var file: String
    @Option(help: "classification, regression, text, speech or detection. Inferred from --metric when omitted.") var task: EvalTask?
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

    func resolvedTask() throws -> EvalTask {
        if let task { return task }
        guard let first = metrics.first else {
            throw ValidationError("Say what to compute: --task classification|regression|text|speech|detection, or --metric NAME.")
        }
        guard let task = EvalTask(inferredFrom: first) else {
            throw ValidationError("Unknown metric '\(first)'. Known: \(EvalTask.allMetrics.joined(separator: ", ")).")
        }
        return task
    }

    /// The library's options, from the command line.
    func options() throws -> EvalOptions {
        var o = EvalOptions(file: file, task: try resolvedTask())
        if let format {
            guard let f = TableReader.Format(rawValue: format) else { throw ValidationError("--format must be csv or jsonl; got '\(format)'.") }
            o.format = f
        }
        o.metrics = metrics
        o.average = average
        o.beta = beta
        o.posLabel = posLabel
        o.labels = labels
        o.labelColumn = labelColumn
        o.predictionColumn = predictionColumn
        o.scoreColumn = scoreColumn
        o.probaColumns = probaColumns
        o.probaColumn = probaColumn
        o.referenceColumn = referenceColumn
        o.hypothesisColumn = hypothesisColumn
        o.logprobsColumn = logprobsColumn
        o.features = features
        o.imageColumn = imageColumn
        o.truthColumn = truthColumn
        o.detectionsColumn = detectionsColumn
        o.boxFormat = boxFormat
        o.k = k
        o.bootstrap = bootstrap
        o.confidence = confidence
        o.seed = seed
        return o
    }

    func run() async throws {
        let options = try options()
        // Progress only where reading takes a while.
        let size = ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.int64Value ?? 0
        let progress = ProgressLine(quiet: quiet || size < 16 << 20)
        let report: EvalReport
        let started = Date()
        do {
            report = try Evaluation.run(options) { p in
                progress.update(TransferProgress(phase: .reading, filesDone: p.rows, filesTotal: 0, bytesDone: p.bytesRead, bytesTotal: p.bytesTotal))
            }
        } catch let error as InputError {
            throw CLIFailure(message: error.message)
        } catch let error as MetricError {
            throw CLIFailure(message: error.message)
        }
        if timings {
            let total = Date().timeIntervalSince(started), read = report.readSeconds
            FileHandle.standardError.write(Data(String(format: "timings: read %.3f s, compute %.3f s, total %.3f s\n", read, total - read, total).utf8))
        }
        print(json ? report.json() : report.table())
        if let run {
            let client = try await server.client()
            try await reportingErrors { try await report.log(to: client, runID: run, prefix: prefix) }
            if !json { print("Logged \(report.metrics.count) metric(s) to run \(run).") }
        }
    }
}

extension EvalTask: ExpressibleByArgument {}

extension EvalReport {
    /// Logs the finite metrics to an MLflow run, at step 0.
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
