import Foundation
import Testing

@testable import EnsembleCore

@Suite("Handoff contract, checklist and targets")
struct HandoffTests {
    static func complete() -> Handoff {
        var h = Handoff(title: "churn v3", model: "models:/churn/3", sender: "ana", receiver: "bo")
        h.contract.framework = "xgboost"
        h.contract.frameworkVersion = "2.1.1"
        h.contract.parameterCount = 120_000
        h.contract.latencyP50Ms = 3
        h.contract.latencyP95Ms = 9
        h.contract.latencyBatchSize = 1
        h.contract.latencyHardware = "4 vCPU"
        h.contract.peakMemoryBytes = 300_000_000
        for name in ["validation", "test"] {
            var s = HandoffSet(name: name, claims: [HandoffClaim(metric: "roc_auc", value: 0.84)])
            s.predictions = HandoffFile(sha256: String(repeating: "a", count: 64), size: 10, name: "\(name).csv")
            h.sets.append(s)
        }
        return h
    }

    @Test("the standard checklist: a complete handoff has nothing missing; each gap is named")
    func checklist() {
        let project = [ProjectMetric(name: "roc_auc", baseline: 0.71, target: 0.82), ProjectMetric(name: "latency_p95_ms", baseline: 40, target: 10, higherIsBetter: false)]
        let known: (String) -> Bool = { ["roc_auc", "f1"].contains($0) }
        #expect(HandoffChecklist.standard.missing(in: Self.complete(), projectMetrics: project, computable: known).isEmpty)

        var h = Self.complete()
        h.contract.frameworkVersion = "  "
        h.contract.latencyP95Ms = nil
        h.sets.removeAll { $0.name == "validation" }
        h.sets[0].claims = [HandoffClaim(metric: "f1", value: 0.5)]
        h.sets.append(HandoffSet(name: "extra"))
        let missing = HandoffChecklist.standard.missing(in: h, projectMetrics: project, computable: known)
        #expect(missing.contains("Contract field 'framework_version' is required by the checklist and not given."))
        #expect(missing.contains("Contract field 'latency_p95_ms' is required by the checklist and not given."))
        #expect(missing.contains("Evaluation set 'validation' is required by the checklist and missing."))
        #expect(missing.contains("Project metric 'roc_auc' is not claimed on set 'test'."))
        #expect(missing.contains("Project metric 'latency_p95_ms' must be given in the contract."))
        #expect(missing.contains("Set 'extra' has no predictions file."))
        #expect(missing.contains("Set 'extra' claims no metric."))
        #expect(missing.count == 7)

        // A project's own checklist replaces the standard one; metrics Ensemble cannot compute are not demanded.
        let own = HandoffChecklist(requiredFields: ["framework"], requiredSets: ["test"])
        let unknownMetric = [ProjectMetric(name: "recall_at_5pct", baseline: 0.2, target: 0.4)]
        #expect(own.missing(in: Self.complete(), projectMetrics: unknownMetric, computable: known).isEmpty)
    }

    @Test("targets: recomputed values against baseline and target, in the metric's direction")
    func targets() {
        var h = Self.complete()
        h.contract.latencyP95Ms = 12
        let claims = [
            ClaimCheck(set: "validation", metric: "roc_auc", claimed: 0.84, recomputed: 0.8401, tolerance: 0.001, outcome: .ok),
            ClaimCheck(set: "test", metric: "roc_auc", claimed: 0.81, recomputed: 0.79, tolerance: 0.001, outcome: .mismatch),
        ]
        let project = [
            ProjectMetric(name: "roc_auc", baseline: 0.71, target: 0.82), ProjectMetric(name: "latency_p95_ms", baseline: 40, target: 10, higherIsBetter: false),
            ProjectMetric(name: "wmape", baseline: 0.3, target: 0.2, higherIsBetter: false),
        ]
        let t = HandoffChecks.targets(project: project, handoff: h, claims: claims)
        #expect(t.count == 4)
        #expect(t[0].set == "validation" && t[0].value == 0.8401 && t[0].meetsTarget == true && t[0].beatsBaseline == true)
        #expect(t[1].set == "test" && t[1].value == 0.79 && t[1].meetsTarget == false && t[1].beatsBaseline == true)
        #expect(t[2].metric == "latency_p95_ms" && t[2].value == 12 && t[2].meetsTarget == false && t[2].beatsBaseline == true)
        #expect(t[3].metric == "wmape" && t[3].value == nil && t[3].meetsTarget == nil)
    }

