import EnsembleJSON
import Foundation

/// A failure in an input file, with the line it happened on.
public struct InputError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}

/// Streams rows of a CSV (RFC 4180: quoted fields, doubled quotes, line breaks inside quotes) or
/// JSON Lines file, keeping only the requested columns, in bounded memory (1 MiB reads).
public final class TableReader {
    public enum Format: String, CaseIterable, Sendable {
        case csv, jsonl

        public static func guess(_ path: String) -> Format {
            let lower = path.lowercased()
            return lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") || lower.hasSuffix(".json") ? .jsonl : .csv
        }
    }

    public let path: String
    public let format: Format
    let handle: FileHandle
    public let size: Int64
    public private(set) var bytesRead: Int64 = 0
    private var buffer: [UInt8] = []
    private var position = 0
    private var atEnd = false
    /// 1-based line number of the row being returned.
    public private(set) var line = 0
    private var nextLine = 1
    /// Index of each wanted column in a CSV row.
    private var csvIndex: [Int] = []
    public let columns: [String]
    /// The CSV header row (empty for JSON Lines).
    public private(set) var header: [String] = []

    public init(path: String, format: Format?, columns: [String]) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw InputError(message: "Cannot open '\(path)'. Check the path and that the file is readable.")
        }
        self.path = path
        self.handle = handle
        self.format = format ?? Format.guess(path)
        self.columns = columns
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        self.size = (attributes?[.size] as? NSNumber)?.int64Value ?? 0
        if self.format == .csv {
            guard let header = try nextCSVRecord() else { throw InputError(message: "'\(path)' is empty; it needs a header row and at least one data row.") }
            self.header = header
            var index: [Int] = []
            for name in columns {
                guard let i = header.firstIndex(of: name) else {
                    throw InputError(message: "'\(path)' has no column '\(name)'. Its columns are: \(header.joined(separator: ", ")). Choose columns with the --*-column options.")
                }
                index.append(i)
            }
            csvIndex = index
        }
    }

    deinit { try? handle.close() }

    private func fill() -> Bool {
        if atEnd { return false }
        let chunk = handle.readData(ofLength: 1 << 20)
        if chunk.isEmpty {
            atEnd = true
            return false
        }
        if position > 0 {
            buffer.removeFirst(position)
            position = 0
        }
        buffer.append(contentsOf: chunk)
        bytesRead += Int64(chunk.count)
        return true
    }

    /// Bounds in `buffer` of the wanted fields of the current row, when it came through the fast path.
    private var fastBounds: [(Int, Int)] = []
    /// The wanted fields of the current row otherwise.
    private var slowValues: [String] = []
    private var usingFast = false

    /// Advances to the next row; false at the end. Read its fields with ``withField(_:_:)`` or ``string(_:)``.
    public func nextRow() throws -> Bool {
        if format == .csv, try nextUnquotedCSVRecord() {
            usingFast = true
            return true
        }
        guard let values = try nextSlow() else { return false }
        slowValues = values
        usingFast = false
        return true
    }

    /// The bytes of wanted field `k` of the current row (no copy on the fast path).
    public func withField<R>(_ k: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if usingFast {
            let (from, to) = fastBounds[k]
            return try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[from..<to])) }
        }
        var value = slowValues[k]
        return try value.withUTF8(body)
    }

    public func string(_ k: Int) -> String {
        usingFast ? withField(k) { String(decoding: $0, as: UTF8.self) } : slowValues[k]
    }

    /// The next row's wanted values as strings, or nil at the end.
    public func next() throws -> [String]? {
        guard try nextRow() else { return nil }
        return (0..<columns.count).map(string)
    }

    /// Rows the fast path does not take: quoted CSV lines, the last line without a line break, JSON Lines.
    private func nextSlow() throws -> [String]? {
        switch format {
        case .csv:
            guard let record = try nextCSVRecord() else { return nil }
            if record.count == 1 && record[0].isEmpty { return try nextSlow() }  // blank line
            return try csvIndex.map { i in
                guard i < record.count else {
                    throw InputError(message: "\(path):\(line): the row has \(record.count) fields, but the header has more; column '\(columns[csvIndex.firstIndex(of: i)!])' is missing.")
                }
                return record[i]
            }
        case .jsonl:
            while true {
                guard let raw = nextRawLine() else { return nil }
                if raw.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                let value: JSONValue
                do {
                    value = try raw.withUnsafeBytes { try JSONParser.parse($0) }
                } catch {
                    throw InputError(message: "\(path):\(line): not valid JSON (\(error)). Each line must be one JSON object.")
                }
                guard case .object(let members) = value else { throw InputError(message: "\(path):\(line): each line must be a JSON object.") }
                return try columns.map { name in
                    guard let item = members.first(where: { $0.0 == name })?.1, item != .null else {
                        throw InputError(message: "\(path):\(line): the object has no '\(name)' (keys: \(members.map(\.0).joined(separator: ", "))).")
                    }
                    return Self.text(of: item)
                }
            }
        }
    }

    /// A JSON value as text: strings as they are, numbers exactly as written (Foundation's JSON reader
    /// rounds some doubles), arrays and objects as JSON.
    public static func text(of value: JSONValue) -> String {
        switch value {
        case .string(let s): return s
        case .number(let n): return n
        default: return value.jsonText
        }
    }

    private func nextRawLine() -> ArraySlice<UInt8>? {
        while true {
            if let nl = buffer[position...].firstIndex(of: 0x0A) {
                let slice = buffer[position..<nl]
                position = nl + 1
                line = nextLine
                nextLine += 1
                return slice.last == 0x0D ? slice.dropLast() : slice
            }
            if !fill() {
                guard position < buffer.count else { return nil }
                let slice = buffer[position...]
                position = buffer.count
                line = nextLine
                nextLine += 1
                return slice
            }
        }
    }

    /// The common case, fast: the next line holds no quote, so fields are the bytes between commas; only
    /// their bounds are recorded. False when the line has a quote (or at the end): the general parser
    /// takes over from the same position.
    private func nextUnquotedCSVRecord() throws -> Bool {
        while true {
            // One pass over the line with a raw pointer (no per-byte access checks on the class's buffer).
            let found: (end: Int, lineEnd: Int, quoted: Bool)? = buffer.withUnsafeBufferPointer { b in
                var i = position, quoted = false
                while i < b.count, b[i] != 0x0A {
                    if b[i] == 0x22 { quoted = true }
                    i += 1
                }
                guard i < b.count else { return nil }
                let lineEnd = i > position && b[i - 1] == 0x0D ? i - 1 : i
                return (i, lineEnd, quoted)
            }
            guard let found else {
                guard fill() else { return false }  // the last line (no newline) goes to the general parser
                continue
            }
            if found.quoted { return false }
            let start = position
            position = found.end + 1
            line = nextLine
            nextLine += 1
            if start == found.lineEnd { continue }  // blank line
            let wanted = csvIndex
            let lineEnd = found.lineEnd
            if fastBounds.count != wanted.count { fastBounds = [(Int, Int)](repeating: (0, 0), count: wanted.count) }
            var bounds = fastBounds
            fastBounds = []  // keep the array uniquely referenced while filling it
            let fieldCount: Int = buffer.withUnsafeBufferPointer { b in
                var field = 0, from = start, i = start
                while true {
                    let atEnd = i == lineEnd
                    if atEnd || b[i] == 0x2C {
                        for k in wanted.indices where wanted[k] == field { bounds[k] = (from, i) }
                        if atEnd { break }
                        field += 1
                        from = i + 1
                    }
                    i += 1
                }
                return field + 1
            }
            fastBounds = bounds
            if let k = wanted.firstIndex(where: { $0 >= fieldCount }) {
                throw InputError(message: "\(path):\(line): the row has \(fieldCount) fields, but the header has more; column '\(columns[k])' is missing.")
            }
            return true
        }
    }

    /// Parses a decimal number from bytes: plain decimals with at most 15 significant digits, and an
    /// optional exponent that keeps the power of ten within 10^±22, are converted exactly (one correctly
    /// rounded multiplication or division, Clinger's fast path); text that cannot start a number (a
    /// letter other than those of inf and nan) is refused at once; anything else goes through
    /// `Double(String)`, which is correctly rounded too. `nil` when it is not a number.
    public static func parseDouble(_ b: UnsafeBufferPointer<UInt8>) -> Double? {
        var i = 0, negative = false
        if i < b.count, b[i] == 0x2D || b[i] == 0x2B {
            negative = b[i] == 0x2D
            i += 1
        }
        guard i < b.count else { return nil }
        switch b[i] | 0x20 {
        // A digit, "." or a sign; a blank, tab or CR (0x29, 0x2D once lower-cased); i or n (inf, nan); 0xC2 or 0xE2 (Unicode spaces).
        case 0x30...0x39, 0x2E, 0x20, 0x29, 0x2D, 0x2B, 0x69, 0x6E, 0xE2: break
        default: return nil
        }
        var mantissa: UInt64 = 0, digits = 0, fraction = 0, seenDot = false, anyDigit = false, fast = true
        while i < b.count {
            let c = b[i]
            if c >= 0x30 && c <= 0x39 {
                anyDigit = true
                if mantissa > 0 || c != 0x30 { digits += 1 }
                mantissa = mantissa &* 10 &+ UInt64(c - 0x30)
                if seenDot { fraction += 1 }
            } else if c == 0x2E && !seenDot {
                seenDot = true
            } else {
                fast = false
                break
            }
            i += 1
        }
        var exponent = -fraction
        if !fast, anyDigit, b[i] | 0x20 == 0x65 {
            // An exponent: e or E, an optional sign, one to four digits, and nothing after.
            var j = i + 1, negativeExponent = false, value = 0, count = 0
            if j < b.count, b[j] == 0x2D || b[j] == 0x2B {
                negativeExponent = b[j] == 0x2D
                j += 1
            }
            while j < b.count, b[j] >= 0x30 && b[j] <= 0x39, count < 4 {
                value = value * 10 + Int(b[j] - 0x30)
                count += 1
                j += 1
            }
            if count > 0 && j == b.count {
                exponent += negativeExponent ? -value : value
                fast = true
            }
        }
        if fast, anyDigit, digits <= 15, exponent >= -22, exponent <= 22 {
            let value = exponent < 0 ? Double(mantissa) / powersOfTen[-exponent] : Double(mantissa) * powersOfTen[exponent]
            return negative ? -value : value
        }
        let text = String(decoding: b, as: UTF8.self)
        return Double(text) ?? Double(text.trimmingCharacters(in: .whitespaces))
    }

    static let powersOfTen: [Double] = (0...22).map { (0..<$0).reduce(1.0) { r, _ in r * 10 } }

    /// One CSV record, which may span several lines when a quoted field holds a line break.
    private func nextCSVRecord() throws -> [String]? {
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var started = false
        let startLine = nextLine
        while true {
            if position >= buffer.count, !fill() {
                if !started { return nil }
                if inQuotes { throw InputError(message: "\(path):\(startLine): a quoted field is not closed before the end of the file.") }
                fields.append(String(decoding: field, as: UTF8.self))
                line = startLine
                return fields
            }
            let b = buffer[position]
            position += 1
            started = true
            if inQuotes {
                if b == 0x22 {
                    if position >= buffer.count { _ = fill() }
                    if position < buffer.count, buffer[position] == 0x22 {
                        field.append(0x22)
                        position += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if b == 0x0A { nextLine += 1 }
                    field.append(b)
                }
                continue
            }
            switch b {
            case 0x2C:
                fields.append(String(decoding: field, as: UTF8.self))
                field.removeAll(keepingCapacity: true)
            case 0x22 where field.isEmpty:
                inQuotes = true
            case 0x0A:
                if field.last == 0x0D { field.removeLast() }
                fields.append(String(decoding: field, as: UTF8.self))
                line = startLine
                nextLine += 1
                return fields
            default:
                field.append(b)
            }
        }
    }
}
