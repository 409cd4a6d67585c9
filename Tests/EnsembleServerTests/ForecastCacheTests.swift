import EnsembleCore
import Testing

@testable import EnsembleServer

@Suite("Forecast cache")
struct ForecastCacheTests {
    static let tasks = [
        ProjectTask(id: "data", name: "Data", optimistic: 2, likely: 4, pessimistic: 9, dependsOn: []),
        ProjectTask(id: "model", name: "Model", optimistic: 3, likely: 5, pessimistic: 12, dependsOn: ["data"]),
    ]

    @Test("a plan is simulated once per version; the cached answer is the simulation's")
    func oncePerVersion() throws {
        let cache = ForecastCache()
        let first = try #require(cache.forecast(tasks: Self.tasks, trials: 2000))
        #expect(cache.count == 1)
        #expect(cache.forecast(tasks: Self.tasks, trials: 2000) == first)
        #expect(cache.count == 1)
        #expect(first == (try Forecast.simulate(try ForecastPlan(tasks: Self.tasks), trials: 2000, seed: 0)))
        // A new version of the plan (an estimate changed) or another trial count is simulated anew.
        var edited = Self.tasks
        edited[1].pessimistic = 20
        let second = try #require(cache.forecast(tasks: edited, trials: 2000))
        #expect(second != first)
        _ = cache.forecast(tasks: Self.tasks, trials: 500)
        #expect(cache.count == 3)
        #expect(cache.forecast(tasks: [], trials: 2000) == nil)
    }

    @Test("the cache starts over past its capacity instead of growing")
    func bounded() {
        let cache = ForecastCache(capacity: 4)
        for i in 0..<10 {
            _ = cache.forecast(tasks: [ProjectTask(id: "t", name: "T", optimistic: 1, likely: Double(2 + i), pessimistic: 40, dependsOn: [])], trials: 100)
        }
        #expect(cache.count <= 4)
    }
}
