/// Down-sampling of metric steps for `get-history-bulk-interval`, step for step as the MLflow server
/// (3.17) chooses them, because the MLflow UI draws whatever comes back:
///
/// - the steps are those that exist in any of the runs, in `[start, end]` (both default to
///   `0 … the largest step`);
/// - when more than `maxResults` exist, it takes the step at index `start + ⌊i · n / maxResults⌋`
///   for `i` in `0..<maxResults`, plus the last one (so up to `maxResults + 1`);
/// - every run's own first and last step inside the range is added, so no series loses its ends.
///
/// For ten steps 0…9 and `maxResults` 5 that is 0, 2, 4, 6, 8, 9, as MLflow's own test expects.
public enum MetricSampling {
    /// - Parameters:
    ///   - runSteps: for each run, the steps it has (any order, duplicates allowed).
    ///   - start, end: the requested range; both or neither.
    ///   - maxResults: at least 1.
    /// - Returns: the chosen steps, ascending.
    public static func sampleSteps(runSteps: [[Int64]], start: Int64?, end: Int64?, maxResults: Int) -> [Int64] {
        let all = Set(runSteps.joined()).sorted()
        let low = start ?? 0
        let high = end ?? (start == nil ? (all.last ?? 0) : Int64.max)
        var chosen = Set<Int64>()
        for steps in runSteps {
            guard let lo = steps.min(), let hi = steps.max() else { continue }
            for s in [lo, hi] where s >= low && s <= high { chosen.insert(s) }
        }
        let first = all.partitioningIndex { $0 >= low }
        let past = all.partitioningIndex { $0 > high }
        let count = past - first
        guard count > 0 else { return chosen.sorted() }
        if count <= maxResults {
            chosen.formUnion(all[first..<past])
        } else {
            let interval = Double(count) / Double(max(maxResults, 1))
            for i in 0..<maxResults {
                let index = first + Int(Double(i) * interval)
                if index < past { chosen.insert(all[index]) }
            }
            chosen.insert(all[past - 1])
        }
        return chosen.sorted()
    }
}

extension Array {
    /// The first index whose element satisfies `predicate`, for an array partitioned by it
    /// (all non-matching elements first); binary search.
    func partitioningIndex(where predicate: (Element) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let mid = low + (high - low) / 2
            if predicate(self[mid]) { high = mid } else { low = mid + 1 }
        }
        return low
    }
}
