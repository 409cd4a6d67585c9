import ArgumentParser
import EnsembleClient
import EnsembleCore
import Foundation

struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project",
        abstract: "ML projects: list, show, create from a JSON file, move through the stage gates, staff, post updates.",
        subcommands: [List.self, Show.self, Create.self, Check.self, Stage.self, StaffingCommand.self, Update.self, Activity.self]
    )

    struct ProjectsAnswer: Decodable { let projects: [Project] }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List projects with stage, owners and metric targets.")
        @Option(help: "Only this stage.") var stage: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOption
        func run() async throws {
            let client = try await server.client()
            let path = "/api/v1/projects" + (stage.map { "?stage=\(EnsembleClient.escape($0))" } ?? "")
            if json { return print(try await reportingErrors { try await client.text(path) }) }
            let projects = try await reportingErrors { try await client.get(path, as: ProjectsAnswer.self) }.projects
            if projects.isEmpty { return print("No projects yet. Create one with: ensemble project create project.json (or run ensemble demo).") }
            printTable(["ID", "NAME", "STAGE", "OWNER", "TECHNICAL TARGETS"], projects.map { p in
                [p.id, p.name, p.stage.rawValue, p.owners[p.stage.rawValue] ?? "-",
                 p.technicalMetrics.map { "\($0.name) \($0.baseline.map { String($0) } ?? "?")→\($0.target.map { String($0) } ?? "?")" }.joined(separator: ", ")]
            })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a project (JSON): BRD, metrics, owners, checklists, tasks, stage history.")
        @Argument var id: String
        @OptionGroup var server: ServerOption
        func run() async throws {
            let client = try await server.client()
            print(try await reportingErrors { try await client.text("/api/v1/projects/\(EnsembleClient.escape(id))") })
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a project from a JSON file (see docs/TEAM.md for the fields; only name is required).")
        @Argument(help: "JSON file.") var file: String
        @OptionGroup var server: ServerOption
        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("Cannot read '\(file)'.") }
            let client = try await server.client()
            let text = try await reportingErrors { try await client.request("POST", "/api/v1/projects", json: String(decoding: data, as: UTF8.self)) }
            let p = try JSONDecoder().decode(Project.self, from: Data(text.utf8))
            print("Created project '\(p.id)' in \(p.stage.rawValue).")
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a stage's gate checklist, or tick items (--item N, repeatable, or --all).",
            discussion: "Example: ensemble project check churn --all   (the current stage), ensemble project check churn --stage data --item 2")
        @Argument var id: String
        @Option(help: "Stage (default: the project's current stage).") var stage: String?
        @Option(help: "Item number to mark done (repeatable).") var item: [Int] = []
        @Flag(help: "Mark every item done.") var all = false
        @Flag(help: "Mark the given items not done instead.") var undo = false
        @OptionGroup var server: ServerOption
        func run() async throws {
            let client = try await server.client()
            let path = "/api/v1/projects/\(EnsembleClient.escape(id))"
            var project = try await reportingErrors { try await client.get(path, as: Project.self) }
            let target: ProjectStage
            if let stage {
                guard let s = ProjectStage(rawValue: stage), ProjectStage.working.contains(s) else {
                    throw ValidationError("'\(stage)' is not a working stage; use \(ProjectStage.working.map(\.rawValue).joined(separator: ", ")).")
                }
                target = s
            } else {
                target = project.stage
            }
            var items = project.checklist(for: target)
            guard !items.isEmpty else { return print("\(target.rawValue) has no checklist.") }
            if all || !item.isEmpty {
                for n in item where !(1...items.count).contains(n) { throw ValidationError("There is no item \(n); the \(target.rawValue) checklist has \(items.count).") }
                for i in items.indices where all || item.contains(i + 1) { items[i].done = !undo }
                project.checklists[target.rawValue] = items
                let body = String(decoding: try JSONEncoder().encode(project), as: UTF8.self)
                _ = try await reportingErrors { try await client.request("PUT", path, json: body) }
            }
            print("\(project.id) — \(target.rawValue) checklist:")
            for (i, it) in items.enumerated() { print("  \(i + 1). [\(it.done ? "x" : " ")] \(it.text)") }
        }
    }

    struct Stage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a project to another stage through its gate (who, when and why are recorded).",
            discussion: "Example: ensemble project stage churn data --why \"metrics agreed with the business\" --by ana")
        @Argument var id: String
        @Argument(help: "scoping, data, modeling, deployment, monitoring, done or cancelled.") var to: String
        @Option(help: "Why.") var why: String = ""
        @Option(help: "Who (default: $USER).") var by: String?
        @OptionGroup var server: ServerOption
        func run() async throws {
            struct Body: Encodable { let to: String, why: String, by: String? }
            let body = String(decoding: try JSONEncoder().encode(Body(to: to, why: why, by: by ?? ProcessInfo.processInfo.environment["USER"])), as: UTF8.self)
            let client = try await server.client()
            let text = try await reportingErrors { try await client.request("POST", "/api/v1/projects/\(EnsembleClient.escape(id))/stage", json: body) }
            let p = try JSONDecoder().decode(Project.self, from: Data(text.utf8))
            print("'\(p.id)' is now in \(p.stage.rawValue).")
        }
    }

    struct StaffingCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "staffing", abstract: "Rank people for a project's stage, with the reasons.")
        @Argument var id: String
        @Option(help: "Stage (default: the project's current stage).") var stage: String?
        @Option(help: "Show the top N.") var top: Int = 5
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOption
        func run() async throws {
            let client = try await server.client()
            let path = "/api/v1/projects/\(EnsembleClient.escape(id))/staffing" + (stage.map { "?stage=\(EnsembleClient.escape($0))" } ?? "")
            let text = try await reportingErrors { try await client.text(path) }
            if json { return print(text) }
            struct Candidate: Decodable { let person: String, name: String, score: Double, reasons: [String] }
            struct Answer: Decodable { let project: String, stage: String, needed_skills: [String: Int], candidates: [Candidate] }
            let a = try JSONDecoder().decode(Answer.self, from: Data(text.utf8))
            print("Staffing \(a.project) for \(a.stage)" + (a.needed_skills.isEmpty ? "" : " (needs " + a.needed_skills.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")") + ":")
            for (i, c) in a.candidates.prefix(top).enumerated() {
                print(String(format: "%2d. %@ (%@) score %.2f", i + 1, c.name, c.person, c.score))
                print("    " + c.reasons.joined(separator: "; "))
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Post an async stand-up update: done, next, blocked.")
        @Argument var id: String
        @Option var done: String = ""
        @Option var next: String = ""
        @Option var blocked: String = ""
        @Option(help: "Author (default: $USER).") var author: String?
        @OptionGroup var server: ServerOption
        func run() async throws {
            struct Body: Encodable { let author: String, done: String, next: String, blocked: String }
            let who = author ?? ProcessInfo.processInfo.environment["USER"] ?? ""
            let body = String(decoding: try JSONEncoder().encode(Body(author: who, done: done, next: next, blocked: blocked)), as: UTF8.self)
            let client = try await server.client()
            _ = try await reportingErrors { try await client.request("POST", "/api/v1/projects/\(EnsembleClient.escape(id))/updates", json: body) }
            print("Posted to \(id).")
        }
    }

    struct Activity: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A project's activity feed (or the team's with --team): updates, stage changes, runs, model events.")
        @Argument var id: String?
        @Option(help: "How many items.") var limit: Int = 20
        @OptionGroup var server: ServerOption
        func run() async throws {
            let client = try await server.client()
            let path = (id.map { "/api/v1/projects/\(EnsembleClient.escape($0))/updates" } ?? "/api/v1/updates") + "?max_results=\(limit)"
            struct Item: Decodable { let at: Int64, project: String?, kind: String, summary: String, actor: String? }
            struct Answer: Decodable { let activity: [Item] }
            let items = try await reportingErrors { try await client.get(path, as: Answer.self) }.activity
            let f = DateFormatter()
            f.dateFormat = "yyyy-MM-dd HH:mm"
            for i in items {
                print("\(f.string(from: Date(timeIntervalSince1970: Double(i.at) / 1000)))  \(i.project ?? "-")  \(i.kind)  \(i.summary)" + (i.actor.map { "  (\($0))" } ?? ""))
            }
        }
    }
}

