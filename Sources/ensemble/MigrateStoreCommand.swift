import ArgumentParser
import EnsembleCore
import EnsemblePostgres
import EnsembleStore
import Foundation

/// `ensemble migrate-store --from sqlite:PATH --to postgresql://…`: moving an embedded store's
/// metadata into PostgreSQL, table by table, verified by row counts and checksums.
struct MigrateStoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-store",
        abstract: "Copy an embedded store's metadata (SQLite) into a new, empty PostgreSQL database, verified row for row.",
        discussion: """
            Every table is copied in primary-key order from one read snapshot of the SQLite file (so it is safe while a
            server still runs, though writes made after the snapshot are not copied: stop the server first, or migrate
            from a backup). The target must be a new, empty database; Ensemble creates its tables. At the end every table's
            row count and a checksum of its rows are compared on both sides; any difference fails the command.

            Artifacts and dataset blobs stay files: serve with --data pointing at the same folder (or a shared copy of it)
            and --database pointing at the target. See docs/DEPLOYMENT.md.

            Example: ensemble migrate-store --from sqlite:/srv/ensemble-data/ensemble.sqlite --to postgresql://ensemble@db/ensemble
            """
    )

    @Option(help: "The SQLite store: sqlite:PATH, or the data folder holding ensemble.sqlite.") var from: String
    @Option(help: "The target: postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE (a new, empty database; the password may come from PGPASSWORD).")
    var to: String
    @Option(help: "Rows per insert statement.") var batch: Int = 5000
    @Flag(help: "Print the summary as JSON.") var json = false
    @Flag(help: "No progress lines.") var quiet = false

    struct TableReport: Codable {
        var table: String
        var rows: Int64
        var checksum: String
    }

    func run() async throws {
        guard (1...100_000).contains(batch) else { throw ValidationError("--batch must be between 1 and 100000.") }
        var path = from.hasPrefix("sqlite:") ? String(from.dropFirst("sqlite:".count)) : from
        if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue { path += "/ensemble.sqlite" }
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIFailure(message: "No SQLite store at '\(path)'. Give --from sqlite:PATH/TO/ensemble.sqlite (or the data folder).")
        }
        let source: SQLiteTableReader
        do {
            source = try SQLiteTableReader(path: path)
        } catch {
            throw CLIFailure(message: "Cannot read '\(path)' as an Ensemble SQLite store: \(error).")
        }
        let target: PostgresStore
        do {
            target = try await PostgresStore.open(url: to)
        } catch let error as EnsembleError {
            throw CLIFailure(message: "\(error.message) Check --to.")
        }
        do {
            try await migrate(source: source, target: target, path: path)
            await target.close()
        } catch {
            await target.close()
            throw error
        }
    }

    func migrate(source: SQLiteTableReader, target: PostgresStore, path: String) async throws {
        let started = Date()
        // Both sides must have the same tables: an older store is migrated (by opening it with
        // `ensemble serve` once) before it is moved.
        let sourceTables = try source.tables(), targetTables = try await target.tables()
        let order = PostgresStore.importOrder
        guard Set(order) == targetTables else {
            throw CLIFailure(message: "This ensemble does not know every table of the target database (\(targetTables.subtracting(order).sorted().joined(separator: ", "))); use the newest ensemble.")
        }
        let missing = Set(order).subtracting(sourceTables)
        guard missing.isEmpty else {
            throw CLIFailure(message: "'\(path)' lacks tables \(missing.sorted().joined(separator: ", ")): it was written by an older Ensemble. Start `ensemble serve` on it once (it upgrades the file), stop it, then migrate.")
        }
        let existing = try await target.rowsBeforeImport()
        guard existing == 0 else {
            throw CLIFailure(message: "The target database already holds \(existing) rows. Migrate into a new, empty database (createdb NAME).")
        }
        try await target.clearForImport()

        var reports: [TableReport] = []
        for table in order {
            let columns = try await target.importColumns(table: table)
            let key = try await target.primaryKey(table: table)
            let expected = try source.count(table: table)
            var sourceSum = TableChecksum()
            var after: [TableValue]? = nil
            var copied: Int64 = 0
            var lastReport = Date()
            while true {
                let page = try source.rows(table: table, columns: columns.map(\.name), key: key, after: after, limit: batch)
                if page.isEmpty { break }
                var converted: [[TableValue]] = []
                converted.reserveCapacity(page.count)
                for row in page {
                    var out: [TableValue] = []
                    out.reserveCapacity(row.count)
                    for (value, column) in zip(row, columns) {
                        guard let v = column.type.convert(value) else {
                            throw CLIFailure(message: "\(table).\(column.name) holds \(value), which is not a \(column.type) value; the store may be damaged (check it with sqlite3 PRAGMA integrity_check).")
                        }
                        out.append(v)
                    }
                    sourceSum.add(out)
                    converted.append(out)
                }
                do {
                    try await target.insert(table: table, columns: columns, rows: converted)
                } catch let error as EnsembleError {
                    throw CLIFailure(message: "Loading \(table) failed after \(copied) rows: \(error.message)")
                }
                copied += Int64(page.count)
                let keyIndexes = key.map { k in columns.firstIndex { $0.name == k }! }
                after = keyIndexes.map { page[page.count - 1][$0] }
                if !quiet, Date().timeIntervalSince(lastReport) >= 5 {
                    lastReport = Date()
                    FileHandle.standardError.write(Data("\(table): \(copied) of \(expected) rows\n".utf8))
                }
            }
            try await target.resetSequences(table: table)
            let targetSum = try await target.checksum(table: table, columns: columns)
            guard targetSum == sourceSum, sourceSum.rows == expected else {
                throw CLIFailure(message: "\(table) does not match after the copy: \(expected) rows in SQLite (checksum \(sourceSum)), \(targetSum.rows) in PostgreSQL (checksum \(targetSum)). The target is incomplete; drop it and try again.")
            }
            reports.append(TableReport(table: table, rows: targetSum.rows, checksum: targetSum.description))
            if !quiet && !json && expected > 0 {
                FileHandle.standardError.write(Data("\(table): \(expected) rows copied and verified\n".utf8))
            }
        }
        let seconds = Date().timeIntervalSince(started)
        let total = reports.reduce(Int64(0)) { $0 + $1.rows }
        if json {
            struct Summary: Codable {
                var source: String
                var target: String
                var seconds: Double
                var rows: Int64
                var tables: [TableReport]
                var verified: Bool
            }
            let summary = Summary(
                source: path, target: PostgresStore.redacted(to), seconds: (seconds * 10).rounded() / 10, rows: total, tables: reports, verified: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            let byName = Dictionary(uniqueKeysWithValues: reports.map { ($0.table, $0.rows) })
            print("""
                Migrated \(path) to \(PostgresStore.redacted(to)) in \(String(format: "%.1f", seconds)) s: \(total) rows in \(reports.count) tables \
                (\(byName["runs"] ?? 0) runs, \(byName["metrics"] ?? 0) metric points, \(byName["model_versions"] ?? 0) model versions, \
                \(byName["users"] ?? 0) users), every table's count and checksum verified.
                Serve it: ensemble serve --database '\(PostgresStore.redacted(to))' --data DATA-FOLDER (the same artifacts and blobs)
                """)
        }
    }
}
