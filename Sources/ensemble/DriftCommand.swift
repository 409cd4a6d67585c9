import ArgumentParser
import EnsembleClient
import EnsembleEval
import Foundation

/// `ensemble drift`: does a window of production data still look like the reference (training) data?
struct DriftCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drift",
        abstract: "Compare a window of production data with reference data, column by column: KS, Wasserstein, PSI, chi-square, Jensen-Shannon.",
        discussion: """
            Both files are CSV or JSON Lines with the same columns. A column is numeric when every reference value is a
            number and it has more than 10 distinct values, otherwise categorical (--numeric and --categorical override).
            Default thresholds: up to 1,000 reference values a column drifts when its test's p-value < 0.05; above that when
            the Wasserstein distance over the reference's standard deviation (numbers) or the Jensen-Shannon distance
            (categories) is >= 0.1. The dataset drifted when at least half of its columns did. Exit code 0 either way;
            2 for bad input. See docs/PRODUCTION.md.

            Example: ensemble drift training.csv window-2026-12-01.csv --prediction-column score --json
            """
    )

    @Argument(help: "The reference data (e.g. the training set).") var reference: String
    @Argument(help: "The current window of production inputs and predictions.") var current: String
    @Option(name: .customLong("column"), help: "Only this column (repeatable; default: every column).") var columns: [String] = []
    @Option(name: .customLong("numeric"), help: "Treat this column as numeric (repeatable).") var numeric: [String] = []
    @Option(name: .customLong("categorical"), help: "Treat this column as categorical (repeatable).") var categorical: [String] = []
    @Option(help: "The model's output column, reported as prediction drift.") var predictionColumn: String?
    @Option(help: "p-value below which a small sample's column drifted.") var pThreshold = 0.05
    @Option(help: "Distance at or above which a large sample's column drifted.") var distanceThreshold = 0.1
    @Option(help: "Share of drifted columns at or above which the dataset drifted.") var shareThreshold = 0.5
    @Flag(help: "Print JSON.") var json = false
    @Option(help: "Store the result as a window of this deployment (its page shows every window).") var deployment: Int64?
    @Option(help: "The window's name, e.g. its day (default: today, UTC).") var window: String?
    @Option(name: .customLong("production-metric"), help: "A metric measured on the window once labels arrived, NAME=VALUE (repeatable).") var productionMetrics: [String] = []
    @OptionGroup var server: ServerOption

    func validate() throws {
        if deployment == nil && (window != nil || !productionMetrics.isEmpty) {
            throw ValidationError("--window and --production-metric describe a window stored with --deployment.")
        }
    }

    func run() async throws {
        var o = DriftReport.Options(reference: reference, current: current)
        (o.columns, o.numeric, o.categorical, o.prediction) = (columns, Set(numeric), Set(categorical), predictionColumn)
        (o.pThreshold, o.distanceThreshold, o.shareThreshold) = (pThreshold, distanceThreshold, shareThreshold)
        let report: DriftReport.Report
        do {
            guard (0...1).contains(pThreshold), distanceThreshold >= 0, (0...1).contains(shareThreshold) else {
                throw InputError(message: "--p-threshold and --share-threshold are between 0 and 1, --distance-threshold at least 0.")
            }
            report = try DriftReport.run(o)
        } catch let e as InputError {
            FileHandle.standardError.write(Data("Error: \(e.message)\n".utf8))
            throw ExitCode(2)
        }
        let output = DriftReport.json(report)
        print(json ? output : DriftReport.table(report), terminator: json ? "\n" : "")
        guard let deployment else { return }
        var metrics: [String: Double] = [:]
        for pair in productionMetrics {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let v = Double(parts[1]), v.isFinite else {
                FileHandle.standardError.write(Data("Error: --production-metric takes NAME=VALUE, e.g. accuracy=0.91; got '\(pair)'.\n".utf8))
                throw ExitCode(2)
            }
            metrics[parts[0]] = v
        }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd"
        let label = window ?? f.string(from: Date())
        let head = String(decoding: try JSONSerialization.data(withJSONObject: ["label": label, "metrics": metrics], options: [.sortedKeys]), as: UTF8.self)
        let client = try await server.client()
        _ = try await reportingErrors { try await client.request("POST", "/api/v1/deployments/\(deployment)/windows", json: String(head.dropLast()) + ",\"result\":" + output + "}") }
        FileHandle.standardError.write(Data("Stored as window '\(label)' of deployment #\(deployment).\n".utf8))
    }
}
