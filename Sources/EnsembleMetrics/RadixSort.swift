/// LSD radix sort of doubles (four passes of 16 bits over order-preserving keys): O(n), several times
/// faster than a comparison sort on millions of scores. NaN must not be present.
enum RadixSort {
    /// Maps a double to an unsigned key with the same order: flip the sign bit of non-negatives, all bits
    /// of negatives.
    @inline(__always)
    static func key(_ d: Double) -> UInt64 {
        let bits = d.bitPattern
        return bits & (1 << 63) == 0 ? bits | (1 << 63) : ~bits
    }

    @inline(__always)
    static func value(_ k: UInt64) -> Double {
        Double(bitPattern: k & (1 << 63) != 0 ? k & ~(1 << 63) : ~k)
    }

    static func sort(_ values: inout [Double]) {
        let n = values.count
        guard n > 1 else { return }
        if n < 4096 {
            values.sort()
            return
        }
        var keys = values.map(key)
        var scratch = [UInt64](repeating: 0, count: n)
        var counts = [Int](repeating: 0, count: 1 << 16)
        keys.withUnsafeMutableBufferPointer { src in
            scratch.withUnsafeMutableBufferPointer { dst in
                var from = src, to = dst
                for pass in 0..<4 {
                    let shift = UInt64(pass * 16)
                    for i in counts.indices { counts[i] = 0 }
                    for k in from { counts[Int((k >> shift) & 0xFFFF)] += 1 }
                    // Skip a pass where every key has the same digit.
                    if counts[Int((from[0] >> shift) & 0xFFFF)] == n { continue }
                    var total = 0
                    for i in counts.indices {
                        let c = counts[i]
                        counts[i] = total
                        total += c
                    }
                    for k in from {
                        let d = Int((k >> shift) & 0xFFFF)
                        to[counts[d]] = k
                        counts[d] += 1
                    }
                    swap(&from, &to)
                }
                // `from` holds the sorted keys.
                for i in 0..<n { values[i] = value(from[i]) }
            }
        }
    }
}
