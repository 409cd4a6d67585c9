/// Down-sampling of metric steps for `get-history-bulk-interval`: at most `maxResults` steps,
/// evenly spread over the requested range, always keeping the first and the last step so a chart
/// shows where a series starts and ends.
public enum MetricSampling {
    /// - Parameters:
    ///   - steps: the distinct steps that exist, sorted ascending.
    ///   - maxResults: how many steps may be returned (≥ 1).
    /// - Returns: the chosen steps, sorted ascending.
    public static func sampleSteps(_ steps: [Int64], maxResults: Int) -> [Int64] {
        guard steps.count > maxResults else { return steps }
        guard maxResults > 1 else { return [steps[0]] }
        var chosen: [Int64] = []
        chosen.reserveCapacity(maxResults)
        let span = Double(steps.count - 1)
        var last = -1
        for i in 0..<maxResults {
            let index = Int((Double(i) * span / Double(maxResults - 1)).rounded())
            if index != last {
                chosen.append(steps[index])
                last = index
            }
        }
        return chosen
    }
}
