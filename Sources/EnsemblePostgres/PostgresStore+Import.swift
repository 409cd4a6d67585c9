import EnsembleCore
import PostgresNIO

/// Loading a whole store into an empty PostgreSQL database (`ensemble migrate-store`), table by
/// table, with the rows' checksums compared at the end.
extension PostgresStore {
    /// Every table, parents before children (foreign keys), so rows can be loaded in this order.
    public static let importOrder = [
        "experiments", "experiment_tags", "runs", "params", "tags", "metrics", "latest_metrics", "datasets", "run_dataset_inputs",
        "input_tags", "run_model_inputs", "run_model_outputs", "logged_models", "logged_model_tags", "logged_model_params",
        "logged_model_metrics", "registered_models", "registered_model_tags", "model_versions", "model_version_tags",
        "registered_model_aliases", "registry_events", "stored_dataset_versions", "stored_dataset_files", "team_roles", "team_people",
        "team_projects", "team_updates", "team_events", "users", "api_tokens", "audit_log", "grants", "expiring_values", "handoffs",
        "gate_results", "environments", "deployments", "ab_results", "drift_windows",
    ]

    public struct ImportColumn: Sendable {
        public let name: String
        public let type: TableColumnType
    }

    /// The tables of this database as the SQLite store has them: the migration bookkeeping left out,
    /// and metric points as the `metrics` view (a row per point) over the chunks they are stored in.
    public func tables() async throws -> Set<String> {
        try await read { [logger] db in
            Set(
                try await db.column(
                    """
                    SELECT table_name::text FROM information_schema.tables
                    WHERE table_schema = current_schema() AND table_name NOT IN ('ensemble_migrations', 'metric_chunks')
                    """,
                    String.self, logger: logger))
        }
    }

    /// A table's columns in order, with the type each value must be given as.
    public func importColumns(table: String) async throws -> [ImportColumn] {
        try await read { [logger] db in
            try await db.rows(
                """
                SELECT column_name::text, data_type::text FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = \(table) ORDER BY ordinal_position
                """, (String, String).self, logger: logger
            ).map { name, type in
                let kind: TableColumnType =
                    switch type {
                    case "bigint", "integer", "smallint": .int
                    case "double precision", "real", "numeric": .double
                    case "boolean": .bool
                    case "bytea": .bytes
                    default: .text
                    }
                return ImportColumn(name: name, type: kind)
            }
        }
    }

    /// The primary key's columns, in key order (for `metrics`, the SQLite table's: points are unique
    /// by these there, and the view here has no key of its own).
    public func primaryKey(table: String) async throws -> [String] {
        if table == "metrics" { return ["run_id", "key", "step", "timestamp", "value", "is_nan"] }
        return try await read { [logger] db in
            try await db.column(
                """
                SELECT a.attname::text FROM pg_index i
                JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                WHERE i.indrelid = \(table)::regclass AND i.indisprimary ORDER BY k.n
                """, String.self, logger: logger)
        }
    }

    /// Rows already in the database, apart from the Default experiment every new database has.
    public func rowsBeforeImport() async throws -> Int64 {
        var total: Int64 = 0
        for table in try await tables() {
            total += try await read { [logger] db in
                try await db.value(
                    PostgresQuery(unsafeSQL: "SELECT count(*) FROM \"\(table)\"" + (table == "experiments" ? " WHERE experiment_id <> 0" : "")), Int64.self,
                    logger: logger) ?? 0
            }
        }
        return total
    }

    /// Empties the tables about to be loaded (only the migration's Default experiment is there).
    public func clearForImport() async throws {
        try await transaction { [logger] db in
            for table in Self.importOrder.reversed() {
                let stored = table == "metrics" ? "metric_chunks" : table
                try await db.run(PostgresQuery(unsafeSQL: "DELETE FROM \"\(stored)\""), logger: logger)
            }
        }
    }

