import EnsembleCore
import PostgresNIO

extension PostgresStore: StoredDatasetStore {
    typealias VersionRow = (Int64, String, Int64, String, String?, Int64, Int64, Int64, String?)
    static let versionColumns = "id, name, version, digest, description, file_count, total_size, created_at, created_by"

    static func version(_ r: VersionRow, files: [DatasetFile]) -> StoredDatasetVersion {
        StoredDatasetVersion(
            name: r.1, version: r.2, digest: r.3, description: r.4, fileCount: r.5, totalSize: r.6, createdAt: r.7, createdBy: r.8, files: files)
    }

    public func addDatasetVersion(name: String, files: [DatasetFile], description: String?, createdBy: String?) async throws
        -> (version: StoredDatasetVersion, created: Bool)
    {
        try DatasetManifest.validateName(name)
        let sorted = try DatasetManifest.normalized(files)
        let digest = DatasetManifest.digest(of: sorted)
        return try await transaction { [logger] db in
            // Adds of one name take turns (several servers may add at once); other names go on.
            try await db.query("SELECT pg_advisory_xact_lock(hashtext(\(name)))", logger: logger)
            let latest = try await db.query(
                "SELECT \(unescaped: Self.versionColumns) FROM stored_dataset_versions WHERE name = \(name) ORDER BY version DESC LIMIT 1", logger: logger)
            var last: VersionRow?
            for try await row in latest.decode(VersionRow.self) { last = row }
            // The same content as the latest version is that version, not a new one.
            if let last, last.3 == digest { return (Self.version(last, files: sorted), false) }
            let next = (last?.2 ?? 0) + 1, now = Self.now(), total = sorted.reduce(Int64(0)) { $0 + $1.size }
            let inserted = try await db.query(
                """
                INSERT INTO stored_dataset_versions (name, version, digest, description, file_count, total_size, created_at, created_by)
                VALUES (\(name), \(next), \(digest), \(description), \(Int64(sorted.count)), \(total), \(now), \(createdBy)) RETURNING id
                """, logger: logger)
            var id: Int64?
            for try await (value) in inserted.decode(Int64.self) { id = value }
            guard let id else { throw EnsembleError(.internalError, "The new dataset version got no id.") }
            // The manifest in one statement: arrays unnested server-side, however many files.
            try await db.query(
                """
                INSERT INTO stored_dataset_files (version_id, path, size, sha256)
                SELECT \(id), * FROM unnest(\(sorted.map(\.path))::text[], \(sorted.map(\.size))::bigint[], \(sorted.map(\.sha256))::text[])
                """, logger: logger)
            let version = StoredDatasetVersion(
                name: name, version: next, digest: digest, description: description, fileCount: Int64(sorted.count), totalSize: total, createdAt: now,
                createdBy: createdBy, files: sorted)
            return (version, true)
        }
    }

    public func storedDatasetVersion(name: String, version: Int64?) async throws -> StoredDatasetVersion {
        try await read { [logger] db in
            let rows =
                if let version {
                    try await db.query(
                        "SELECT \(unescaped: Self.versionColumns) FROM stored_dataset_versions WHERE name = \(name) AND version = \(version)", logger: logger)
                } else {
                    try await db.query(
                        "SELECT \(unescaped: Self.versionColumns) FROM stored_dataset_versions WHERE name = \(name) ORDER BY version DESC LIMIT 1", logger: logger)
                }
            var found: VersionRow?
            for try await row in rows.decode(VersionRow.self) { found = row }
            guard let found else {
                var latest: Int64?
                for try await (value) in try await db.query("SELECT max(version) FROM stored_dataset_versions WHERE name = \(name)", logger: logger).decode(Int64?.self) {
                    latest = value
                }
                if let latest, let version { throw EnsembleError.notFound("Dataset '\(name)' has no version \(version); its latest version is \(latest).") }
                throw EnsembleError.notFound("No stored dataset named '\(name)'. Add one with: ensemble dataset add \(name) PATH...")
            }
            var files: [DatasetFile] = []
            for try await (path, size, sha) in try await db.query(
                "SELECT path, size, sha256 FROM stored_dataset_files WHERE version_id = \(found.0)", logger: logger
            ).decode((String, Int64, String).self) {
                files.append(DatasetFile(path: path, size: size, sha256: sha))
            }
            // Manifest (byte) order, whatever the database's collation.
            files.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
            return Self.version(found, files: files)
        }
    }

    public func storedDatasetVersions(name: String) async throws -> [StoredDatasetVersion] {
        try await read { [logger] db in
            var out: [StoredDatasetVersion] = []
            for try await row in try await db.query(
                "SELECT \(unescaped: Self.versionColumns) FROM stored_dataset_versions WHERE name = \(name) ORDER BY version DESC", logger: logger
            ).decode(VersionRow.self) {
                out.append(Self.version(row, files: []))
            }
            return out
        }
    }

    public func storedDatasets() async throws -> [StoredDatasetSummary] {
        try await read { [logger] db in
            var out: [StoredDatasetSummary] = []
            for try await (name, count, latest, updated) in try await db.query(
                "SELECT name, count(*), max(version), max(created_at) FROM stored_dataset_versions GROUP BY name ORDER BY name COLLATE \"C\"", logger: logger
            ).decode((String, Int64, Int64, Int64).self) {
                out.append(StoredDatasetSummary(name: name, versions: count, latest: latest, updatedAt: updated))
            }
            return out
        }
    }

    public func storedDatasetVersion(name: String, digest: String) async throws -> StoredDatasetVersion? {
        try await read { [logger] db in
            // A digest may be given in full or as its first 32 characters (MLflow's dataset digests are shorter).
            var found: VersionRow?
            for try await row in try await db.query(
                """
                SELECT \(unescaped: Self.versionColumns) FROM stored_dataset_versions
                WHERE name = \(name) AND (digest = \(digest) OR substr(digest, 1, 32) = \(digest)) ORDER BY version LIMIT 1
                """, logger: logger
            ).decode(VersionRow.self) {
                found = row
            }
            return found.map { Self.version($0, files: []) }
        }
    }
}
