/// Summation helpers: Neumaier-compensated sums keep large evaluation sets accurate to the last few
/// ulps, so results agree with NumPy's pairwise sums far inside 1e-9 relative.
@usableFromInline
struct CompensatedSum {
    @usableFromInline var sum = 0.0
    @usableFromInline var compensation = 0.0

    @inlinable init() {}

    @inlinable mutating func add(_ x: Double) {
        let t = sum + x
        if abs(sum) >= abs(x) {
            compensation += (sum - t) + x
        } else {
            compensation += (x - t) + sum
        }
        sum = t
    }

    @inlinable var value: Double { sum + compensation }
}

@inlinable
func compensatedSum<S: Sequence>(_ values: S) -> Double where S.Element == Double {
    var s = CompensatedSum()
    for v in values { s.add(v) }
    return s.value
}

/// An error in the inputs of a metric, worded for the person who supplied them.
public struct MetricError: Error, Equatable, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
