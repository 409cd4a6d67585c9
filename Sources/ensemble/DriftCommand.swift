import ArgumentParser
import EnsembleClient
import EnsembleCore
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

    @Argument(help: "The reference data (e.g. the training set): a file, or a stored version datasets:/NAME@V[/path].") var reference: String
    @Argument(help: "The current window of production inputs and predictions: a file, or datasets:/NAME@V[/path].") var current: String
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
        let temp = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-drift-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: temp) }
        let reference: String, current: String
        do {
            reference = try await resolve(self.reference, into: temp + "/reference")
            current = try await resolve(self.current, into: temp + "/current")
        } catch let e as InputError {
            FileHandle.standardError.write(Data("Error: \(e.message)\n".utf8))
            throw ExitCode(2)
        }
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
            // A stored dataset's file is named by its path in the dataset, not by the temporary folder.
            let message = e.message.replacingOccurrences(of: temp + "/reference/", with: "").replacingOccurrences(of: temp + "/current/", with: "")
            FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
            throw ExitCode(2)
        }
        let output = DriftReport.json(report)
            .replacingOccurrences(of: temp + "/reference/", with: "").replacingOccurrences(of: temp + "/current/", with: "")
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

    /// A side given as `datasets:/NAME@V[/path]`: the stored version restored into `folder`, and its one
    /// table file (or the path named). Files are returned as they are.
    func resolve(_ side: String, into folder: String) async throws -> String {
        guard side.hasPrefix("datasets:/") else { return side }
        let rest = String(side.dropFirst("datasets:/".count))
        let reference = rest.firstIndex(of: "/").map { String(rest[..<$0]) } ?? rest
        let path = rest.firstIndex(of: "/").map { String(rest[rest.index(after: $0)...]) }
        let parsed: (name: String, version: Int64?)
        do { parsed = try DatasetManifest.parseReference(reference) } catch { throw InputError(message: "\(side): \(error.message)") }
        let client = try await server.client()
        let transfer = DatasetTransfer(client: client)
        let version = try await reportingErrors { try await transfer.version(name: parsed.name, version: parsed.version) }
        let tables = version.files.map(\.path).filter { p in [".csv", ".jsonl", ".ndjson", ".json"].contains { p.lowercased().hasSuffix($0) } }
        let chosen: String
        if let path {
            guard version.files.contains(where: { $0.path == path }) else {
                throw InputError(message: "\(side): \(parsed.name)@\(version.version) has no file '\(path)'; its files are: \(version.files.prefix(20).map(\.path).joined(separator: ", ")).")
            }
            chosen = path
        } else {
            guard tables.count == 1 else {
                throw InputError(message: "\(side): \(parsed.name)@\(version.version) holds \(tables.count) table files (\(tables.prefix(10).joined(separator: ", "))); name one: datasets:/\(parsed.name)@\(version.version)/PATH.")
            }
            chosen = tables[0]
        }
        _ = try await reportingErrors { try await transfer.restore(name: parsed.name, version: version.version, into: folder, overwrite: true) }
        return folder + "/" + chosen
    }
}
