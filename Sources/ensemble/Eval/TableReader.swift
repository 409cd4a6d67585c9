import EnsembleServer
import Foundation

/// A failure in an input file, with the line it happened on.
struct InputError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Streams rows of a CSV (RFC 4180: quoted fields, doubled quotes, line breaks inside quotes) or
/// JSON Lines file, keeping only the requested columns, in bounded memory (1 MiB reads).
final class TableReader {
    enum Format: String, CaseIterable {
        case csv, jsonl

        static func guess(_ path: String) -> Format {
            let lower = path.lowercased()
            return lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") || lower.hasSuffix(".json") ? .jsonl : .csv
        }
    }

    let path: String
    let format: Format
    let handle: FileHandle
    let size: Int64
    private(set) var bytesRead: Int64 = 0
    private var buffer: [UInt8] = []
    private var position = 0
    private var atEnd = false
    /// 1-based line number of the row being returned.
    private(set) var line = 0
    private var nextLine = 1
    private var starts: [Int] = []
    /// Index of each wanted column in a CSV row.
    private var csvIndex: [Int] = []
    let columns: [String]

    init(path: String, format: Format?, columns: [String]) throws {
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

    /// The next row's wanted values (as text; JSON numbers and arrays keep their JSON text), or nil at the end.
    func next() throws -> [String]? {
        switch format {
        case .csv:
            if let fast = try nextUnquotedCSVRecord() { return fast }
            guard let record = try nextCSVRecord() else { return nil }
            if record.count == 1 && record[0].isEmpty { return try next() }  // blank line
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
    static func text(of value: JSONValue) -> String {
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

    /// The common case, fast: the next line holds no quote, so fields are the bytes between commas and
    /// only the wanted ones become strings. `nil` when the line has a quote (or at the end): the
    /// general parser takes over from the same position.
    private func nextUnquotedCSVRecord() throws -> [String]? {
        while true {
            guard let end = buffer[position...].firstIndex(of: 0x0A) else {
                guard fill() else { return nil }  // the last line (no newline) goes to the general parser
                continue
            }
            var lineEnd = end
            if lineEnd > position, buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let start = position
            if buffer[start..<lineEnd].contains(0x22) { return nil }
            position = end + 1
            line = nextLine
            nextLine += 1
            if start == lineEnd { continue }  // blank line
            // Field boundaries, in a buffer reused across rows.
            starts.removeAll(keepingCapacity: true)
            starts.append(start)
            var i = start
            while i < lineEnd {
                if buffer[i] == 0x2C { starts.append(i + 1) }
                i += 1
            }
            return try csvIndex.enumerated().map { k, field in
                guard field < starts.count else {
                    throw InputError(message: "\(path):\(line): the row has \(starts.count) fields, but the header has more; column '\(columns[k])' is missing.")
                }
                let from = starts[field], to = field + 1 < starts.count ? starts[field + 1] - 1 : lineEnd
                return String(decoding: buffer[from..<to], as: UTF8.self)
            }
        }
    }

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