struct PortfolioCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portfolio", abstract: "Rank the active projects and check which fit the team's capacity next quarter.")
    @Option(help: "Weight of impact.") var impact: Double?
    @Option(help: "Weight of cost (counts against).") var cost: Double?
    @Option(help: "Weight of bandwidth (counts against).") var bandwidth: Double?
    @Option(help: "Weight of urgency.") var urgency: Double?
    @Option(help: "Weight of confidence.") var confidence: Double?
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var server: ServerOption

    func run() async throws {
        var query: [String] = []
        for (k, v) in [("impact", impact), ("cost", cost), ("bandwidth", bandwidth), ("urgency", urgency), ("confidence", confidence)] {
            if let v { query.append("\(k)=\(v)") }
        }
        let client = try await server.client()
        let text = try await reportingErrors { try await client.text("/api/v1/portfolio" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))) }
        if json { return print(text) }
        struct Entry: Decodable { let project: String, name: String, stage: String, score: Double, rank: Int, required_fte: Double, fits: Bool, note: String }
        struct Answer: Decodable { let free_fte: Double, portfolio: [Entry] }
        let a = try JSONDecoder().decode(Answer.self, from: Data(text.utf8))
        print(String(format: "Team capacity free next quarter: %.1f FTE", a.free_fte))
        printTable(["#", "PROJECT", "STAGE", "SCORE", "FTE", "FITS", "NOTE"], a.portfolio.map {
            [String($0.rank), $0.project, $0.stage, String(format: "%.2f", $0.score), String(format: "%.1f", $0.required_fte), $0.fits ? "yes" : "no", $0.note]
        })
    }
}

