import ArgumentParser
import EnsembleClient
import EnsembleCore
import Foundation

/// `ensemble demo`: a small, realistic team and its work on a fresh server.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Fill a fresh server with a demo team: people, projects in every stage, tasks, updates, runs, a registered model, a handoff and a release gate result.",
        discussion: "Run it once against an empty server (ensemble serve --data ./demo-data), then try ensemble team list, ensemble portfolio, ensemble forecast churn.")
    @OptionGroup var server: ServerOption
    @Option(help: "Runs in the demo's hyperparameter sweep (1 to 10000).") var sweepRuns = 48
    @Option(help: "The sweep experiment's name.") var sweepName = SweepFixture.experimentName
    @Flag(help: "Only add the sweep, to any server (a fixture with long names, 108 params, metric families, system metrics and a 100,000-point series).")
    var sweepOnly = false

    func validate() throws {
        guard (1...10_000).contains(sweepRuns) else { throw ValidationError("--sweep-runs must be between 1 and 10000, got \(sweepRuns).") }
    }

    /// Uploads the sweep, with progress on a terminal.
    func uploadSweep(_ client: EnsembleClient, start: Int64) async throws {
        let sweep = SweepFixture(runs: sweepRuns, start: start)
        let terminal = isatty(STDOUT_FILENO) != 0
        let name = sweepName
        let id = try await sweep.upload(to: client, experiment: name) { done, total in
            // Progress on a terminal, overwritten in place; nothing in a pipe or a log.
            if terminal { print("Sweep \(name): \(done)/\(total) runs", terminator: done == total ? "\n" : "\r") }
        }
        print("Sweep \(name) (experiment \(id)): \(sweep.runCount) runs with 108 params, train/val/test/system metrics, a 100,000-point series.")
    }

    static func person(_ name: String, _ roles: [String], _ skills: [String: Int], capacity: Double = 1, goals: [String] = [], expertise: [String] = [],
                       assignments: [(String, Double)] = [], history: [(String, ProjectOutcome, [String])] = []) -> Person {
        let id = RoleCatalog.slug(name.split(separator: " ").first.map(String.init) ?? name)
        return Person(
            id: id, name: name, email: "\(id)@demo.ensemble", roles: roles, skills: skills, expertise: expertise, learningGoals: goals, capacity: capacity,
            assignments: assignments.map { Assignment(project: $0.0, allocation: $0.1) }, history: history.map { HistoryEntry(project: $0.0, outcome: $0.1, areas: $0.2) })
    }

    static let people: [Person] = [
        person("Amara Okafor", ["ml-manager"], ["leadership": 5, "machine-learning": 4, "communication": 5, "planning": 4, "python": 3], capacity: 0.5,
               expertise: ["churn", "forecasting"], assignments: [("churn", 0.2)], history: [("pricing-v1", .delivered, ["pricing"]), ("ads-ctr", .partial, ["ads"])]),
        person("Bruno Silva", ["data-scientist"], ["python": 5, "statistics": 4, "machine-learning": 4, "feature-engineering": 4, "sql": 3, "experiment-design": 3],
               goals: ["deep-learning"], expertise: ["churn", "tabular"], assignments: [("churn", 0.6)],
               history: [("churn-v0", .delivered, ["churn", "tabular"]), ("upsell", .failed, ["tabular"])]),
        person("Chen Wei", ["research-scientist"], ["deep-learning": 5, "pytorch": 5, "mathematics": 4, "research": 5, "python": 4], expertise: ["nlp", "speech"],
               assignments: [("support-triage", 0.7)], history: [("asr-pilot", .delivered, ["speech"]), ("summarizer", .cancelled, ["nlp"])]),
        person("Dana Kowalski", ["data-engineer"], ["sql": 5, "etl": 5, "data-modeling": 4, "distributed-processing": 4, "python": 4, "data-versioning": 3],
               goals: ["mlops"], assignments: [("churn", 0.3), ("demand-forecast", 0.4)], history: [("warehouse-migration", .delivered, ["data"])]),
        person("Elif Yilmaz", ["ml-engineer"], ["python": 4, "software-engineering": 5, "model-serving": 4, "mlops": 4, "performance-optimization": 4, "testing": 4],
               goals: ["kubernetes"], assignments: [("fraud-alerts", 0.5)], history: [("fraud-v1", .delivered, ["fraud"]), ("recsys-serving", .delivered, ["recsys"])]),
        person("Farid Haddad", ["mlops-engineer"], ["infrastructure": 5, "ci-cd": 5, "monitoring": 4, "cloud": 4, "kubernetes": 4, "security": 3], capacity: 0.6,
               assignments: [("fraud-alerts", 0.3)]),
        person("Grace Mensah", ["ml-product-manager"], ["product-management": 5, "communication": 5, "prioritization": 4, "metrics-definition": 4, "domain-knowledge": 3],
               capacity: 0.8, assignments: [("churn", 0.2), ("support-triage", 0.2)], history: [("pricing-v1", .delivered, ["pricing"])]),
        person("Hiro Tanaka", ["business-owner"], ["domain-knowledge": 5, "decision-making": 4, "communication": 4, "metrics-definition": 3], capacity: 0.2),
        person("Ines Duarte", ["data-analyst"], ["sql": 4, "statistics": 3, "data-visualization": 5, "python": 3, "domain-knowledge": 4], goals: ["machine-learning"],
               assignments: [("demand-forecast", 0.3)]),
        person("Jonas Berg", ["data-scientist", "ml-engineer"], ["python": 4, "machine-learning": 4, "deep-learning": 3, "model-serving": 3, "statistics": 3],
               goals: ["research"], expertise: ["fraud", "anomaly-detection"], history: [("fraud-v1", .delivered, ["fraud"]), ("churn-v0", .partial, ["churn"])]),
    ]

    static func metric(_ name: String, _ baseline: Double, _ target: Double, higher: Bool = true) -> ProjectMetric {
        ProjectMetric(name: name, baseline: baseline, target: target, higherIsBetter: higher)
    }

    static func task(_ id: String, _ name: String, _ o: Double, _ m: Double, _ p: Double, _ deps: [String] = []) -> ProjectTask {
        ProjectTask(id: id, name: name, optimistic: o, likely: m, pessimistic: p, dependsOn: deps)
    }

    static func projects(start: String) -> [Project] {
        func done(_ p: inout Project, through stage: ProjectStage) {
            for s in ProjectStage.working where s < stage {
                p.checklists[s.rawValue] = p.checklist(for: s).map { ChecklistItem(text: $0.text, done: true) }
            }
        }
        var churn = Project(id: "churn", name: "Customer churn prediction")
        churn.stage = .modeling
        churn.brd.problem = "Subscribers cancel without warning; retention offers go out too late."
        churn.brd.objective = "Reduce monthly churn by flagging at-risk customers two weeks ahead."
        churn.brd.mlFraming = "Binary classification on 90 days of usage, billing and support features; weekly batch scoring."
        churn.brd.dataSources = [DataSource(name: "billing warehouse", availability: "available", quality: "good"),
                                 DataSource(name: "support tickets", availability: "available", quality: "fair")]
        churn.brd.delivery = "Scores pushed to the CRM every Monday; retention team acts on the top 5%."
        churn.brd.risks = ["label leakage from cancellation requests", "offers cannibalise revenue"]
        churn.brd.stakeholders = ["Hiro Tanaka (retention)", "Grace Mensah (PM)"]
        churn.technicalMetrics = [metric("roc_auc", 0.71, 0.82), metric("recall_at_5pct", 0.22, 0.4)]
        churn.businessMetrics = [metric("monthly churn rate", 0.031, 0.026, higher: false)]
        churn.owners = ["scoping": "grace", "data": "dana", "modeling": "bruno", "deployment": "elif"]
        churn.neededSkills = ["modeling": ["python": 4, "machine-learning": 4, "feature-engineering": 3], "deployment": ["model-serving": 3, "mlops": 3]]
        churn.areas = ["churn", "tabular"]
        churn.scores = ProjectScores(impact: 5, cost: 2, bandwidth: 3, urgency: 4, confidence: 4)
        churn.requiredFTE = 1.5
        churn.experiments = ["churn-model"]
        churn.models = ["churn-classifier"]
        churn.datasets = ["customers"]
        churn.startDate = start
        churn.dueDate = Forecast.date(after: 25, from: start)
        churn.tasks = [
            task("features", "Feature pipeline v2", 3, 5, 9), task("baseline", "Gradient boosting baseline", 2, 3, 6, ["features"]),
            task("tuning", "Tuning and calibration", 3, 5, 12, ["baseline"]), task("review", "Model review with retention", 1, 2, 4, ["tuning"]),
            task("serving", "Batch scoring job", 3, 4, 8, ["features"]), task("ab", "A/B test of offers", 10, 15, 25, ["review", "serving"]),
        ]
        done(&churn, through: .modeling)

        var fraud = Project(id: "fraud-alerts", name: "Real-time fraud alerts")
        fraud.stage = .deployment
        fraud.brd.problem = "Card fraud is caught days later by chargebacks."
        fraud.brd.objective = "Block or review risky transactions within 200 ms."
        fraud.brd.mlFraming = "Anomaly scoring + supervised classifier on streaming features."
        fraud.technicalMetrics = [metric("precision_at_recall_0.8", 0.35, 0.55), metric("p99_latency_ms", 340, 200, higher: false)]
        fraud.businessMetrics = [metric("fraud losses per month (k€)", 410, 250, higher: false)]
        fraud.owners = ["modeling": "jonas", "deployment": "elif", "monitoring": "farid"]
        fraud.neededSkills = ["deployment": ["model-serving": 4, "performance-optimization": 4, "kubernetes": 3], "monitoring": ["monitoring": 3]]
        fraud.areas = ["fraud", "anomaly-detection"]
        fraud.scores = ProjectScores(impact: 5, cost: 4, bandwidth: 4, urgency: 5, confidence: 3)
        fraud.requiredFTE = 1.2
        fraud.experiments = ["fraud-scoring"]
        fraud.startDate = start
        fraud.dueDate = Forecast.date(after: 30, from: start)
        fraud.tasks = [task("shadow", "Shadow traffic run", 5, 8, 15), task("latency", "Latency work", 3, 6, 14), task("rollout", "Staged rollout", 4, 5, 10, ["shadow", "latency"])]
        done(&fraud, through: .deployment)

        var triage = Project(id: "support-triage", name: "Support ticket triage")
        triage.stage = .data
        triage.brd.problem = "Tickets wait hours before reaching the right team."
        triage.brd.objective = "Route 80% of tickets automatically."
        triage.brd.mlFraming = "Multiclass text classification over 14 queues."
        triage.brd.annotation = "5k tickets relabelled by support leads."
        triage.technicalMetrics = [metric("macro_f1", 0.48, 0.7)]
        triage.businessMetrics = [metric("median time to first response (h)", 5.5, 2, higher: false)]
        triage.owners = ["data": "dana", "modeling": "chen"]
        triage.neededSkills = ["data": ["sql": 3, "etl": 3], "modeling": ["deep-learning": 4, "pytorch": 3]]
        triage.areas = ["nlp"]
        triage.scores = ProjectScores(impact: 4, cost: 3, bandwidth: 3, urgency: 3, confidence: 3)
        triage.requiredFTE = 1.0
        triage.startDate = start
        triage.dueDate = Forecast.date(after: 18, from: start)
        triage.tasks = [task("labels", "Relabel 5k tickets", 5, 8, 15), task("model", "Fine-tune a classifier", 5, 10, 20, ["labels"]), task("eval", "Offline evaluation", 2, 3, 5, ["model"])]
        done(&triage, through: .data)

        var demand = Project(id: "demand-forecast", name: "Store demand forecasting")
        demand.stage = .scoping
        demand.brd.problem = "Stores over-order fresh products; waste is 9% of fresh sales."
        demand.brd.objective = "Cut fresh-product waste by a third."
        demand.technicalMetrics = [metric("wmape", 0.31, 0.2, higher: false)]
        demand.owners = ["scoping": "grace"]
        demand.neededSkills = ["modeling": ["statistics": 4, "forecasting": 3]]
        demand.areas = ["forecasting"]
        demand.scores = ProjectScores(impact: 4, cost: 3, bandwidth: 4, urgency: 2, confidence: 2)
        demand.requiredFTE = 2.0
        demand.startDate = start

        var ocr = Project(id: "invoice-ocr", name: "Invoice field extraction")
        ocr.stage = .cancelled
        ocr.brd.problem = "Manual invoice entry."
        ocr.areas = ["vision"]
        ocr.scores = ProjectScores(impact: 2, cost: 4, bandwidth: 3, urgency: 1, confidence: 2)
        return [churn, fraud, triage, demand, ocr]
    }

    func run() async throws {
        let client = try await server.client()
        try await reportingErrors {
            if sweepOnly {
                try await uploadSweep(client, start: Int64(Date().timeIntervalSince1970 * 1000) - 86_400_000)
                return
            }
            struct Count: Decodable { let people: [Person] }
            let existing = try await client.get("/api/v1/people", as: Count.self).people.count
            guard existing == 0 else {
                throw ClientError("The server already has \(existing) people; ensemble demo fills a fresh server. Start one with: ensemble serve --data ./demo-data")
            }
            struct Body: Encodable { let people: [Person] }
            _ = try await client.request("POST", "/api/v1/people/import", json: String(decoding: try JSONEncoder().encode(Body(people: Self.people)), as: UTF8.self))
            print("Team: \(Self.people.count) people.")

            // Tracking data: runs over the last weeks in the linked experiments, and a registered model.
            let day: Int64 = 86_400_000
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            var championRun = "", churnRuns: [String] = []
            for (experiment, count, metricName) in [("churn-model", 18, "roc_auc"), ("fraud-scoring", 10, "precision_at_recall_0.8")] {
                let created = try await client.request("POST", "/api/2.0/mlflow/experiments/create", json: #"{"name": "\#(experiment)"}"#)
                let id = try JSONDecoder().decode([String: String].self, from: Data(created.utf8))["experiment_id"] ?? "0"
                var best = -1.0
                for i in 0..<count {
                    let start = now - Int64(count - i) * 2 * day
                    let run = try await client.request(
                        "POST", "/api/2.0/mlflow/runs/create", json: #"{"experiment_id": "\#(id)", "start_time": \#(start), "run_name": "\#(experiment)-\#(i + 1)"}"#)
                    struct Created: Decodable { struct R: Decodable { struct I: Decodable { let run_id: String }; let info: I }; let run: R }
                    let runID = try JSONDecoder().decode(Created.self, from: Data(run.utf8)).run.info.run_id
                    let value = 0.70 + 0.12 * (1 - exp(-Double(i) / 6)) + Double((i * 7) % 5) * 0.004
                    _ = try await client.request(
                        "POST", "/api/2.0/mlflow/runs/log-batch",
                        json: #"{"run_id": "\#(runID)", "metrics": [{"key": "\#(metricName)", "value": \#(value), "timestamp": \#(start), "step": 0}], "params": [{"key": "learning_rate", "value": "\#(0.01 * Double(1 + i % 4))"}, {"key": "max_depth", "value": "\#(4 + i % 5)"}], "tags": [{"key": "mlflow.source.git.commit", "value": "a1b2c3\#(i)"}]}"#)
                    _ = try await client.request("POST", "/api/2.0/mlflow/runs/update", json: #"{"run_id": "\#(runID)", "status": "FINISHED", "end_time": \#(start + 3_600_000)}"#)
                    if experiment == "churn-model" {
                        // The training data each run used, so lineage answers "what data trained this model".
                        _ = try await client.request(
                            "POST", "/api/2.0/mlflow/runs/log-inputs",
                            json: #"{"run_id": "\#(runID)", "datasets": [{"dataset": {"name": "customers", "digest": "c0ffee\#(i < 9 ? "01" : "02")", "source_type": "warehouse", "source": "{\"table\": \"billing.customers\"}"}, "tags": [{"key": "mlflow.data.context", "value": "training"}]}]}"#)
                    }
                    if experiment == "churn-model" { churnRuns.append(runID) }
                    if experiment == "churn-model" && value > best {
                        best = value
                        championRun = runID
                    }
                }
                print("Experiment \(experiment): \(count) runs.")
            }
            _ = try await client.request("POST", "/api/2.0/mlflow/registered-models/create", json: #"{"name": "churn-classifier", "description": "Weekly churn scores for the CRM."}"#)
            _ = try await client.request("POST", "/api/2.0/mlflow/model-versions/create", json: #"{"name": "churn-classifier", "source": "runs:/\#(championRun)/model", "run_id": "\#(championRun)"}"#)
            _ = try await client.request("POST", "/api/2.0/mlflow/registered-models/alias", json: #"{"name": "churn-classifier", "alias": "champion", "version": "1"}"#)
            _ = try await client.request(
                "POST", "/api/2.0/mlflow/model-versions/transition-stage", json: #"{"name": "churn-classifier", "version": "1", "stage": "Production", "archive_existing_versions": false}"#)
            print("Model churn-classifier v1 in Production, alias champion, trained on customers@c0ffee02.")

            let start = String(ISO8601DateFormatter().string(from: Date()).prefix(10))
            for p in Self.projects(start: start) {
                _ = try await client.request("POST", "/api/v1/projects", json: String(decoding: try JSONEncoder().encode(p), as: UTF8.self))
            }
            let updates: [(String, String, String, String, String)] = [
                ("churn", "bruno", "Feature pipeline v2 merged; AUC 0.81 on the holdout", "Calibrate and review with retention", ""),
                ("churn", "dana", "Backfilled 18 months of billing events", "Schedule the weekly scoring job", ""),
                ("fraud-alerts", "elif", "Shadow traffic at 20%", "Latency: p99 still 260 ms", "Waiting for the new GPU node pool"),
                ("support-triage", "chen", "Labelling guidelines agreed", "Relabel 5k tickets", "Two queues overlap; need a decision from support"),
                ("demand-forecast", "grace", "Workshop with store managers", "Agree the business baseline for waste", ""),
            ]
            for (project, author, done, next, blocked) in updates {
                struct U: Encodable { let author: String, done: String, next: String, blocked: String }
                _ = try await client.request("POST", "/api/v1/projects/\(project)/updates", json: String(decoding: try JSONEncoder().encode(U(author: author, done: done, next: next, blocked: blocked)), as: UTF8.self))
            }
            print("Projects: 5 (scoping, data, modeling, deployment, cancelled) with BRDs, tasks and updates.")
            try await addHandoffAndGate(client, candidateRun: churnRuns.last { $0 != championRun } ?? championRun)
            try await addDeployments(client)
            try await addABTest(client)
            try await addDriftWindows(client)

            // A sweep at the shape real fine-tuning has, so the pages are seen with long names and many values.
            try await uploadSweep(client, start: now - 4 * day)
            print("Next: ensemble team list · ensemble portfolio · ensemble project staffing churn --stage deployment · ensemble team coverage · ensemble forecast churn")
        }
    }
}
