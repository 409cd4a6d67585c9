import ArgumentParser
import EnsembleClient
import EnsembleCore
import EnsembleEval
import EnsembleMetrics
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

            Numbers are sorted in bounded memory (--memory-mb per side; larger windows spill sorted runs to $TMPDIR, 8 bytes
            per value), so a window of any size can be compared.

            Examples:
              ensemble drift training.csv window-2026-12-01.csv --prediction-column score --json
              ensemble drift window.csv --deployment 3 --label-column churned --prediction-column prediction
            """
    )

    @Argument(help: ArgumentHelp(
        "[REFERENCE] CURRENT: the reference data (e.g. the training set) and the window of production inputs and predictions; each a CSV or JSON Lines file, or a stored version datasets:/NAME@V[/path]. With --deployment, REFERENCE may be left out: the deployment's reference is used.",
        valueName: "file"))
    var files: [String] = []
    @Option(name: .customLong("column"), help: "Only this column (repeatable; default: every column).") var columns: [String] = []
    @Option(name: .customLong("numeric"), help: "Treat this column as numeric (repeatable).") var numeric: [String] = []
    @Option(name: .customLong("categorical"), help: "Treat this column as categorical (repeatable).") var categorical: [String] = []
    @Option(help: "The model's output column, reported as prediction drift.") var predictionColumn: String?
    @Option(help: "The true outcome, once labels arrived: the window's production metrics are computed from it and --prediction-column.") var labelColumn: String?
    @Option(help: "With --label-column: classification or regression.") var task = "classification"
    @Option(name: .customLong("metric"), help: "With --label-column: a metric to compute (repeatable; default: the task's usual set).") var metrics: [String] = []
    @Option(help: "With --label-column: a column of scores (probabilities), for roc_auc and the like.") var scoreColumn: String?
    @Option(help: "p-value below which a small sample's column drifted.") var pThreshold = 0.05
    @Option(help: "Distance at or above which a large sample's column drifted.") var distanceThreshold = 0.1
    @Option(help: "Share of drifted columns at or above which the dataset drifted.") var shareThreshold = 0.5
    @Option(help: "Memory for numbers per side, in MB; beyond it sorted runs go to a temporary file ($TMPDIR).") var memoryMb = 64
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "No progress display.") var quiet = false
    @Option(help: "Store the result as a window of this deployment (its page shows every window).") var deployment: Int64?
    @Option(help: "The window's name, e.g. its day (default: today, UTC).") var window: String?
    @Option(name: .customLong("production-metric"), help: "A metric measured on the window once labels arrived, NAME=VALUE (repeatable).") var productionMetrics: [String] = []
    @OptionGroup var server: ServerOption

    func validate() throws {
        guard (1...2).contains(files.count) else { throw ValidationError("Give the reference and the current window (or only the window, with --deployment).") }
        if files.count == 1 && deployment == nil {
            throw ValidationError("Give the reference data too, or --deployment ID to use that deployment's reference.")
        }
        if deployment == nil && (window != nil || !productionMetrics.isEmpty) {
            throw ValidationError("--window and --production-metric describe a window stored with --deployment.")
        }
        if labelColumn != nil && predictionColumn == nil { throw ValidationError("--label-column needs --prediction-column, the model's output to score.") }
        if labelColumn == nil && (!metrics.isEmpty || scoreColumn != nil) { throw ValidationError("--metric and --score-column go with --label-column.") }
        guard ["classification", "regression"].contains(task) else { throw ValidationError("--task is classification or regression; got '\(task)'.") }
        guard (1...1_000_000).contains(memoryMb) else { throw ValidationError("--memory-mb is at least 1.") }
    }

    func run() async throws {
        let temp = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-drift-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: temp) }
        func clean(_ text: String) -> String {
            text.replacingOccurrences(of: temp + "/reference/", with: "").replacingOccurrences(of: temp + "/current/", with: "")
        }
        func fail(_ message: String) -> ExitCode {
            FileHandle.standardError.write(Data("Error: \(clean(message))\n".utf8))
            return ExitCode(2)
        }
        var referenceSide = files.count == 2 ? files[0] : nil
        if referenceSide == nil, let deployment {
            let client = try await server.client()
            let found = try await reportingErrors { try await client.get("/api/v1/deployments/\(deployment)/reference", as: DeploymentReference.self) }
            FileHandle.standardError.write(Data("Reference: \(found.reference), \(found.source).\n".utf8))
            referenceSide = found.reference
        }
        let reference: String, current: String
        do {
            reference = try await resolve(referenceSide!, into: temp + "/reference")
            current = try await resolve(files[files.count - 1], into: temp + "/current")
        } catch let e as InputError {
            throw fail(e.message)
        }
        var o = DriftReport.Options(reference: reference, current: current)
        (o.columns, o.numeric, o.categorical, o.prediction) = (columns, Set(numeric), Set(categorical), predictionColumn)
        (o.pThreshold, o.distanceThreshold, o.shareThreshold) = (pThreshold, distanceThreshold, shareThreshold)
        o.memoryValues = memoryMb << 17
        let size = [reference, current].compactMap { (try? FileManager.default.attributesOfItem(atPath: $0))?[.size] as? NSNumber }.reduce(0) { $0 + $1.int64Value }
        let progress = ProgressLine(quiet: quiet || size < 16 << 20)
        let report: DriftReport.Report
        do {
            guard (0...1).contains(pThreshold), distanceThreshold >= 0, (0...1).contains(shareThreshold) else {
                throw InputError(message: "--p-threshold and --share-threshold are between 0 and 1, --distance-threshold at least 0.")
            }
            report = try DriftReport.run(o) { p in
                progress.update(TransferProgress(phase: .reading, filesDone: p.rows, filesTotal: 0, bytesDone: p.bytesRead, bytesTotal: p.bytesTotal))
            }
        } catch let e as InputError {
            throw fail(e.message)
        }
        var measured: [String: Double] = [:]
        for pair in productionMetrics {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let v = Double(parts[1]), v.isFinite else {
                throw fail("--production-metric takes NAME=VALUE, e.g. accuracy=0.91; got '\(pair)'.")
            }
            measured[parts[0]] = v
        }
        if let labelColumn, let predictionColumn {
            // The window's production metrics, from the labels that arrived.
            var e = EvalOptions(file: current, task: task == "regression" ? .regression : .classification)
            (e.labelColumn, e.predictionColumn, e.scoreColumn, e.metrics) = (labelColumn, predictionColumn, scoreColumn, metrics)
            do {
                for (name, value) in try Evaluation.run(e).metrics where measured[name] == nil && value.isFinite { measured[name] = value }
            } catch let error as InputError {
                throw fail(error.message)
            } catch let error as MetricError {
                throw fail("--label-column: \(error.message)")
            }
        }
        var output = clean(DriftReport.json(report))
        if !measured.isEmpty {
            let metricsJSON = String(decoding: try JSONSerialization.data(withJSONObject: measured, options: [.sortedKeys]), as: UTF8.self)
            output = String(output.dropLast()) + ",\"production_metrics\":" + metricsJSON + "}"
        }
        if json {
            print(output)
        } else {
            print(clean(DriftReport.table(report)), terminator: "")
            if !measured.isEmpty {
                print("Production metrics on this window: " + measured.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4g", $0.value))" }.joined(separator: ", ") + ".")
            }
        }
        guard let deployment else { return }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd"
        let label = window ?? f.string(from: Date())
        let head = String(decoding: try JSONSerialization.data(withJSONObject: ["label": label, "metrics": measured], options: [.sortedKeys]), as: UTF8.self)
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
