import EnsembleClient
import EnsembleCore
import EnsembleEval
import EnsembleMetrics
import Foundation

/// The demo's handoff and release gate: churn-classifier v2, handed by Bruno (data scientist) to Elif
/// (ML engineer) with predictions on the validation and test sets; first refused for a mistyped
/// claim, then fixed and submitted; and a gate result on v2 against v1 that moved the `challenger` alias.
extension DemoCommand {
    /// Seeded labels and both versions' scores for one evaluation set (v2 separates the classes better).
    static func predictions(n: Int, seed: UInt64) -> (labels: [Bool], v1: [Double], v2: [Double]) {
        var rng = SplitMix64(seed: seed)
        var labels: [Bool] = [], v1: [Double] = [], v2: [Double] = []
        for _ in 0..<n {
            let positive = Sampling.unit(&rng) < 0.3
            labels.append(positive)
            v1.append(min(1, (positive ? 0.22 : 0) + Sampling.unit(&rng) * 0.78))
            v2.append(min(1, (positive ? 0.34 : 0) + Sampling.unit(&rng) * 0.66))
        }
        return (labels, v1, v2)
    }

    static func csv(_ labels: [Bool], _ scores: [Double]) -> String {
        var text = "id,label,prediction,score\n"
        for (i, (y, s)) in zip(labels, scores).enumerated() {
            text += "c-\(100_000 + i),\(y ? 1 : 0),\(s >= 0.5 ? 1 : 0),\((s * 1e6).rounded() / 1e6)\n"
        }
        return text
    }

