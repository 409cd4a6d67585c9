import EnsembleMetrics
import Testing

@testable import EnsembleEval

@Suite("Release gate: paired bootstrap")
struct GateTests {
    /// Scores for `n` examples: each model is right with its own probability, independently.
    static func examples(n: Int, baseline: Double, candidate: Double, seed: UInt64) -> Gate.Examples {
        var rng = SplitMix64(seed: seed)
        func unit() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
        var data = Gate.Examples(positives: [], baseline: [], candidate: [])
        for _ in 0..<n {
            let positive = unit() < 0.5
            data.positives.append(positive)
            for (p, isCandidate) in [(baseline, false), (candidate, true)] {
                let right = unit() < p
                let score = (positive == right) ? 0.5 + unit() / 2 : unit() / 2.0001
                if isCandidate { data.candidate.append(score) } else { data.baseline.append(score) }
            }
        }
        return data
    }

    static func options(_ metrics: [Gate.MetricRule], resamples: Int = 1000, seed: UInt64 = 7) -> Gate.Options {
        var o = Gate.Options()
        (o.metrics, o.resamples, o.seed) = (metrics, resamples, seed)
        return o
    }

    @Test("point values equal the plain metrics; the same seed gives the same intervals, another seed others")
    func determinism() throws {
        let data = Self.examples(n: 500, baseline: 0.7, candidate: 0.75, seed: 1)
        let rules = Gate.metrics.map { Gate.MetricRule(name: $0, rule: .nonInferior, margin: 0.02) }
        let a = try Gate.evaluate("val", data, Self.options(rules))
        #expect(try Gate.evaluate("val", data, Self.options(rules)) == a)
        #expect(try Gate.evaluate("val", data, Self.options(rules, seed: 8)).metrics.map(\.ciLow) != a.metrics.map(\.ciLow))
        let auc = try #require(a.metrics.first { $0.name == "roc_auc" })
        #expect(abs(auc.baseline - (try Classification.rocAUC(scores: data.baseline, positives: data.positives))) < 1e-12)
        let accuracy = try #require(a.metrics.first { $0.name == "accuracy" })
        let right = zip(data.candidate, data.positives).filter { ($0.0 >= 0.5) == $0.1 }.count
        #expect(accuracy.candidate == Double(right) / 500)
        for m in a.metrics { #expect(m.ciLow <= m.difference && m.difference <= m.ciHigh, "\(m.name)") }
    }

    @Test("identical models: the difference is 0, non-inferiority passes, superiority does not")
    func identical() throws {
        var data = Self.examples(n: 400, baseline: 0.8, candidate: 0.8, seed: 2)
        data.candidate = data.baseline
        let result = try Gate.evaluate("val", data, Self.options([
            Gate.MetricRule(name: "roc_auc", rule: .nonInferior, margin: 0.01), Gate.MetricRule(name: "f1", rule: .superior),
        ]))
        #expect(result.metrics.map(\.difference) == [0, 0] && result.metrics.allSatisfy { $0.ciLow <= 0 && $0.ciHigh >= 0 })
        #expect(result.metrics.map(\.passed) == [true, false])
    }

    @Test("a candidate better by construction is found superior; a worse one fails non-inferiority; a floor is judged on the candidate's own interval")
    func detects() throws {
        let better = Self.examples(n: 2000, baseline: 0.70, candidate: 0.80, seed: 3)
        let r = try Gate.evaluate("val", better, Self.options([Gate.MetricRule(name: "accuracy", rule: .superior), Gate.MetricRule(name: "roc_auc", rule: .superior)]))
        #expect(r.metrics.allSatisfy { $0.passed })
        let worse = Self.examples(n: 2000, baseline: 0.80, candidate: 0.75, seed: 4)
        let w = try Gate.evaluate("val", worse, Self.options([Gate.MetricRule(name: "accuracy", rule: .nonInferior, margin: 0.01)]))
        #expect(!w.metrics[0].passed && w.metrics[0].ciHigh < 0)
        let floors = try Gate.evaluate("val", better, Self.options([
            Gate.MetricRule(name: "accuracy", rule: .atLeast, floor: 0.75), Gate.MetricRule(name: "accuracy", rule: .atLeast, floor: 0.80),
        ]))
        #expect(floors.metrics.map(\.passed) == [true, false])  // the candidate's accuracy is about 0.80: its lower end is below
    }

    @Test("the 95% interval covers the true difference in 93–97% of 400 simulated sets")
    func coverage() throws {
        // Each model is right independently with a fixed probability, so the true accuracy difference is 0.05.
        var covered = 0
        let trials = 400
        for seed in 0..<trials {
            let data = Self.examples(n: 300, baseline: 0.75, candidate: 0.80, seed: 1000 + UInt64(seed))
            let r = try Gate.evaluate("sim", data, Self.options([Gate.MetricRule(name: "accuracy", rule: .nonInferior)], resamples: 500, seed: UInt64(seed)))
            if r.metrics[0].ciLow <= 0.05 && 0.05 <= r.metrics[0].ciHigh { covered += 1 }
        }
        let rate = Double(covered) / Double(trials)
        #expect(rate >= 0.93 && rate <= 0.97, "coverage \(rate)")
    }

    @Test("stratified resamples keep the class counts")
    func stratified() throws {
        // A candidate that calls everything negative has accuracy = the share of negatives: exactly 0.9 in
        // every stratified resample, anything around it otherwise.
        let positives = (0..<100).map { $0 % 10 == 0 }
        let data = Gate.Examples(positives: positives, baseline: positives.map { $0 ? 0.9 : 0.1 }, candidate: positives.map { _ in 0.1 })
        var o = Self.options([Gate.MetricRule(name: "accuracy", rule: .atLeast, floor: 0.9)])
        let plain = try Gate.evaluate("tiny", data, o)
        #expect(plain.metrics[0].candidateLow < 0.9 && !plain.metrics[0].passed)
        o.stratify = true
        let kept = try Gate.evaluate("tiny", data, o)
        #expect(kept.metrics[0].candidateLow == 0.9 && kept.metrics[0].candidateHigh == 0.9 && kept.metrics[0].passed)
    }

    @Test("resampling counts (one multinomial draw per resample) gives the intervals that resampling rows does", arguments: [false, true])
    func countsMatchRows(stratify: Bool) throws {
        // ROC AUC needs the rows drawn, so a gate that also asks for it resamples rows for every metric:
        // the same set judged with and without it compares the two ways of resampling.
        let data = Self.examples(n: 3000, baseline: 0.72, candidate: 0.76, seed: 21)
        var counts = Self.options([Gate.MetricRule(name: "accuracy", rule: .nonInferior), Gate.MetricRule(name: "f1", rule: .nonInferior)], resamples: 20000, seed: 5)
        counts.stratify = stratify
        var rows = counts
        rows.metrics.append(Gate.MetricRule(name: "roc_auc", rule: .nonInferior))
        rows.seed = 6
        let a = try Gate.evaluate("val", data, counts), b = try Gate.evaluate("val", data, rows)
        for m in 0..<2 {
            let sd = (a.metrics[m].ciHigh - a.metrics[m].ciLow) / 3.92
            // A 2.5% or 97.5% percentile of 20,000 resamples has a standard error near 0.02 sd; two of them differ by
            // about 0.027 sd. 0.12 sd is 4.4 of those.
            #expect(abs(a.metrics[m].ciLow - b.metrics[m].ciLow) < 0.12 * sd, "\(a.metrics[m].name) low")
            #expect(abs(a.metrics[m].ciHigh - b.metrics[m].ciHigh) < 0.12 * sd, "\(a.metrics[m].name) high")
            #expect(a.metrics[m].difference == b.metrics[m].difference)
        }
    }

    @Test("the result depends on the seed only: chunks of resamples have their own generators")
    func chunks() throws {
        let data = Self.examples(n: 800, baseline: 0.7, candidate: 0.72, seed: 9)
        let rules = [Gate.MetricRule(name: "accuracy", rule: .nonInferior), Gate.MetricRule(name: "roc_auc", rule: .nonInferior)]
        let first = try Gate.evaluate("val", data, Self.options(rules, resamples: 1001, seed: 3))
        for _ in 0..<3 { #expect(try Gate.evaluate("val", data, Self.options(rules, resamples: 1001, seed: 3)) == first) }
        #expect(Set((0..<1000).map { Gate.chunkSeed(3, $0) }).count == 1000)
    }
}