struct ForecastCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast", abstract: "Monte Carlo forecast of a project's finish: P50/P80/P95, histogram, critical tasks.")
    @Argument var project: String
    @Option(help: "Simulated schedules, 1 to 100,000.") var trials: Int = 10_000
    @Option(help: "Seed (same seed, same forecast).") var seed: UInt64 = 0
    @Option(help: "pert or triangular.") var distribution: String = "pert"
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var server: ServerOption

    func run() async throws {
        let client = try await server.client()
        let text = try await reportingErrors {
            try await client.text("/api/v1/projects/\(EnsembleClient.escape(project))/forecast?trials=\(trials)&seed=\(seed)&distribution=\(EnsembleClient.escape(distribution))")
        }
        if json { return print(text) }
        struct Bin: Decodable { let from: Double, to: Double, count: Int }
        struct Critical: Decodable { let task: String, share: Double }
        struct Answer: Decodable {
            let trials: Int, tasks: Int, p50_days: Double, p80_days: Double, p95_days: Double, mean_days: Double
            let start_date: String?, p50_date: String?, p80_date: String?, p95_date: String?
            let histogram: [Bin], criticality: [Critical], seconds: Double
        }
        let a = try JSONDecoder().decode(Answer.self, from: Data(text.utf8))
        print("\(project): \(a.tasks) tasks, \(a.trials) trials (\(distribution), seed \(seed)), \(String(format: "%.3f", a.seconds)) s")
        for (label, days, date) in [("P50", a.p50_days, a.p50_date), ("P80", a.p80_days, a.p80_date), ("P95", a.p95_days, a.p95_date)] {
            print(String(format: "  %@  %6.1f working days", label, days) + (date.map { "  → \($0)" } ?? ""))
        }
        let peak = a.histogram.map(\.count).max() ?? 1
        for b in a.histogram {
            print(String(format: "  %6.1f–%-6.1f ", b.from, b.to) + String(repeating: "█", count: Int((Double(b.count) / Double(peak) * 40).rounded())))
        }
        print("  most often critical: " + a.criticality.prefix(5).map { String(format: "%@ %.0f%%", $0.task, $0.share * 100) }.joined(separator: ", "))
    }
}
