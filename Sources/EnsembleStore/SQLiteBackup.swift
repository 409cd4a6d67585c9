import EnsembleCore
import Foundation
import GRDB

/// An online copy of the embedded database, safe while a server writes to it.
///
/// SQLite's backup API copies every page from one read transaction: in WAL mode the server keeps
/// writing meanwhile, and the copy is the database as of that snapshot, whole and consistent. The
/// source is opened read-only and never migrated, so an `ensemble` newer than the running server
/// cannot change its schema under it.
public enum SQLiteBackup {
    /// What a copy holds: its row count per table, and whether SQLite's integrity check passed.
    public struct Summary: Sendable, Equatable {
        public var tables: [String: Int]
        public var integrity: String
    }

    /// Copies the database at `source` to `destination` (which must not exist), checks the copy's
    /// integrity and counts its rows. Throws ``EnsembleError`` with what to do when it cannot.
    public static func copy(from source: String, to destination: String) throws -> Summary {
        guard FileManager.default.fileExists(atPath: source) else {
            throw EnsembleError.notFound("There is no database at \(source). Give the server's data folder with --data.")
        }
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw EnsembleError.invalid("\(destination) already exists; back up into a new folder.")
        }
        var readOnly = Configuration()
        readOnly.readonly = true
        readOnly.busyMode = .timeout(30)
        let from = try DatabaseQueue(path: source, configuration: readOnly)
        let to = try DatabaseQueue(path: destination)
        try from.backup(to: to)
        try to.close()
        return try summary(of: destination)
    }

    /// The row counts and integrity of the database at `path`, opened read-only.
    public static func summary(of path: String) throws -> Summary {
        var readOnly = Configuration()
        readOnly.readonly = true
        let db = try DatabaseQueue(path: path, configuration: readOnly)
        defer { try? db.close() }
        return try db.read { db in
            let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
            let names = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            var tables: [String: Int] = [:]
            for name in names {
                tables[name] = try Int.fetchOne(db, sql: "SELECT count(*) FROM \"\(name.replacingOccurrences(of: "\"", with: "\"\""))\"") ?? 0
            }
            return Summary(tables: tables, integrity: integrity)
        }
    }
}