    func addHandoffAndGate(_ client: EnsembleClient, candidateRun: String) async throws {
        _ = try await client.request("POST", "/api/2.0/mlflow/model-versions/create", json: #"{"name": "churn-classifier", "source": "runs:/\#(candidateRun)/model", "run_id": "\#(candidateRun)"}"#)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let transfer = DatasetTransfer(client: client)
        var sets: [[String: Any]] = []
        var test: (labels: [Bool], v1: [Double], v2: [Double])?
        for (name, seed) in [("validation", UInt64(41)), ("test", UInt64(42))] {
            let p = Self.predictions(n: 2000, seed: seed)
            if name == "test" { test = p }
            let path = folder.appendingPathComponent("v2-\(name).csv").path
            try Self.csv(p.labels, p.v2).write(toFile: path, atomically: true, encoding: .utf8)
            let (sha, size) = try await transfer.uploadFile(path)
            let calls = p.v2.map { $0 >= 0.5 }
            let accuracy = Double(zip(calls, p.labels).filter { $0 == $1 }.count) / Double(p.labels.count)
            let auc = try Classification.rocAUC(scores: p.v2, positives: p.labels)
            sets.append([
                "name": name, "predictions": ["sha256": sha, "size": size, "name": "v2-\(name).csv"], "score_column": "score",
                "claims": ["accuracy": (accuracy * 1e4).rounded() / 1e4, "roc_auc": (auc * 1e4).rounded() / 1e4, "recall_at_5pct": 0.41],
            ])
        }
        var handoff: [String: Any] = [
            "title": "churn-classifier v2 for the weekly scoring job", "project": "churn", "model": "models:/churn-classifier/2",
            "sender": "bruno", "receiver": "elif",
            "contract": [
                "framework": "xgboost", "framework_version": "2.1.1", "parameter_count": 184_320, "size_bytes": 2_411_724,
                "latency_p50_ms": 1.8, "latency_p95_ms": 4.6, "latency_batch_size": 1, "latency_hardware": "2 vCPU (c6i.large)",
                "peak_memory_bytes": 210_000_000, "input_signature": "customer_id, 42 features from billing.customers",
                "output_signature": "churn probability in [0, 1]", "preprocessing": "missing tenure → median; plan one-hot",
                "extra": ["calibration": "isotonic on the validation set"],
            ] as [String: Any],
        ]
        // First attempt: a mistyped accuracy on the test set, which the server refuses.
        var typo = sets
        var claims = typo[1]["claims"] as! [String: Double]
        claims["accuracy"] = (claims["accuracy"] ?? 0) + 0.02
        typo[1]["claims"] = claims
        handoff["sets"] = typo
        let created = try await client.request("POST", "/api/v1/handoffs", json: Self.json(handoff))
        let id = (try JSONSerialization.jsonObject(with: Data(created.utf8)) as? [String: Any])?["id"] as? Int ?? 1
        do {
            _ = try await client.request("POST", "/api/v1/handoffs/\(id)/submit", json: "{}")
        } catch let e as ClientError where e.status == 400 {}
        handoff["sets"] = sets
        _ = try await client.request("PUT", "/api/v1/handoffs/\(id)", json: Self.json(handoff))
        _ = try await client.request("POST", "/api/v1/handoffs/\(id)/submit", json: "{}")
        _ = try await client.request("POST", "/api/v1/handoffs/\(id)/comments", json: Self.json(["text": "Which hardware class will serve it? p95 was measured on c6i.large.", "by": "elif"]))
        print("Handoff #\(id): churn-classifier v2 from bruno to elif (refused once for a mistyped claim, then submitted).")

        // The release gate on the test set: v2 against v1, stored on v2, moving `challenger` there.
        guard let test else { return }
        var options = Gate.Options()
        options.metrics = [Gate.MetricRule(name: "roc_auc", rule: .superior), Gate.MetricRule(name: "accuracy", rule: .nonInferior, margin: 0.01)]
        options.resamples = 2000
        options.seed = 7
        let set = try Gate.evaluate("test", Gate.Examples(positives: test.labels, baseline: test.v1, candidate: test.v2), options)
        let report = Gate.Report(passed: set.metrics.allSatisfy(\.passed), sets: [set], resamples: options.resamples, confidence: options.confidence, seed: options.seed)
        var body = "{\"result\":" + Gate.json(report) + ",\"report\":" + Self.json(Gate.markdown(report)) + ",\"commit\":\"a1b2c3f\""
        if report.passed { body += ",\"promote\":\"challenger\"" }
        _ = try await client.request("POST", "/api/v1/models/churn-classifier/versions/2/gates", json: body + "}")
        print("Release gate on churn-classifier v2: \(report.passed ? "pass (alias challenger moved to v2)" : "fail").")
    }

    /// Two environments; v1 serves 90% of production and v2 the other 10% after a staging run.
    func addDeployments(_ client: EnsembleClient) async throws {
        for (name, body) in [
            ("production", #"{"kind": "online", "url": "https://scoring.internal/churn", "region": "eu-west-1", "description": "CRM scoring API"}"#),
            ("staging", #"{"kind": "online", "url": "https://scoring.staging.internal/churn", "region": "eu-west-1"}"#),
        ] {
            _ = try await client.request("PUT", "/api/v1/environments/\(name)", json: body)
        }
        let steps: [[String: Any]] = [
            ["version": 1, "environment": "production", "status": "live", "traffic": 1.0, "commit": "9f8e7d6", "note": "first release"],
            ["version": 2, "environment": "staging", "status": "live", "traffic": 1.0, "commit": "a1b2c3f"],
            ["version": 1, "environment": "production", "status": "live", "traffic": 0.9, "commit": "9f8e7d6", "note": "making room for the canary"],
            ["version": 2, "environment": "production", "status": "live", "traffic": 0.1, "commit": "a1b2c3f", "note": "canary"],
        ]
        for var step in steps {
            step["name"] = "churn-classifier"
            step["project"] = "churn"
            _ = try await client.request("POST", "/api/v1/deployments", json: Self.json(step))
        }
        print("Deployments: churn-classifier v1 at 90% and v2 at 10% of production, v2 in staging.")
    }

    /// A month-long A/B test of v2 against v1 on 60,000 customers, stored on the churn project: v2's
    /// retention offers lower churn from 3.1% to 2.5% without slowing the scoring API.
    func addABTest(_ client: EnsembleClient) async throws {
        var rng = SplitMix64(seed: 2026)
        var text = "customer,arm,monthly churn rate,latency_ms\n"
        for i in 0..<60_000 {
            let treated = Sampling.unit(&rng) < 0.5
            let churned = Sampling.unit(&rng) < (treated ? 0.025 : 0.031)
            let latency = 40 + 12 * (-log(1 - Sampling.unit(&rng)))
            text += "c\(i),\(treated ? "v2" : "v1"),\(churned ? 1 : 0),\((latency * 10).rounded() / 10)\n"
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-demo-ab-\(UUID().uuidString).csv").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var o = ABAnalysis.Options(file: path, control: "v1")
        o.unitColumn = "customer"
        o.metrics = ["monthly churn rate"]
        o.guardrails = ["latency_ms"]
        o.lowerIsBetter = ["monthly churn rate", "latency_ms"]
        let report = try ABAnalysis.run(o)
        let body = #"{"title": "v2 retention offers, November", "control_model": "models:/churn-classifier/1", "treatment_model": "models:/churn-classifier/2", "result": "#
            + ABAnalysis.json(report) + "}"
        _ = try await client.request("POST", "/api/v1/projects/churn/ab-results", json: body)
        print("A/B test on churn: \(report.metrics[0].comparison.controlMean) → \(report.metrics[0].comparison.treatmentMean) monthly churn.")
    }

    /// Six daily windows of production data for v2's canary in production: from the fourth day the plan mix
    /// moves and monthly charges rise (a price change), and the production accuracy slips below the claim.
    func addDriftWindows(_ client: EnsembleClient) async throws {
        struct Answer: Decodable { let deployments: [Deployment] }
        let list = try await client.get("/api/v1/deployments?model=churn-classifier&version=2&environment=production&active=true", as: Answer.self).deployments
        guard let deployment = list.first else { return }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-demo-drift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func sample(_ n: Int, shift: Double, seed: UInt64) -> String {
            var rng = SplitMix64(seed: seed)
            var text = "tenure_months,monthly_charges,support_calls,plan,score\n"
            for _ in 0..<n {
                let u = Sampling.unit(&rng)
                let plan = u < 0.5 - shift * 0.3 ? "basic" : (u < 0.85 ? "plus" : "pro")
                let tenure = (-log(1 - Sampling.unit(&rng)) * 24).rounded()
                let charges = 30 + 40 * Sampling.unit(&rng) + shift * 15
                let calls = (-log(1 - Sampling.unit(&rng)) * 1.5).rounded()
                let score = min(1, max(0, 0.2 + 0.01 * calls * 10 - tenure / 400 + shift * 0.1 + 0.2 * (Sampling.unit(&rng) - 0.5)))
                text += "\(tenure),\((charges * 100).rounded() / 100),\(calls),\(plan),\((score * 1000).rounded() / 1000)\n"
            }
            return text
        }
        let reference = folder.appendingPathComponent("training.csv").path
        try sample(3000, shift: 0, seed: 100).write(toFile: reference, atomically: true, encoding: .utf8)
        // The training data is a stored dataset version that v2's run logged as its training input, so the
        // deployment's reference is found through lineage (`ensemble drift WINDOW --deployment ID`).
        let stored = try await DatasetTransfer(client: client).add(name: "churn-training", paths: [reference], description: "Features v2 was trained on.", createdBy: "bruno")
        struct VersionAnswer: Decodable { struct V: Decodable { let run_id: String? }; let model_version: V }
        if let run = try await client.get("/api/2.0/mlflow/model-versions/get?name=churn-classifier&version=2", as: VersionAnswer.self).model_version.run_id {
            _ = try await client.request(
                "POST", "/api/2.0/mlflow/runs/log-inputs",
                json: #"{"run_id": "\#(run)", "datasets": [{"dataset": {"name": "churn-training", "digest": "\#(stored.version.mlflowDigest)", "source_type": "ensemble", "source": "datasets:/churn-training@\#(stored.version.version)"}, "tags": [{"key": "mlflow.data.context", "value": "training"}]}]}"#)
        }
        for day in 1...6 {
            let shift = day >= 4 ? Double(day - 3) * 0.4 : 0
            let path = folder.appendingPathComponent("window-\(day).csv").path
            try sample(1500, shift: shift, seed: 100 + UInt64(day)).write(toFile: path, atomically: true, encoding: .utf8)
            var o = DriftReport.Options(reference: reference, current: path)
            o.prediction = "score"
            let report = try DriftReport.run(o)
            let accuracy = 0.76 - (day >= 4 ? Double(day - 3) * 0.025 : 0) + Double(day % 2) * 0.004
            let body = #"{"label": "2026-11-2\#(day + 2)", "metrics": {"accuracy": \#(accuracy)}, "result": "# + DriftReport.json(report) + "}"
            _ = try await client.request("POST", "/api/v1/deployments/\(deployment.id)/windows", json: body)
        }
        print("Drift: six daily windows on churn-classifier v2 in production (deployment #\(deployment.id)); the last three drift.")
    }

    static func json(_ value: Any) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])) ?? Data(), as: UTF8.self)
    }
}