    @Test("checks: a mismatch or a gap blocks, an unverified claim does not; problems name claim and difference")
    func problems() {
        let ok = ClaimCheck(set: "test", metric: "f1", claimed: 0.9, recomputed: 0.9002, tolerance: 0.0005, outcome: .ok)
        let unverified = ClaimCheck(set: "test", metric: "recall_at_5pct", claimed: 0.3, recomputed: nil, tolerance: 0.0005, outcome: .unverified)
        #expect(HandoffChecks(at: 0, missing: [], claims: [ok, unverified], targets: []).passed)
        let wrong = ClaimCheck(set: "test", metric: "accuracy", claimed: 0.7, recomputed: 0.66, tolerance: 0.0005, outcome: .mismatch)
        let checks = HandoffChecks(at: 0, missing: ["Contract field 'framework' is required by the checklist and not given."], claims: [ok, wrong], targets: [])
        #expect(!checks.passed)
        #expect(checks.problems == [
            "Contract field 'framework' is required by the checklist and not given.",
            "Claim accuracy on 'test': claimed 0.7, recomputed 0.66; off by 0.04, more than its tolerance 0.0005.",
        ])
        #expect(abs(wrong.difference! - 0.04) < 1e-12)
    }

    @Test("contract: prefilled from params, metrics and tags under NAME or contract.NAME; given fields win; bad values refused")
    func contract() throws {
        var c = HandoffContract()
        c.framework = "pytorch"
        let filled = c.prefill(from: [
            "framework": "sklearn", "contract.framework_version": "2.4.1", "parameter_count": "7000000000", "latency_p50_ms": "12.5",
            "peak_memory_bytes": "not a number", "latency_batch_size": "1.5",
        ])
        #expect(filled == ["framework_version", "parameter_count", "latency_p50_ms"])
        #expect(c.framework == "pytorch" && c.frameworkVersion == "2.4.1" && c.parameterCount == 7_000_000_000 && c.latencyP50Ms == 12.5)
        #expect(c.peakMemoryBytes == nil && c.latencyBatchSize == nil)
        c.latencyP95Ms = 10
        #expect(throws: EnsembleError.self) { try c.validate() }
        c.latencyP95Ms = 30
        try c.validate()
        c.parameterCount = -1
        #expect(throws: EnsembleError.self) { try c.validate() }
    }

    @Test("model and dataset references, claims as a map or a list, and record validation")
    func references() throws {
        #expect(try Handoff.parseModel("models:/churn.v2/12") == .version(name: "churn.v2", version: 12))
        #expect(try Handoff.parseModel("models:/m-0123456789abcdef0123456789abcdef") == .logged(id: "m-0123456789abcdef0123456789abcdef"))
        for bad in ["runs:/x/model", "models:/churn/0", "models:/churn/latest", "models:/", "churn"] {
            #expect(throws: EnsembleError.self) { try Handoff.parseModel(bad) }
        }
        #expect(try Handoff.parseDataset("datasets:/churn-test@2", set: "t") == ("churn-test", 2))
        #expect(throws: EnsembleError.self) { try Handoff.parseDataset("datasets:/churn-test", set: "t") }

        let json = #"{"name": "t", "claims": {"f1": 0.91, "roc_auc": {"value": 0.93, "tolerance": 0.01}}}"#
        let set = try JSONDecoder().decode(HandoffSet.self, from: Data(json.utf8))
        #expect(set.claims == [HandoffClaim(metric: "f1", value: 0.91), HandoffClaim(metric: "roc_auc", value: 0.93, tolerance: 0.01)])
        #expect(set.labelColumn == "label" && set.task == "classification")
        let list = try JSONDecoder().decode(HandoffSet.self, from: Data(#"{"name": "t", "claims": [{"metric": "f1", "value": 0.5}]}"#.utf8))
        #expect(list.claims == [HandoffClaim(metric: "f1", value: 0.5)])

        var h = Self.complete()
        try h.validate()
        h.receiver = h.sender
        #expect(throws: EnsembleError.self) { try h.validate() }
        h = Self.complete()
        h.sets[1].name = "validation"
        #expect(throws: EnsembleError.self) { try h.validate() }
        h = Self.complete()
        h.sets[0].claims.append(HandoffClaim(metric: "roc_auc", value: 0.5))
        #expect(throws: EnsembleError.self) { try h.validate() }
        h = Self.complete()
        h.sets[0].claims[0].tolerance = -1
        #expect(throws: EnsembleError.self) { try h.validate() }
    }
}
