import EnsembleCore
import PostgresNIO

/// A statement assembled piece by piece (search filters, orderings), with every value bound as a
/// `$n` parameter — never spliced into the text.
struct SQLBuilder {
    var sql = ""
    var binds = PostgresBindings()

    init(_ sql: String = "") { self.sql = sql }

    /// Binds a value and returns its placeholder.
    mutating func bind<V: PostgresDynamicTypeEncodable>(_ value: V) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    mutating func bind<V: PostgresDynamicTypeEncodable>(_ value: V?) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    mutating func append(_ text: String) { sql += text }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }
}

/// Search clauses as PostgreSQL predicates: the SQLite store's rules (SQLPredicate there), in this
/// dialect. `LIKE` is case-sensitive and `ILIKE` is not, both with no escape character, as MLflow's
/// patterns have none; text compares byte by byte (the columns are COLLATE "C").
enum PGPredicate {
    static func compare(_ column: String, clause: SearchClause, _ q: inout SQLBuilder) throws -> String {
        switch clause.comparator {
        case .equal, .notEqual, .greater, .greaterOrEqual, .less, .lessOrEqual:
            switch clause.value {
            case .string(let s): return "\(column) \(clause.comparator.rawValue) \(q.bind(s))"
            case .number(let n):
                // A number against a text column compares as text in SQLite; here the column is cast
                // only when it is text, so a wrong type is never a server error.
                return "\(column) \(clause.comparator.rawValue) \(q.bind(n))"
            default: throw EnsembleError.invalid("\(clause.comparator.rawValue) needs a single value")
            }
        case .like:
            guard case .string(let pattern) = clause.value else { throw EnsembleError.invalid("LIKE needs a quoted pattern") }
            return "\(column) LIKE \(q.bind(pattern)) ESCAPE ''"
        case .ilike:
            guard case .string(let pattern) = clause.value else { throw EnsembleError.invalid("ILIKE needs a quoted pattern") }
            return "lower(\(column)) LIKE \(q.bind(pattern.lowercased())) ESCAPE ''"
        case .in, .notIn:
            guard case .list(let items) = clause.value else { throw EnsembleError.invalid("IN needs a list") }
            let any = "\(column) = ANY(\(q.bind(items))::text[])"
            return clause.comparator == .in ? any : "NOT (\(any))"
        case .isNull:
            return "\(column) IS NULL"
        case .isNotNull:
            return "\(column) IS NOT NULL"
        }
    }

    /// A predicate on a key/value table aliased `t`; `IS NULL` means "has no such key".
    static func keyValueExists(table: String, owner: String, clause: SearchClause, _ q: inout SQLBuilder) throws -> String {
        let key = q.bind(clause.key.name)
        switch clause.comparator {
        case .isNull:
            return "NOT EXISTS (SELECT 1 FROM \(table) t WHERE \(owner) AND t.key = \(key))"
        case .isNotNull:
            return "EXISTS (SELECT 1 FROM \(table) t WHERE \(owner) AND t.key = \(key))"
        default:
            let predicate = try compare("t.value", clause: clause, &q)
            return "EXISTS (SELECT 1 FROM \(table) t WHERE \(owner) AND t.key = \(key) AND \(predicate))"
        }
    }
}

extension PostgresConnection {
    /// Every row of a query, decoded.
    func rows<each C: PostgresDecodable & Sendable>(_ query: PostgresQuery, _ type: (repeat each C).Type, logger: Logger) async throws -> [(repeat each C)] {
        var out: [(repeat each C)] = []
        for try await row in try await self.query(query, logger: logger).decode(type) { out.append(row) }
        return out
    }

    /// Calls `body` with each row's cells, read in order with concrete types (``Cells``): the hot
    /// reads (pages of runs, metric histories) use it instead of ``rows(_:_:logger:)``.
    func eachRow(_ query: PostgresQuery, logger: Logger, _ body: (inout Cells) throws -> Void) async throws {
        for try await row in try await self.query(query, logger: logger) {
            var cells = Cells(row)
            try body(&cells)
        }
    }

    /// The first column of every row.
    func column<C: PostgresDecodable & Sendable>(_ query: PostgresQuery, _ type: C.Type, logger: Logger) async throws -> [C] {
        var out: [C] = []
        for try await row in try await self.query(query, logger: logger) {
            var cells = Cells(row)
            out.append(try cells.next(C.self))
        }
        return out
    }