    /// Inserts rows (already converted to the columns' types) in one statement: one array per column,
    /// with a null flag per value.
    public func insert(table: String, columns: [ImportColumn], rows: [[TableValue]]) async throws {
        guard !rows.isEmpty else { return }
        if table == "metrics" { return try await insertMetrics(columns: columns, rows: rows) }
        var q = SQLBuilder()
        var selects: [String] = []
        var sources: [String] = []
        for (i, column) in columns.enumerated() {
            let nulls = rows.map { $0[i] == .null }
            let values: String
            switch column.type {
            case .int: values = q.bind(rows.map { if case .int(let v) = $0[i] { v } else { Int64(0) } }) + "::bigint[]"
            case .double: values = q.bind(rows.map { if case .double(let v) = $0[i] { v } else { 0.0 } }) + "::float8[]"
            case .bool: values = q.bind(rows.map { if case .bool(let v) = $0[i] { v } else { false } }) + "::bool[]"
            case .text: values = q.bind(rows.map { if case .text(let v) = $0[i] { v } else { "" } }) + "::text[]"
            case .bytes:
                // bytea[] is not among PostgresNIO's array types: hex text, decoded server-side.
                values = q.bind(rows.map { if case .bytes(let v) = $0[i] { Self.hex(v) } else { "" } }) + "::text[]"
            }
            sources += [values, q.bind(nulls) + "::bool[]"]
            let value = column.type == .bytes ? "decode(v\(i), 'hex')" : "v\(i)"
            selects.append("CASE WHEN n\(i) THEN NULL ELSE \(value) END")
        }
        let aliases = columns.indices.map { "v\($0), n\($0)" }.joined(separator: ", ")
        q.append(
            "INSERT INTO \"\(table)\" (\(columns.map { "\"\($0.name)\"" }.joined(separator: ", "))) SELECT \(selects.joined(separator: ", ")) "
                + "FROM unnest(\(sources.joined(separator: ", "))) AS u(\(aliases))")
        let query = q.query
        try await transaction { [logger] db in try await db.run(query, logger: logger) }
    }

    /// Metric points go in as chunks, as the server writes them (points of one run, key and context
    /// arrive together: the SQLite rows are read in key order).
    private func insertMetrics(columns: [ImportColumn], rows: [[TableValue]]) async throws {
        let names = columns.map(\.name)
        func index(_ name: String) throws -> Int {
            guard let i = names.firstIndex(of: name) else { throw EnsembleError(.internalError, "The metrics view has no column \(name).") }
            return i
        }
        let (run, key, step, timestamp, value, nan) = (try index("run_id"), try index("key"), try index("step"), try index("timestamp"), try index("value"), try index("is_nan"))
        let (model, dataset, digest) = (try index("model_id"), try index("dataset_name"), try index("dataset_digest"))
        func text(_ v: TableValue) -> String? { if case .text(let t) = v { t } else { nil } }
        func int(_ v: TableValue) -> Int64 { if case .int(let i) = v { i } else { 0 } }
        var chunks = MetricChunks()
        for row in rows {
            let isNaN = if case .bool(let b) = row[nan] { b } else { false }
            let v = if case .double(let d) = row[value] { d } else { 0.0 }
            chunks.add(
                run: String(int(row[run])),
                Metric(key: text(row[key]) ?? "", value: isNaN ? .nan : v, timestamp: int(row[timestamp]), step: int(row[step]),
                       modelID: text(row[model]), datasetName: text(row[dataset]), datasetDigest: text(row[digest])))
        }
        let sealed = chunks.sealed()
        let statement = MetricChunkImport(chunks: sealed)
        try await transaction { [logger] db in for try await _ in try await db.execute(statement, logger: logger) {} }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Moves each id sequence of the table past the largest id loaded, so new rows get new ids.
    public func resetSequences(table: String) async throws {
        try await transaction { [logger] db in
            for (column, sequence) in try await db.rows(
                """
                SELECT column_name::text, pg_get_serial_sequence(quote_ident(table_name), column_name)::text FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = \(table) AND column_default LIKE 'nextval(%'
                """, (String, String).self, logger: logger)
            {
                try await db.run(
                    PostgresQuery(
                        unsafeSQL: "SELECT setval('\(sequence)', COALESCE((SELECT max(\"\(column)\") FROM \"\(table)\"), 0) + 1, false)"),
                    logger: logger)
            }
        }
    }

    /// The checksum of a table's rows as stored here (the same columns, read as their types).
    public func checksum(table: String, columns: [ImportColumn]) async throws -> TableChecksum {
        let list = columns.map { "\"\($0.name)\"" + ($0.type == .bytes ? "" : "") }.joined(separator: ", ")
        let query = PostgresQuery(unsafeSQL: "SELECT \(list) FROM \"\(table)\"")
        return try await read { [logger] db in
            var sum = TableChecksum()
            for try await row in try await db.query(query, logger: logger) {
                var values: [TableValue] = []
                values.reserveCapacity(columns.count)
                for (cell, column) in zip(row, columns) {
                    switch column.type {
                    case .int: values.append(try cell.decode(Int64?.self).map(TableValue.int) ?? .null)
                    case .double: values.append(try cell.decode(Double?.self).map(TableValue.double) ?? .null)
                    case .bool: values.append(try cell.decode(Bool?.self).map(TableValue.bool) ?? .null)
                    case .text: values.append(try cell.decode(String?.self).map(TableValue.text) ?? .null)
                    case .bytes: values.append(try cell.decode(ByteBuffer?.self).map { TableValue.bytes(Array($0.readableBytesView)) } ?? .null)
                    }
                }
                sum.add(values)
            }
            return sum
        }
    }
}

/// Chunks of imported points, their runs given by row id (as text in the chunk's context).
struct MetricChunkImport: PostgresPreparedStatement {
    static let sql = """
        INSERT INTO metric_chunks (run_id, key, first_step, last_step, points, steps, timestamps, vals, model_id, dataset_name, dataset_digest)
        SELECT u.run, u.k, ($11::int8[])[u.lo], ($11::int8[])[u.hi], u.hi - u.lo + 1, ($11::int8[])[u.lo:u.hi], ($12::int8[])[u.lo:u.hi], ($13::float8[])[u.lo:u.hi],
            CASE WHEN u.hm THEN u.m END, CASE WHEN u.hd THEN u.d END, CASE WHEN u.hg THEN u.g END
        FROM unnest($1::int8[], $2::text[], $3::int4[], $4::int4[], $5::text[], $6::bool[], $7::text[], $8::bool[], $9::text[], $10::bool[])
            AS u(run, k, lo, hi, m, hm, d, hd, g, hg)
        """
    typealias Row = Int64

    var chunks: [MetricChunks.Chunk]

    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 13)
        b.append(chunks.map { Int64($0.context.run) ?? 0 })
        MetricChunks.bind(chunks, into: &b)
        return b
    }

    func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
}
