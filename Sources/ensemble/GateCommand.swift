import ArgumentParser
import EnsembleClient
import EnsembleCore
import EnsembleEval
import EnsembleJSON
import Foundation

/// `ensemble gate`: made for CI. Exit code 0 when the candidate passes, 1 when it fails, 2 for bad
/// input or usage (with a message naming the file, line and column).
struct GateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate",
        abstract: "Decide whether a candidate model may replace the baseline: paired bootstrap intervals of each metric's difference, judged by rules.",
        discussion: """
            Each evaluation set is a CSV or JSON Lines file with an example id, the label, and the baseline's and the
            candidate's prediction or score. Exit code 0: pass, 1: fail, 2: bad input or usage.

            Examples:
              ensemble gate val.csv --label-column y --baseline-column p_prod --candidate-column p_new --metric roc_auc --rule non-inferior --margin 0.01
              ensemble gate --policy gate.json --json --report gate.md
              ensemble gate base.csv --candidate-file new.csv --metric f1 --rule superior   (two files joined by id)
              ensemble gate --policy gate.json --report gate.md --model churn --version 4 --promote champion
            With --model and --version the result and report are stored on that model version (its page and history
            show them); --promote moves the alias to it only when the gate passes (needs MANAGE on the model).
            Policy file: {"sets": [{"name": "val", "file": "val.csv", "label_column": "y", "baseline_column": "p_prod",
              "candidate_column": "p_new", "candidate_file": "optional.csv"}], "metrics": [{"name": "roc_auc", "rule": "non-inferior", "margin": 0.01},
              {"name": "accuracy", "rule": "at-least", "floor": 0.8}], "resamples": 10000, "seed": 1}
            """
    )

    @Argument(help: "Evaluation set files (CSV or JSON Lines); with --policy, its sets are used instead.") var files: [String] = []
    @Option(help: "A JSON policy with sets, metrics and rules.") var policy: String?
    @Option(help: "Column with the example id.") var idColumn = "id"
    @Option(help: "Column with the true label.") var labelColumn = "label"
    @Option(help: "Column with the baseline's prediction or score.") var baselineColumn = "baseline"
    @Option(help: "Column with the candidate's prediction or score.") var candidateColumn = "candidate"
    @Option(name: .customLong("metric"), help: "A metric (repeatable): \(Gate.metrics.joined(separator: ", ")).") var metrics: [String] = []
    @Option(help: "The rule for the metrics given with --metric: non-inferior, superior or at-least.") var rule = "non-inferior"
    @Option(help: "The margin δ of non-inferior (worse by at most δ) or superior (better by more than δ).") var margin = 0.0
    @Option(help: "The floor of at-least (an absolute value, e.g. the project's target).") var floor: Double?
    @Option(help: "The positive label.") var positive = "1"
    @Option(help: "A numeric prediction at or above this is positive (for accuracy, precision, recall, f1).") var threshold = 0.5
    @Option(help: "Bootstrap resamples.") var resamples = 10_000
    @Option(help: "Confidence level of the intervals.") var confidence = 0.95
    @Option(help: "Seed of the resampling.") var seed: UInt64 = 0
    @Flag(help: "Resample positives and negatives separately, keeping their counts.") var stratify = false
    @Option(help: "Write a Markdown report (for a pull-request comment) to this file.") var report: String?
    @Flag(help: "Print JSON instead of a table.") var json = false
    @Option(help: "A file with the candidate's predictions (id and candidate columns), joined to the one set file by id.") var candidateFile: String?
    @Option(help: "Store the result on this registered model's --version (on the server).") var model: String?
    @Option(help: "The model version the candidate is.") var version: Int64?
    @Option(help: "The commit the candidate was built from (default: $GITHUB_SHA or $CI_COMMIT_SHA).") var commit: String?
    @Option(help: "Move this alias (e.g. champion) to the version when the gate passes.") var promote: String?
    @OptionGroup var server: ServerOption

    func validate() throws {
        if model != nil && version == nil || model == nil && version != nil { throw ValidationError("--model and --version go together: the version the result is stored on.") }
        if promote != nil && model == nil { throw ValidationError("--promote needs --model and --version: the version the alias moves to.") }
        if candidateFile != nil && files.count != 1 { throw ValidationError("--candidate-file joins one set file; give exactly one FILE with it.") }
    }

    func run() async throws {
        let options: Gate.Options
        let outcome: Gate.Report
        do {
            options = try makeOptions()
            outcome = try Gate.run(options) { message in
                if !json { FileHandle.standardError.write(Data("\(message)\n".utf8)) }
            }
        } catch let e as InputError {
            FileHandle.standardError.write(Data("Error: \(e.message)\n".utf8))
            throw ExitCode(2)
        }
        print(json ? Gate.json(outcome) : Gate.table(outcome), terminator: json ? "\n" : "")
        if let report {
            do {
                try Gate.markdown(outcome).write(toFile: report, atomically: true, encoding: .utf8)
            } catch {
                FileHandle.standardError.write(Data("Error: cannot write the report to '\(report)': \(error.localizedDescription)\n".utf8))
                throw ExitCode(2)
            }
        }
        if let model, let version { try await store(outcome, model: model, version: version) }
        if !outcome.passed { throw ExitCode(1) }
    }

    /// Records the result on the model version (and moves `--promote` on a pass); a failure to store
    /// exits 2, since CI would otherwise believe the result was kept.
    func store(_ outcome: Gate.Report, model: String, version: Int64) async throws {
        let environment = ProcessInfo.processInfo.environment
        let commit = self.commit ?? environment["GITHUB_SHA"] ?? environment["CI_COMMIT_SHA"]
        var body = "{\"result\":" + Gate.json(outcome) + ",\"report\":" + Self.quoted(Gate.markdown(outcome))
        if let commit { body += ",\"commit\":" + Self.quoted(commit) }
        if let promote, outcome.passed { body += ",\"promote\":" + Self.quoted(promote) }
        body += "}"
        do {
            let client = try await server.client()
            let path = "/api/v1/models/\(EnsembleClient.escape(model))/versions/\(version)/gates"
            _ = try await client.request("POST", path, json: body)
            FileHandle.standardError.write(Data("Stored the result on \(model) version \(version).\n".utf8))
            if let promote {
                FileHandle.standardError.write(Data((outcome.passed ? "Moved '\(promote)' to version \(version).\n" : "'\(promote)' stays where it was: the gate failed.\n").utf8))
            }
        } catch let e as ClientError {
            FileHandle.standardError.write(Data("Error: the result was not stored on \(model) version \(version): \(e.message)\n".utf8))
            throw ExitCode(2)
        } catch let e as CLIFailure {
            FileHandle.standardError.write(Data("Error: the result was not stored: \(e.message)\n".utf8))
            throw ExitCode(2)
        } catch let e as ValidationError {
            FileHandle.standardError.write(Data("Error: the result was not stored: \(e.message)\n".utf8))
            throw ExitCode(2)
        }
    }

    static func quoted(_ s: String) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: s, options: [.fragmentsAllowed])) ?? Data("\"\"".utf8), as: UTF8.self)
    }

    func makeOptions() throws -> Gate.Options {
        // Seeds above 2^53 would not survive the JSON report (nor a policy file) exactly.
        guard seed <= 1 << 53 else { throw InputError(message: "--seed must be at most 9007199254740992, got \(seed).") }
        var o = Gate.Options()
        (o.resamples, o.confidence, o.seed, o.stratify, o.positive, o.threshold) = (resamples, confidence, seed, stratify, positive, threshold)
        if let policy { try readPolicy(policy, into: &o) }
        if policy == nil || !files.isEmpty {
            o.sets += files.map { file in
                var s = Gate.EvaluationSet(name: URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent, file: file)
                (s.idColumn, s.labelColumn, s.baselineColumn, s.candidateColumn) = (idColumn, labelColumn, baselineColumn, candidateColumn)
                s.candidateFile = candidateFile
                return s
            }
        }
        if !metrics.isEmpty {
            guard let r = Gate.Rule(rawValue: rule) else {
                throw InputError(message: "Unknown rule '\(rule)'; use non-inferior, superior or at-least.")
            }
            if r == .atLeast && floor == nil { throw InputError(message: "The at-least rule needs --floor, e.g. --floor 0.85.") }
            o.metrics += metrics.map { Gate.MetricRule(name: $0, rule: r, margin: margin, floor: floor) }
        }
        return o
    }

    /// Reads `--policy`: sets (relative paths are relative to the policy file), metrics with their rules,
    /// and optionally resamples, confidence, seed, stratify, positive and threshold.
    func readPolicy(_ path: String, into o: inout Gate.Options) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError(message: "Cannot read the policy '\(path)'.") }
        let root: JSONValue
        do { root = try JSONParser.parse(Array(data)) } catch { throw InputError(message: "\(path): not valid JSON (\(error)).") }
        guard case .object(let top) = root else { throw InputError(message: "\(path): the policy must be a JSON object with \"sets\" and \"metrics\".") }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        func string(_ members: [(String, JSONValue)], _ key: String) -> String? {
            if case .string(let s)? = members.first(where: { $0.0 == key })?.1 { return s }
            return nil
        }
        func number(_ members: [(String, JSONValue)], _ key: String, _ at: String) throws -> Double? {
            guard let value = members.first(where: { $0.0 == key })?.1 else { return nil }
            guard case .number(let n) = value, let v = Double(n), v.isFinite else { throw InputError(message: "\(path): \(at).\(key) must be a number.") }
            return v
        }
        for (key, value) in top {
            switch key {
            case "sets":
                guard case .array(let items) = value else { throw InputError(message: "\(path): \"sets\" must be an array.") }
                for (i, item) in items.enumerated() {
                    guard case .object(let m) = item, let file = string(m, "file") else { throw InputError(message: "\(path): sets[\(i)] needs a \"file\".") }
                    let resolved = file.hasPrefix("/") ? file : base.appendingPathComponent(file).path
                    var s = Gate.EvaluationSet(name: string(m, "name") ?? URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent, file: resolved)
                    s.idColumn = string(m, "id_column") ?? idColumn
                    s.labelColumn = string(m, "label_column") ?? labelColumn
                    s.baselineColumn = string(m, "baseline_column") ?? baselineColumn
                    s.candidateColumn = string(m, "candidate_column") ?? candidateColumn
                    s.candidateFile = string(m, "candidate_file").map { $0.hasPrefix("/") ? $0 : base.appendingPathComponent($0).path }
                    o.sets.append(s)
                }
            case "metrics":
                guard case .array(let items) = value else { throw InputError(message: "\(path): \"metrics\" must be an array.") }
                for (i, item) in items.enumerated() {
                    guard case .object(let m) = item, let name = string(m, "name") else { throw InputError(message: "\(path): metrics[\(i)] needs a \"name\".") }
                    guard let rule = Gate.Rule(rawValue: string(m, "rule") ?? "non-inferior") else {
                        throw InputError(message: "\(path): metrics[\(i)].rule must be non-inferior, superior or at-least.")
                    }
                    let floor = try number(m, "floor", "metrics[\(i)]")
                    if rule == .atLeast && floor == nil { throw InputError(message: "\(path): metrics[\(i)] uses at-least and needs a \"floor\".") }
                    o.metrics.append(Gate.MetricRule(name: name, rule: rule, margin: try number(m, "margin", "metrics[\(i)]") ?? 0, floor: floor))
                }
            case "resamples", "seed":
                // Whole numbers in a range a Double holds exactly, checked before converting (no trap on 1e300).
                guard let v = try number(top, key, "policy"), v >= 0, v <= 9e15, v == v.rounded() else {
                    throw InputError(message: "\(path): \"\(key)\" must be a whole number from 0 to 9e15.")
                }
                if key == "seed" { o.seed = UInt64(v) } else { o.resamples = Int(v) }
            case "confidence": o.confidence = try number(top, key, "policy") ?? o.confidence
            case "threshold": o.threshold = try number(top, key, "policy") ?? o.threshold
            case "positive": o.positive = string(top, key) ?? o.positive
            case "stratify": if case .bool(let b) = value { o.stratify = b }
            default: throw InputError(message: "\(path): unknown key \"\(key)\"; a policy has sets, metrics, resamples, confidence, seed, stratify, positive and threshold.")
            }
        }
    }
}
