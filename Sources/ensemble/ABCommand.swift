import ArgumentParser
import EnsembleClient
import EnsembleEval
import Foundation

/// `ensemble ab`: an A/B test's analysis from per-unit rows, for the people who decide and the people
/// who check the statistics.
struct ABCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ab",
        abstract: "Analyse an A/B test from per-unit rows: sample-ratio check, lifts with intervals, Welch p-values, Holm, CUPED, MDE, always-valid intervals.",
        discussion: """
            Each row is one unit (a user, a session, a store) with its arm and its metric values, and optionally a
            pre-period covariate for CUPED. Exactly two arms are compared: --control and the other one (or --treatment).

            Examples:
              ensemble ab users.csv --control A --metric conversion --metric revenue
              ensemble ab users.csv --arm-column variant --control old --metric revenue --covariate revenue_before \\
                  --guardrail latency_ms --lower-is-better latency_ms --split 90/10 --json
            The statistics are described in docs/PRODUCTION.md.
            """
    )

    @Argument(help: "A CSV or JSON Lines file with one row per unit.") var file: String
    @Option(help: "Column with the unit id (each unit once).") var unitColumn = "unit"
    @Option(help: "Column with the arm.") var armColumn = "arm"
    @Option(help: "The control arm (the model in production).") var control: String
    @Option(help: "The treatment arm (default: the only other arm).") var treatment: String?
    @Option(name: .customLong("metric"), help: "A metric column to compare (repeatable).") var metrics: [String] = []
    @Option(name: .customLong("guardrail"), help: "A metric that must not get worse (repeatable).") var guardrails: [String] = []
    @Option(name: .customLong("lower-is-better"), help: "A metric where lower is better, e.g. latency (repeatable).") var lowerIsBetter: [String] = []
    @Option(help: "A pre-period covariate column for CUPED (e.g. the same metric before the test).") var covariate: String?
    @Option(help: "The planned split, control/treatment, e.g. 50/50 or 90/10.") var split = "50/50"
    @Option(help: "1 − confidence of the intervals.") var alpha = 0.05
    @Option(help: "Scale of the always-valid interval's mixture, as a fraction of the metric's standard deviation.") var sequentialTau = 0.1
    @Flag(help: "Print JSON.") var json = false
    @Option(help: "Keep the analysis on this project (on the server), shown on its page with its business metrics.") var project: String?
    @Option(help: "A title for the stored analysis.") var title: String?
    @Option(help: "The model version in the control arm, models:/NAME/VERSION (with --project).") var controlModel: String?
    @Option(help: "The model version in the treatment arm, models:/NAME/VERSION (with --project).") var treatmentModel: String?
    @OptionGroup var server: ServerOption

    func validate() throws {
        if project == nil && (title != nil || controlModel != nil || treatmentModel != nil) {
            throw ValidationError("--title, --control-model and --treatment-model describe an analysis stored with --project.")
        }
    }

    func run() async throws {
        var o = ABAnalysis.Options(file: file, control: control)
        (o.unitColumn, o.armColumn, o.treatment, o.metrics, o.guardrails, o.covariate) = (unitColumn, armColumn, treatment, metrics, guardrails, covariate)
        (o.lowerIsBetter, o.alpha, o.sequentialTau) = (Set(lowerIsBetter), alpha, sequentialTau)
        let report: ABAnalysis.Report
        do {
            let parts = split.split(separator: "/").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, let c = parts[0], let t = parts[1] else { throw InputError(message: "--split needs two shares, control/treatment, e.g. 50/50; got '\(split)'.") }
            o.plannedSplit = (c, t)
            for name in lowerIsBetter where !metrics.contains(name) && !guardrails.contains(name) {
                throw InputError(message: "--lower-is-better \(name) is neither a --metric nor a --guardrail.")
            }
            report = try ABAnalysis.run(o)
        } catch let e as InputError {
            FileHandle.standardError.write(Data("Error: \(e.message)\n".utf8))
            throw ExitCode(2)
        }
        let output = ABAnalysis.json(report)
        print(json ? output : ABAnalysis.table(report), terminator: json ? "\n" : "")
        if let project {
            var body: [String: Any] = ["title": title ?? "\(report.treatment) vs \(report.control)"]
            if let controlModel { body["control_model"] = controlModel }
            if let treatmentModel { body["treatment_model"] = treatmentModel }
            let head = String(decoding: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]), as: UTF8.self)
            let client = try await server.client()
            let text = try await reportingErrors {
                try await client.request("POST", "/api/v1/projects/\(EnsembleClient.escape(project))/ab-results", json: String(head.dropLast()) + ",\"result\":" + output + "}")
            }
            let id = (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])?["id"] as? Int ?? 0
            FileHandle.standardError.write(Data("Stored on project \(project) as A/B result #\(id).\n".utf8))
        }
    }
}
