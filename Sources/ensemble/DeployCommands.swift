import ArgumentParser
import EnsembleClient
import EnsembleCore
import Foundation

/// `ensemble deploy`: CI/CD records which model version runs where, with how much traffic.
struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Record deployments from CI/CD and see what runs where.",
        discussion: """
            Examples:
              ensemble deploy env add production --kind online --url https://scoring.example.com --region eu-west-1
              ensemble deploy record --model churn --version 4 --env production --traffic 0.1 --status live --project churn
              ensemble deploy record --model churn --version 3 --env production --status rolled_back --note "p99 over budget"
              ensemble deploy list            (what runs where now; --all for retired and rolled back too)
            """,
        subcommands: [Env.self, Record.self, List.self]
    )

    struct Answer: Decodable { let deployments: [Deployment] }

    struct Env: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Environments: add (or change) one, or list them.", subcommands: [Add.self, EnvList.self])

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "add", abstract: "Add or change an environment.")
            @Argument(help: "A slug, e.g. production, staging, stores-edge.") var name: String
            @Option(help: "batch, online or edge.") var kind: String
            @Option(help: "Where it answers, for online environments.") var url: String?
            @Option(help: "Region or site.") var region: String?
            @Option(help: "A line about it.") var description: String?
            @OptionGroup var server: ServerOption
            func run() async throws {
                guard let k = DeploymentEnvironment.Kind(rawValue: kind) else { throw ValidationError("--kind must be batch, online or edge; got '\(kind)'.") }
                let client = try await server.client()
                var body: [String: Any] = ["kind": k.rawValue]
                if let url { body["url"] = url }
                if let region { body["region"] = region }
                if let description { body["description"] = description }
                let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
                _ = try await reportingErrors { try await client.request("PUT", "/api/v1/environments/\(EnsembleClient.escape(name))", json: json) }
                print("Environment \(name) (\(k.rawValue)) saved.")
            }
        }

        struct EnvList: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "list", abstract: "List environments.")
            @Flag(help: "Print JSON.") var json = false
            @OptionGroup var server: ServerOption
            func run() async throws {
                let client = try await server.client()
                if json { return print(try await reportingErrors { try await client.text("/api/v1/environments") }) }
                struct A: Decodable { let environments: [DeploymentEnvironment] }
                let list = try await reportingErrors { try await client.get("/api/v1/environments", as: A.self) }.environments
                if list.isEmpty { return print("No environments yet. Add one: ensemble deploy env add production --kind online") }
                printTable(["NAME", "KIND", "REGION", "URL"], list.map { [$0.name, $0.kind.rawValue, $0.region ?? "-", $0.url ?? "-"] })
            }
        }
    }

    struct Record: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that a model version is deploying, live, retired or rolled back in an environment (for CI/CD).")
        @Option(help: "Registered model name.") var model: String
        @Option(help: "Its version.") var version: Int64
        @Option(name: .customLong("env"), help: "The environment.") var environment: String
        @Option(help: "deploying, live, retired or rolled_back.") var status = "live"
        @Option(help: "Share of the environment's traffic, 0 to 1.") var traffic = 1.0
        @Option(help: "The project whose model this is (a live deployment ticks its deployment gate item).") var project: String?
        @Option(help: "The commit deployed (default: $GITHUB_SHA or $CI_COMMIT_SHA).") var commit: String?
        @Option(help: "The pipeline run that did it (default: the GitHub Actions or GitLab CI run URL).") var pipelineRun: String?
        @Option(help: "A note (why it was rolled back, …).") var note: String?
        @Option(help: "Reference data for drift, datasets:/NAME@VERSION (default: the model's training data, found through lineage).") var reference: String?
        @Flag(help: "Print the deployment as JSON.") var json = false
        @OptionGroup var server: ServerOption

        func run() async throws {
            guard let s = DeploymentStatus(rawValue: status) else {
                throw ValidationError("--status must be deploying, live, retired or rolled_back; got '\(status)'.")
            }
            let env = ProcessInfo.processInfo.environment
            var report = DeploymentReport(name: model, version: version, environment: environment, status: s, traffic: traffic, project: project, note: note)
            report.reference = reference
            report.commit = commit ?? env["GITHUB_SHA"] ?? env["CI_COMMIT_SHA"]
            report.pipelineRun = pipelineRun ?? env["CI_PIPELINE_URL"]
                ?? env["GITHUB_RUN_ID"].flatMap { id in env["GITHUB_REPOSITORY"].map { "\(env["GITHUB_SERVER_URL"] ?? "https://github.com")/\($0)/actions/runs/\(id)" } }
            let client = try await server.client()
            let encoder = JSONEncoder()
            let text = try await reportingErrors { try await client.request("POST", "/api/v1/deployments", json: String(decoding: try encoder.encode(report), as: UTF8.self)) }
            if json { return print(text) }
            let d = try JSONDecoder().decode(Deployment.self, from: Data(text.utf8))
            print("\(d.model) is \(d.status.rawValue) in \(d.environment)" + (d.status.isActive ? " with \(Int((d.traffic * 100).rounded()))% of its traffic" : "") + " (deployment #\(d.id)).")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "What runs where: active deployments (or --all), newest change first.")
        @Option(name: .customLong("env"), help: "Only this environment.") var environment: String?
        @Option(help: "Only this registered model.") var model: String?
        @Option(help: "Only this project's.") var project: String?
        @Flag(help: "Retired and rolled-back deployments too.") var all = false
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOption
        func run() async throws {
            let client = try await server.client()
            let query = [("environment", environment), ("model", model), ("project", project), ("active", all ? nil : "true")]
                .compactMap { k, v in v.map { "\(k)=\(EnsembleClient.escape($0))" } }
            let path = "/api/v1/deployments" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
            if json { return print(try await reportingErrors { try await client.text(path) }) }
            let list = try await reportingErrors { try await client.get(path, as: Answer.self) }.deployments
            if list.isEmpty { return print("Nothing deployed. CI/CD records deployments with: ensemble deploy record --model NAME --version N --env ENV") }
            printTable(["ID", "ENVIRONMENT", "MODEL", "STATUS", "TRAFFIC", "PROJECT", "COMMIT"], list.map { d in
                [String(d.id), d.environment, d.model, d.status.rawValue, d.status.isActive ? "\(Int((d.traffic * 100).rounded()))%" : "-", d.project ?? "-",
                 d.history.last { $0.commit != nil }?.commit.map { String($0.prefix(12)) } ?? "-"]
            })
        }
    }
}
