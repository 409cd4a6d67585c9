/// Builds compact JSON straight into bytes. Responses are written field by field — no intermediate
/// dictionaries, no reflection — which keeps large search answers cheap.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    /// Whether the next member or element needs a comma before it.
    private var needsComma = false

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    public var string: String { String(decoding: bytes, as: UTF8.self) }

    private mutating func separator() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    public mutating func beginObject() {
        separator()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        separator()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes a member name; the next call writes its value.
    /// Writes a member name known at compile time; the next call writes its value.
    /// - Important: Names are written as they are, unescaped: pass plain identifiers only.
    public mutating func key(_ k: StaticString) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes a member name that comes from data (escaped as any string).
    public mutating func dynamicKey(_ k: String) {
        separator()
        writeString(k)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ s: String) {
        separator()
        writeString(s)
        needsComma = true
    }

    public mutating func int(_ v: Int64) {
        separator()
        writeInteger(v)
        needsComma = true
    }

    /// Decimal digits straight into the buffer, without an intermediate String.
    private mutating func writeInteger(_ v: Int64) {
        if v < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = v.magnitude
        if magnitude < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude))
            return
        }
        var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 32 bytes of scratch, enough for 20 digits
        let count = withUnsafeMutableBytes(of: &digits) { scratch -> Int in
            var i = scratch.count
            while magnitude > 0 {
                i -= 1
                scratch[i] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            }
            return scratch.count - i
        }
        withUnsafeBytes(of: &digits) { scratch in
            bytes.append(contentsOf: scratch[(scratch.count - count)...])
        }
    }

    public mutating func bool(_ v: Bool) {
        separator()
        bytes.append(contentsOf: (v ? "true" : "false").utf8)
        needsComma = true
    }

    /// Doubles in proto-JSON form: NaN and infinities are the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
    public mutating func double(_ v: Double) {
        separator()
        if v.isNaN {
            writeString("NaN")
        } else if v.isInfinite {
            writeString(v > 0 ? "Infinity" : "-Infinity")
        } else {
            if v == v.rounded(.towardZero), abs(v) < 1e15 {
                // Whole numbers (common for counts and steps logged as metrics) without a String.
                if v == 0 && v.sign == .minus { bytes.append(UInt8(ascii: "-")) }
                writeInteger(Int64(v))
                bytes.append(contentsOf: [UInt8(ascii: "."), UInt8(ascii: "0")])
            } else {
                // Swift prints the shortest text that reads back to the same double; JSON accepts it.
                bytes.append(contentsOf: v.description.utf8)
            }
        }
        needsComma = true
    }

    public mutating func null() {
        separator()
        bytes.append(contentsOf: "null".utf8)
        needsComma = true
    }

    public mutating func value(_ v: JSONValue) {
        switch v {
        case .null: null()
        case .bool(let b): bool(b)
        case .number(let n):
            separator()
            bytes.append(contentsOf: n.utf8)
            needsComma = true
        case .string(let s): string(s)
        case .array(let items):
            beginArray()
            for item in items { value(item) }
            endArray()
        case .object(let members):
            beginObject()
            for (k, item) in members {
                dynamicKey(k)
                value(item)
            }
            endObject()
        }
    }

    // Convenience members.
    public mutating func member(_ k: StaticString, _ s: String) { key(k); string(s) }
    public mutating func member(_ k: StaticString, _ v: Int64) { key(k); int(v) }
    public mutating func member(_ k: StaticString, _ v: Bool) { key(k); bool(v) }
    public mutating func member(_ k: StaticString, double v: Double) { key(k); double(v) }
    public mutating func optionalMember(_ k: StaticString, _ s: String?) { if let s { member(k, s) } }
    public mutating func optionalMember(_ k: StaticString, _ v: Int64?) { if let v { member(k, v) } }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func writeString(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            bytes.append(UInt8(ascii: "\""))
            var start = 0
            for i in 0..<utf8.count {
                let b = utf8[i]
                guard b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") else { continue }
                // Copy the plain run before this byte in one go, then its escape.
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<i]))
                start = i + 1
                bytes.append(UInt8(ascii: "\\"))
                switch b {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(b)
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                default:
                    bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                    bytes.append(Self.hexDigits[Int(b >> 4)])
                    bytes.append(Self.hexDigits[Int(b & 0xF)])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
            bytes.append(UInt8(ascii: "\""))
        }
    }
}
