import EnsembleCore
import Testing

@testable import EnsembleClient

@Suite("The sweep fixture has the shape real sweeps have")
struct SweepFixtureTests {
    let runs = SweepFixture(start: 1_700_000_000_000).runs()

    @Test("48 runs with long names, 100+ params each with long dotted names, some of them swept")
    func shape() throws {
        #expect(runs.count >= 40)
        #expect(runs.allSatisfy { $0.name.count > 50 })
        #expect(Set(runs.map(\.name)).count == runs.count)
        for run in runs {
            #expect(run.params.count >= 100)
            #expect(Set(run.params.map(\.key)).count == run.params.count, "a param is logged once")
            #expect(run.params.allSatisfy { (try? Validation.validateParam($0)) != nil })
        }
        #expect(runs[0].params.filter { $0.key.count >= 60 && $0.key.split(separator: ".").count >= 5 }.count >= 50)
        let swept = Set(runs[0].params.map(\.key)).filter { key in Set(runs.map { r in r.params.first { $0.key == key }!.value }).count > 1 }
        #expect(swept == ["optimizer.learning_rate", "lora.r", "lora.alpha", "data.train_batch_size", "trainer.seed", "trainer.gradient_accumulation_steps"])
    }

    @Test("metric families, system metrics, one single-point metric, one 100,000-point series")
    func metrics() throws {
        let keys = Set(runs[0].metrics.map(\.key))
        #expect(Set(keys.compactMap { $0.split(separator: "/").first.map(String.init) }) == ["train", "val", "test", "system"])
        #expect(keys.filter { $0.hasPrefix("system/gpu_1_") }.count == 4)
        #expect(runs.allSatisfy { r in r.metrics.filter { $0.key == SweepFixture.singlePointMetric }.count == 1 })
        #expect(runs[0].metrics.filter { $0.key == SweepFixture.longSeries }.count == 100_000)
        #expect(runs.dropFirst().allSatisfy { r in !r.metrics.contains { $0.key == SweepFixture.longSeries } })
        #expect(runs.allSatisfy { r in r.metrics.allSatisfy { $0.value.isFinite } })
        // Points of one series have distinct steps, so nothing is de-duplicated away on upload.
        let loss = runs[3].metrics.filter { $0.key == "train/loss" }
        #expect(Set(loss.map(\.step)).count == loss.count && loss.count == 200)
    }

    @Test("the same seed gives the same sweep; the best arm is lr 3e-4 with rank 32")
    func deterministic() throws {
        let again = SweepFixture(start: 1_700_000_000_000).runs()
        #expect(again.map(\.metrics) == runs.map(\.metrics) && again.map(\.params) == runs.map(\.params))
        let best = try #require(runs.max { a, b in
            a.metrics.first { $0.key == SweepFixture.singlePointMetric }!.value < b.metrics.first { $0.key == SweepFixture.singlePointMetric }!.value
        })
        #expect(best.params.first { $0.key == "optimizer.learning_rate" }?.value == "3e-4")
        #expect(best.params.first { $0.key == "lora.r" }?.value == "32")
    }
}