    /// The first column of the first row, if there is one.
    func value<C: PostgresDecodable & Sendable>(_ query: PostgresQuery, _ type: C.Type, logger: Logger) async throws -> C? {
        for try await row in try await self.query(query, logger: logger) {
            var cells = Cells(row)
            return try cells.next(C.self)
        }
        return nil
    }

    /// Runs a statement and returns how many rows it changed.
    @discardableResult
    func run(_ query: PostgresQuery, logger: Logger) async throws -> Int {
        let future: EventLoopFuture<PostgresQueryResult> = self.query(query, logger: logger)
        return try await future.get().metadata.rows ?? 0
    }
}

/// A row's cells, decoded one at a time in column order with a concrete type each.
///
/// Why not PostgresNIO's `row.decode((A, B, …).self)`: its variadic decoding looks up tuple and
/// generic metadata at run time for every row. In a profile of `runs/search` (100 runs, ~1,500
/// attached rows) that lookup was about a third of the server's time; decoding cell by cell with
/// concrete types is specialized at compile time.
struct Cells {
    private var iterator: PostgresRow.Iterator

    init(_ row: PostgresRow) {
        iterator = row.makeIterator()
    }

    mutating func next<T: PostgresDecodable>(_ type: T.Type = T.self) throws -> T {
        guard let cell = iterator.next() else { throw EnsembleError(.internalError, "a row had fewer columns than read") }
        return try cell.decode(T.self, context: .default)
    }

    mutating func int() throws -> Int64 { try next(Int64.self) }
    mutating func text() throws -> String { try next(String.self) }
    mutating func double() throws -> Double { try next(Double.self) }
    mutating func bool() throws -> Bool { try next(Bool.self) }
    mutating func optionalInt() throws -> Int64? { try next(Int64?.self) }
    mutating func optionalText() throws -> String? { try next(String?.self) }
    mutating func optionalDouble() throws -> Double? { try next(Double?.self) }
    mutating func optionalBool() throws -> Bool? { try next(Bool?.self) }

    // One-dimensional arrays without NULL elements, read straight from PostgreSQL's binary array
    // format; a NULL cell reads as an empty array. Why: PostgresNIO decodes each element through its
    // generic decoding, and in a profile of `runs/search` (100 runs, 300 params, 300 metrics, 200
    // tags, as arrays) that was 12% of the server's time; this is a loop over the bytes.

    mutating func texts() throws -> [String] {
        try array(oid: 25, or: 1043) { buffer, length in buffer.readString(length: length) }
    }

    mutating func ints() throws -> [Int64] {
        try array(oid: 20) { buffer, length in length == 8 ? buffer.readInteger(as: Int64.self) : nil }
    }

    mutating func doubles() throws -> [Double] {
        try array(oid: 701) { buffer, length in length == 8 ? buffer.readInteger(as: UInt64.self).map(Double.init(bitPattern:)) : nil }
    }

    mutating func bools() throws -> [Bool] {
        try array(oid: 16) { buffer, length in length == 1 ? buffer.readInteger(as: UInt8.self).map { $0 != 0 } : nil }
    }

    /// - Parameters: oid, other: the element types accepted (text also as varchar).
    private mutating func array<T>(oid: UInt32, or other: UInt32 = 0, _ element: (inout ByteBuffer, Int) -> T?) throws -> [T] {
        guard let cell = iterator.next() else { throw EnsembleError(.internalError, "a row had fewer columns than read") }
        guard var buffer = cell.bytes else { return [] }
        func malformed() -> EnsembleError { EnsembleError(.internalError, "The database sent a malformed array in column \(cell.columnName).") }
        // PostgresNIO asks for every result column in binary.
        guard cell.format == .binary else { throw malformed() }
        guard let dimensions = buffer.readInteger(as: Int32.self), buffer.readInteger(as: Int32.self) != nil,
            let type = buffer.readInteger(as: UInt32.self), type == oid || type == other
        else { throw malformed() }
        if dimensions == 0 { return [] }
        guard dimensions == 1, let count = buffer.readInteger(as: Int32.self), count >= 0, buffer.readInteger(as: Int32.self) != nil else { throw malformed() }
        var out: [T] = []
        // Every element takes at least its 4-byte length: a count the bytes cannot hold reserves no more.
        out.reserveCapacity(min(Int(count), buffer.readableBytes / 4))
        for _ in 0..<count {
            guard let length = buffer.readInteger(as: Int32.self), length >= 0, Int(length) <= buffer.readableBytes,
                let value = element(&buffer, Int(length))
            else { throw malformed() }
            out.append(value)
        }
        return out
    }
}
