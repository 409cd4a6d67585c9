import EnsembleCore
import PostgresNIO

/// The PostgreSQL schema, as migrations under stable identifiers (the SQLite store's names where the
/// tables are the same). Each runs once, in its own transaction, recorded in `ensemble_migrations`.
extension PostgresStore {
    static let migrations: [(id: String, sql: [PostgresQuery])] = [
        (
            "2026-11-25-stored-datasets-v1",
            [
                """
                CREATE TABLE stored_dataset_versions (
                    id BIGSERIAL PRIMARY KEY,
                    name TEXT NOT NULL,
                    version BIGINT NOT NULL,
                    digest TEXT NOT NULL,
                    description TEXT,
                    file_count BIGINT NOT NULL,
                    total_size BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    created_by TEXT,
                    UNIQUE (name, version)
                )
                """,
                "CREATE INDEX stored_dataset_versions_by_digest ON stored_dataset_versions (name, digest)",
                """
                CREATE TABLE stored_dataset_files (
                    version_id BIGINT NOT NULL REFERENCES stored_dataset_versions (id) ON DELETE CASCADE,
                    path TEXT NOT NULL,
                    size BIGINT NOT NULL,
                    sha256 TEXT NOT NULL,
                    PRIMARY KEY (version_id, path)
                )
                """,
                "CREATE INDEX stored_dataset_files_by_content ON stored_dataset_files (sha256)",
            ]
        ),
        (
            "2026-12-02-expiring-values-v1",
            [
                "CREATE TABLE expiring_values (key TEXT PRIMARY KEY, value BYTEA NOT NULL, expires_at BIGINT)",
                "CREATE INDEX expiring_values_by_expiry ON expiring_values (expires_at)",
            ]
        ),
    ]

    /// Applies the migrations not yet applied. An advisory lock (held to the end of each transaction)
    /// makes servers that start together take turns; each checks again under the lock.
    func migrate() async throws {
        // Under the lock too: CREATE TABLE IF NOT EXISTS races with itself across connections.
        try await client.withTransaction(logger: logger) { connection in
            _ = try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
            _ = try await connection.query("CREATE TABLE IF NOT EXISTS ensemble_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)", logger: logger)
        }
        for migration in Self.migrations {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
                let done = try await connection.query("SELECT 1 FROM ensemble_migrations WHERE id = \(migration.id)", logger: logger)
                for try await _ in done { return }
                for statement in migration.sql { try await connection.query(statement, logger: logger) }
                try await connection.query("INSERT INTO ensemble_migrations (id, applied_at) VALUES (\(migration.id), \(Self.now()))", logger: logger)
            }
        }
    }

    /// The advisory lock key migrations take ("ensemble" in ASCII).
    static let migrationLock: Int64 = 0x656E_7365_6D62_6C65
}
