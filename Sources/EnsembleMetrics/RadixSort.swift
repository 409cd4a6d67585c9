/// Least-significant-digit radix sort on 64-bit keys, 16 bits per pass: O(n), several times faster
/// than a comparison sort on the millions of values it gets here: scores for ROC AUC and average
/// precision (`ensemble eval`), every numeric column of both sides (`ensemble drift`), the hashes of
/// unit ids (`ensemble ab`). In a profile of `ensemble drift` on 2 × 100,000 rows × 20 columns, the
/// standard library's sort took 14% of the run. Passes where every key has the same digit (common in
/// the high bits of doubles from one range) are skipped. Below 4,096 values the standard library's
/// sort is used.
public enum RadixSort {
    static let threshold = 4096

    /// Sorts finite doubles ascending (−0.0 and 0.0 are equal, in either order). NaN is not ordered.
    public static func sort(_ values: inout [Double]) {
        guard values.count >= threshold else { return values.sort() }
        values.withUnsafeMutableBytes { raw in
            let keys = raw.bindMemory(to: UInt64.self)
            // The bit pattern made unsigned-order-preserving: flip every bit of negatives, the sign bit of the rest.
            for i in keys.indices {
                let b = keys[i]
                keys[i] = b & signBit != 0 ? ~b : b | signBit
            }
            sortKeys(keys)
            for i in keys.indices {
                let k = keys[i]
                keys[i] = k & signBit != 0 ? k & ~signBit : ~k
            }
        }
    }

    /// Sorts unsigned keys ascending.
    public static func sort(_ keys: inout [UInt64]) {
        guard keys.count >= threshold else { return keys.sort() }
        keys.withUnsafeMutableBufferPointer { sortKeys($0) }
    }

    static let signBit: UInt64 = 1 << 63

    static func sortKeys(_ keys: UnsafeMutableBufferPointer<UInt64>) {
        let n = keys.count
        var counts = [Int](repeating: 0, count: 4 << 16)
        counts.withUnsafeMutableBufferPointer { c in
            for k in keys {
                c[Int(k & 0xFFFF)] += 1
                c[65536 + Int((k >> 16) & 0xFFFF)] += 1
                c[131072 + Int((k >> 32) & 0xFFFF)] += 1
                c[196608 + Int(k >> 48)] += 1
            }
        }
        let scratch = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: n)
        defer { scratch.deallocate() }
        var source = keys, target = scratch
        counts.withUnsafeMutableBufferPointer { c in
            for pass in 0..<4 {
                let base = pass << 16, shift = UInt64(pass * 16)
                // One digit for every key: this pass would not move anything.
                if c[base + Int((source[0] >> shift) & 0xFFFF)] == n { continue }
                var offset = 0
                for d in 0..<65536 {
                    let count = c[base + d]
                    c[base + d] = offset
                    offset += count
                }
                for k in source {
                    let d = base + Int((k >> shift) & 0xFFFF)
                    target[c[d]] = k
                    c[d] += 1
                }
                swap(&source, &target)
            }
        }
        if source.baseAddress != keys.baseAddress { _ = keys.update(fromContentsOf: source) }
    }
}
