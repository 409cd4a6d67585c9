import Foundation

/// A validated task graph in dependency order.
public struct ForecastPlan: Sendable {
    public let tasks: [ProjectTask]
    /// Predecessor indices into ``tasks`` for each task.
    let predecessors: [[Int]]

    /// Checks ids, estimates (0 ≤ optimistic ≤ likely ≤ pessimistic) and dependencies (known, acyclic),
    /// and orders the tasks so every task comes after its dependencies.
    public init(tasks input: [ProjectTask]) throws(EnsembleError) {
        var index: [String: Int] = [:]
        for (i, t) in input.enumerated() {
            guard !t.id.isEmpty else { throw .invalid("tasks[\(i)].id: must not be empty.") }
            guard index[t.id] == nil else { throw .invalid("tasks: the id '\(t.id)' is used twice.") }
            index[t.id] = i
            guard [t.optimistic, t.likely, t.pessimistic].allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw .invalid("tasks.\(t.id): estimates must be non-negative numbers of days.")
            }
            guard t.optimistic <= t.likely, t.likely <= t.pessimistic else {
                throw .invalid("tasks.\(t.id): estimates must satisfy optimistic ≤ likely ≤ pessimistic (got \(t.optimistic), \(t.likely), \(t.pessimistic)).")
            }
        }
        for t in input {
            for d in t.dependsOn where index[d] == nil { throw .invalid("tasks.\(t.id).depends_on: unknown task '\(d)'.") }
            if t.dependsOn.contains(t.id) { throw .invalid("tasks.\(t.id).depends_on: a task cannot depend on itself.") }
        }
        // Kahn's algorithm, keeping the given order among ready tasks.
        var remaining = input.map { Set($0.dependsOn) }
        var done = Set<String>()
        var order: [Int] = []
        while order.count < input.count {
            let ready = input.indices.filter { !done.contains(input[$0].id) && remaining[$0].isSubset(of: done) }
            guard !ready.isEmpty else {
                let cycle = input.filter { !done.contains($0.id) }.map(\.id)
                throw .invalid("tasks: the dependencies form a cycle among \(cycle.joined(separator: ", ")).")
            }
            for i in ready {
                order.append(i)
                done.insert(input[i].id)
            }
            remaining = remaining.map { $0.subtracting(done) }
        }
        tasks = order.map { input[$0] }
        let position = Dictionary(uniqueKeysWithValues: tasks.enumerated().map { ($1.id, $0) })
        predecessors = tasks.map { $0.dependsOn.map { position[$0]! } }
    }
}

public struct ForecastResult: Sendable, Equatable {
    public struct Bin: Sendable, Equatable {
        public var from: Double
        public var to: Double
        public var count: Int
    }
    public var trials: Int
    public var seed: UInt64
    public var distribution: Forecast.Distribution
    /// Working days from the start.
    public var p50: Double
    public var p80: Double
    public var p95: Double
    public var mean: Double
    public var histogram: [Bin]
    /// Task id → share of trials in which it was on the critical path, most critical first.
    public var criticality: [(task: String, share: Double)]

    public static func == (a: ForecastResult, b: ForecastResult) -> Bool {
        a.trials == b.trials && a.seed == b.seed && a.p50 == b.p50 && a.p80 == b.p80 && a.p95 == b.p95 && a.mean == b.mean && a.histogram == b.histogram
            && a.criticality.map(\.task) == b.criticality.map(\.task) && a.criticality.map(\.share) == b.criticality.map(\.share)
    }
}

/// Monte Carlo schedule forecasts: each trial draws every task's duration from its three-point
/// estimate and finishes each task at max(finish of its dependencies) + its duration.
public enum Forecast {
    public enum Distribution: String, Sendable, Codable, CaseIterable {
        /// Beta-PERT: α = 1 + 4(m−o)/(p−o), β = 1 + 4(p−m)/(p−o), mean (o + 4m + p)/6.
        case pert
        case triangular
    }

