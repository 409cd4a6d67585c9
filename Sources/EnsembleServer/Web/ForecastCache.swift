import EnsembleCore
import Foundation
import NIOConcurrencyHelpers

/// Schedule forecasts for pages, kept by what they depend on: the plan's tasks and the number of
/// trials (the seed is fixed, so equal inputs give equal results). The board used to run one Monte
/// Carlo simulation per project on every render, and the project page two; now a project's
/// forecast is simulated once per version of its plan.
final class ForecastCache: Sendable {
    private let entries = NIOLockedValueBox<[String: ForecastResult]>([:])
    /// More distinct plans than this and the cache starts over (each entry is a few KB).
    let capacity: Int

    init(capacity: Int = 512) {
        self.capacity = capacity
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    /// The forecast of `tasks` with `trials` trials, or `nil` when the plan cannot be simulated
    /// (no tasks, a cycle, bad estimates).
    func forecast(tasks: [ProjectTask], trials: Int) -> ForecastResult? {
        guard !tasks.isEmpty, let plan = try? Self.encoder.encode(tasks) else { return nil }
        let key = "\(trials) " + String(decoding: plan, as: UTF8.self)
        if let hit = entries.withLockedValue({ $0[key] }) { return hit }
        guard let parsed = try? ForecastPlan(tasks: tasks), let result = try? Forecast.simulate(parsed, trials: trials, seed: 0) else { return nil }
        entries.withLockedValue { cache in
            if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
            cache[key] = result
        }
        return result
    }

    var count: Int { entries.withLockedValue { $0.count } }
}
