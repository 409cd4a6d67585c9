import Crypto

/// One value of a table row, as moved between backends by `ensemble migrate-store`.
public enum TableValue: Sendable, Equatable {
    case null
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case text(String)
    case bytes([UInt8])
}

/// A column's type in the target database, which decides how a source value is read.
public enum TableColumnType: Sendable, Equatable {
    case int, double, bool, text, bytes

    /// `value` as this type (SQLite stores booleans as integers, and may hand a whole REAL as an
    /// integer); nil when it cannot be one.
    public func convert(_ value: TableValue) -> TableValue? {
        switch (self, value) {
        case (_, .null): .null
        case (.int, .int), (.double, .double), (.bool, .bool), (.text, .text), (.bytes, .bytes): value
        case (.double, .int(let i)): .double(Double(i))
        case (.bool, .int(let i)): .bool(i != 0)
        case (.int, .bool(let b)): .int(b ? 1 : 0)
        case (.bytes, .text(let s)): .bytes(Array(s.utf8))
        default: nil
        }
    }
}

/// A table's content summarised without regard to row order: the row count and the wrapping sum of
/// each row's SHA-256 (first 16 bytes). Two backends holding the same rows give equal checksums,
/// whatever order they return them in; a changed, lost or extra row changes it.
public struct TableChecksum: Sendable, Equatable, CustomStringConvertible {
    public private(set) var rows: Int64 = 0
    private var high: UInt64 = 0
    private var low: UInt64 = 0

    public init() {}

    public mutating func add(_ row: [TableValue]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        for value in row {
            switch value {
            case .null: bytes.append(0)
            case .int(let i):
                bytes.append(1)
                withUnsafeBytes(of: i.littleEndian) { bytes.append(contentsOf: $0) }
            case .double(let d):
                bytes.append(2)
                // -0.0 and 0.0 are one value in both databases.
                withUnsafeBytes(of: (d == 0 ? 0 : d).bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
            case .bool(let b): bytes.append(b ? 4 : 3)
            case .text(let s):
                bytes.append(5)
                withUnsafeBytes(of: UInt64(s.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
                bytes.append(contentsOf: s.utf8)
            case .bytes(let b):
                bytes.append(6)
                withUnsafeBytes(of: UInt64(b.count).littleEndian) { bytes.append(contentsOf: $0) }
                bytes.append(contentsOf: b)
            }
        }
        let digest = Array(SHA256.hash(data: bytes))
        var h: UInt64 = 0, l: UInt64 = 0
        for i in 0..<8 {
            h = h << 8 | UInt64(digest[i])
            l = l << 8 | UInt64(digest[8 + i])
        }
        let (sum, carry) = low.addingReportingOverflow(l)
        low = sum
        high = high &+ h &+ (carry ? 1 : 0)
        rows += 1
    }

    public var description: String {
        func hex(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return hex(high) + hex(low)
    }
}