    public static func simulate(
        _ plan: ForecastPlan, trials: Int = 10_000, seed: UInt64 = 0, distribution: Distribution = .pert, bins: Int = 20
    ) throws(EnsembleError) -> ForecastResult {
        guard (1...1_000_000).contains(trials) else { throw .invalid("trials: \(trials) must be between 1 and 1,000,000.") }
        guard !plan.tasks.isEmpty else { throw .invalid("tasks: a forecast needs at least one task with an estimate.") }
        let n = plan.tasks.count
        var random = SeededRandom(seed: seed)
        var totals = [Double](repeating: 0, count: trials)
        var critical = [Int](repeating: 0, count: n)
        var finish = [Double](repeating: 0, count: n)
        var onPath = [Bool](repeating: false, count: n)
        // Per-task sampling parameters.
        let params = plan.tasks.map { t -> (o: Double, range: Double, a: Double, b: Double, mode: Double) in
            let range = t.pessimistic - t.optimistic
            guard range > 0 else { return (t.optimistic, 0, 1, 1, 0) }
            let mode = (t.likely - t.optimistic) / range
            return (t.optimistic, range, 1 + 4 * mode, 1 + 4 * (1 - mode), mode)
        }
        for trial in 0..<trials {
            var end = 0.0, last = 0
            for i in 0..<n {
                let p = params[i]
                var duration = p.o
                if p.range > 0 {
                    let x: Double
                    switch distribution {
                    case .pert:
                        let g1 = random.gamma(p.a), g2 = random.gamma(p.b)
                        x = g1 / (g1 + g2)
                    case .triangular:
                        let u = random.nextDouble()
                        x = u < p.mode ? (u * p.mode).squareRoot() : 1 - ((1 - u) * (1 - p.mode)).squareRoot()
                    }
                    duration += p.range * x
                }
                var start = 0.0
                for j in plan.predecessors[i] where finish[j] > start { start = finish[j] }
                finish[i] = start + duration
                if finish[i] > end || i == 0 {
                    end = finish[i]
                    last = i
                }
            }
            totals[trial] = end
            // Walk back along the dependencies that set each start.
            for k in 0..<n { onPath[k] = false }
            var current = last
            while true {
                onPath[current] = true
                guard let next = plan.predecessors[current].max(by: { finish[$0] < finish[$1] }) else { break }
                current = next
            }
            for k in 0..<n where onPath[k] { critical[k] += 1 }
        }
        totals.sort()
        func percentile(_ q: Double) -> Double {
            let pos = q * Double(trials - 1)
            let lo = Int(pos.rounded(.down)), hi = min(lo + 1, trials - 1)
            return totals[lo] + (totals[hi] - totals[lo]) * (pos - Double(lo))
        }
        let lo = totals.first!, hi = totals.last!
        let binCount = max(1, bins)
        let width = hi > lo ? (hi - lo) / Double(binCount) : 1
        var histogram = (0..<binCount).map { ForecastResult.Bin(from: lo + Double($0) * width, to: lo + Double($0 + 1) * width, count: 0) }
        if hi == lo { histogram = [ForecastResult.Bin(from: lo, to: hi, count: trials)] } else {
            for t in totals { histogram[min(binCount - 1, Int((t - lo) / width))].count += 1 }
        }
        let criticality = plan.tasks.indices.map { (task: plan.tasks[$0].id, share: Double(critical[$0]) / Double(trials)) }
            .sorted { $0.share != $1.share ? $0.share > $1.share : $0.task < $1.task }
        var sum = 0.0
        for t in totals { sum += t }
        return ForecastResult(
            trials: trials, seed: seed, distribution: distribution, p50: percentile(0.5), p80: percentile(0.8), p95: percentile(0.95),
            mean: sum / Double(trials), histogram: histogram, criticality: criticality)
    }

    /// Working days (Monday–Friday) from `start` to `end` (`yyyy-mm-dd`), negative when `end` is earlier.
    public static func workingDays(from start: String, to end: String) -> Int? {
        guard let a = Project.parseDate(start), let b = Project.parseDate(end) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let (lo, hi, sign) = a <= b ? (a, b, 1) : (b, a, -1)
        var count = 0
        var day = lo
        while day < hi {
            day = calendar.date(byAdding: .day, value: 1, to: day)!
            let weekday = calendar.component(.weekday, from: day)
            if weekday != 1 && weekday != 7 { count += 1 }
        }
        return sign * count
    }

    /// Whether a forecast finishes by `due`: working days late (positive) or ahead (negative) at a percentile.
    public static func slip(finishDays: Double, start: String, due: String) -> Int? {
        guard let budget = workingDays(from: start, to: due) else { return nil }
        return Int(finishDays.rounded(.up)) - budget
    }

    /// The calendar date `days` working days (Monday–Friday) after `start` (`yyyy-mm-dd`), rounding
    /// partial days up.
    public static func date(after days: Double, from start: String) -> String? {
        guard var date = Project.parseDate(start) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var left = Int(days.rounded(.up))
        while left > 0 {
            date = calendar.date(byAdding: .day, value: 1, to: date)!
            let weekday = calendar.component(.weekday, from: date)
            if weekday != 1 && weekday != 7 { left -= 1 }
        }
        return Project.dayFormat.string(from: date)
    }
}

/// A seeded random source (SplitMix64 steps) with the draws forecasts need; the same seed gives the
/// same forecast on every machine.
public struct SeededRandom: Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal (Box–Muller).
    mutating func normal() -> Double {
        let u = max(nextDouble(), 0x1p-60), v = nextDouble()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }

    /// Gamma(shape, 1) for shape ≥ 1 (Marsaglia–Tsang).
    mutating func gamma(_ shape: Double) -> Double {
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            let x = normal()
            let v0 = 1 + c * x
            guard v0 > 0 else { continue }
            let v = v0 * v0 * v0
            let u = max(nextDouble(), 0x1p-60)
            if log(u) < 0.5 * x * x + d - d * v + d * log(v) { return d * v }
        }
    }
}
