import EnsembleArtifacts
import EnsembleCore
import Foundation
import Testing

@testable import EnsembleServer

/// The server's side of a handoff: every claim recomputed from the stored predictions and held to its tolerance.
@Suite("Handoff recomputation")
struct HandoffReviewTests {
    static func reviewer() throws -> HandoffReviewer {
        HandoffReviewer(content: try ContentStore(root: FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-handoff-\(UUID().uuidString)").path))
    }

    /// 10 examples: 7 right (accuracy 0.7); the positive class has 3 true positives, 2 false positives, 1 false negative.
    static let csv = """
        y,pred,score
        1,1,0.9
        1,1,0.8
        1,1,0.7
        1,0,0.4
        0,1,0.6
        0,1,0.55
        0,0,0.3
        0,0,0.2
        0,0,0.1
        0,0,0.05

        """

    static func set(_ reviewer: HandoffReviewer, claims: [HandoffClaim], text: String = csv, name: String = "test.csv") throws -> HandoffSet {
        let sha = try (reviewer.content as! ContentStore).put(Array(text.utf8))
        var s = HandoffSet(name: "test", labelColumn: "y", predictionColumn: "pred", claims: claims)
        s.scoreColumn = "score"
        s.predictions = HandoffFile(sha256: sha, size: Int64(text.utf8.count), name: name)
        return s
    }

    @Test("claims within tolerance pass, beyond it are mismatches with the difference; unknown metrics are unverified")
    func tolerance() async throws {
        let r = try Self.reviewer()
        let set = try Self.set(r, claims: [
            HandoffClaim(metric: "accuracy", value: 0.7),
            HandoffClaim(metric: "precision", value: 0.6004),  // 3 / 5, claimed 0.0004 high: inside the default 0.0005
            HandoffClaim(metric: "recall", value: 0.8),  // 3 / 4 = 0.75: 0.05 off
            HandoffClaim(metric: "f1", value: 0.66, tolerance: 0.01),  // 2·0.6·0.75 / 1.35 = 0.6667
            HandoffClaim(metric: "roc_auc", value: 0.9),  // 22 of 24 pairs ordered = 0.9167
            HandoffClaim(metric: "recall_at_5pct", value: 0.3),
        ])
        let checks = await r.recompute(set)
        let byMetric = Dictionary(uniqueKeysWithValues: checks.map { ($0.metric, $0) })
        #expect(byMetric["accuracy"]?.outcome == .ok && byMetric["accuracy"]?.recomputed == 0.7)
        #expect(byMetric["precision"]?.outcome == .ok)
        #expect(abs(byMetric["precision"]!.recomputed! - 0.6) < 1e-12)
        #expect(byMetric["recall"]?.outcome == .mismatch)
        #expect(abs(byMetric["recall"]!.difference! - 0.05) < 1e-12)
        #expect(byMetric["f1"]?.outcome == .ok)
        #expect(abs(byMetric["f1"]!.recomputed! - 2.0 / 3.0) < 1e-12)
        #expect(byMetric["roc_auc"]?.outcome == .mismatch)
        #expect(abs(byMetric["roc_auc"]!.recomputed! - 22.0 / 24.0) < 1e-12)
        #expect(byMetric["recall_at_5pct"]?.outcome == .unverified && byMetric["recall_at_5pct"]?.recomputed == nil)
        let summary = HandoffChecks(at: 0, missing: [], claims: checks, targets: [])
        #expect(!summary.passed && summary.mismatches.map(\.metric) == ["recall", "roc_auc"])
        #expect(summary.problems[0] == "Claim recall on 'test': claimed 0.8, recomputed 0.75; off by 0.05, more than its tolerance 0.0005.")
    }

    @Test("an unreadable file blocks every claim of its set, naming the sender's file and the problem")
    func unreadable() async throws {
        let r = try Self.reviewer()
        let missingColumn = try Self.set(r, claims: [HandoffClaim(metric: "accuracy", value: 0.7)], text: "label,pred\n1,1\n", name: "val.csv")
        let checks = await r.recompute(missingColumn)
        #expect(checks.count == 1 && checks[0].outcome == .error)
        #expect(checks[0].note?.contains("val.csv") == true && checks[0].note?.contains("'y'") == true)
        #expect(checks[0].note?.contains((r.content as! ContentStore).root) == false)
        // A claim that could not be evaluated keeps the handoff from the receiver, as a mismatch does.
        let summary = HandoffChecks(at: 0, missing: [], claims: checks, targets: [])
        #expect(!summary.passed && summary.problems.count == 1 && summary.problems[0].contains("val.csv could not be evaluated"))

        var never = try Self.set(r, claims: [HandoffClaim(metric: "accuracy", value: 0.7)])
        never.predictions?.sha256 = String(repeating: "b", count: 64)
        #expect(await r.recompute(never).first?.note == "the predictions file test.csv was never uploaded")

        var badTask = try Self.set(r, claims: [HandoffClaim(metric: "accuracy", value: 0.7)])
        badTask.task = "ranking"
        #expect(await r.recompute(badTask).first?.outcome == .error)
    }

    @Test("regression sets recompute too")
    func regression() async throws {
        let r = try Self.reviewer()
        var s = try Self.set(r, claims: [HandoffClaim(metric: "mae", value: 0.5), HandoffClaim(metric: "rmse", value: 0.6)], text: "y,pred\n1,1.5\n2,1.5\n3,3.5\n4,3.5\n")
        s.task = "regression"
        s.scoreColumn = nil
        let checks = await r.recompute(s)
        #expect(checks.map(\.outcome) == [.ok, .mismatch])
        #expect(checks[1].recomputed == 0.5)
    }
}
