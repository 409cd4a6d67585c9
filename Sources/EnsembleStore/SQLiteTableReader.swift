import EnsembleCore
import Foundation
import GRDB

/// Reads an Ensemble SQLite database table by table, for `ensemble migrate-store`: opened read-only
/// and never migrated, every read from one snapshot (so a server writing meanwhile cannot give a
/// half-updated copy), rows in primary-key order, a page at a time (keyset paging, so a table of
/// millions of metric points never sits in memory).
public final class SQLiteTableReader: Sendable {
    private let pool: DatabasePool
    private let snapshot: DatabaseSnapshot

    public init(path: String) throws {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(30)
        pool = try DatabasePool(path: path, configuration: config)
        snapshot = try pool.makeSnapshot()
    }

    /// The names of the tables in the database (SQLite's own excluded).
    public func tables() throws -> Set<String> {
        try snapshot.read { db in
            Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%'"))
        }
    }

    /// Up to `limit` rows of `columns`, ordered by the `key` columns, after the key values `after`
    /// (from the start when nil). Values come as SQLite stored them.
    public func rows(table: String, columns: [String], key: [String], after: [TableValue]?, limit: Int) throws -> [[TableValue]] {
        let quoted = { (names: [String]) in names.map { "\"\($0)\"" }.joined(separator: ", ") }
        var sql = "SELECT \(quoted(columns)) FROM \"\(table)\""
        var arguments: [DatabaseValue] = []
        if let after {
            sql += " WHERE (\(quoted(key))) > (\(Array(repeating: "?", count: key.count).joined(separator: ", ")))"
            arguments = after.map(Self.databaseValue)
        }
        sql += " ORDER BY \(quoted(key)) LIMIT \(limit)"
        return try snapshot.read { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
                (0..<columns.count).map { Self.value(row[$0] as DatabaseValue) }
            }
        }
    }

    public func count(table: String) throws -> Int64 {
        try snapshot.read { db in try Int64.fetchOne(db, sql: "SELECT count(*) FROM \"\(table)\"") ?? 0 }
    }

    static func value(_ v: DatabaseValue) -> TableValue {
        switch v.storage {
        case .null: .null
        case .int64(let i): .int(i)
        case .double(let d): .double(d)
        case .string(let s): .text(s)
        case .blob(let b): .bytes([UInt8](b))
        }
    }

    static func databaseValue(_ v: TableValue) -> DatabaseValue {
        switch v {
        case .null: .null
        case .int(let i): i.databaseValue
        case .double(let d): d.databaseValue
        case .bool(let b): (b ? 1 : 0).databaseValue
        case .text(let s): s.databaseValue
        case .bytes(let b): Data(b).databaseValue
        }
    }
}
