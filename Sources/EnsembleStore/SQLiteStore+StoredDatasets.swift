import EnsembleCore
import GRDB

extension SQLiteStore: StoredDatasetStore {
    public func addDatasetVersion(name: String, files: [DatasetFile], description: String?, createdBy: String?) async throws
        -> (version: StoredDatasetVersion, created: Bool)
    {
        try DatasetManifest.validateName(name)
        let sorted = try DatasetManifest.normalized(files)
        let digest = DatasetManifest.digest(of: sorted)
        return try await pool.write { db in
            if let latest = try Row.fetchOne(
                db, sql: "SELECT id, digest FROM stored_dataset_versions WHERE name = ? ORDER BY version DESC LIMIT 1", arguments: [name]),
                latest[1] as String == digest
            {
                return (try Self.loadVersion(db, id: latest[0], withFiles: true), false)
            }
            let next = (try Int64.fetchOne(db, sql: "SELECT MAX(version) FROM stored_dataset_versions WHERE name = ?", arguments: [name]) ?? 0) + 1
            let total = sorted.reduce(Int64(0)) { $0 + $1.size }
            try db.execute(
                sql: """
                    INSERT INTO stored_dataset_versions (name, version, digest, description, file_count, total_size, created_at, created_by)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [name, next, digest, description, Int64(sorted.count), total, Self.now(), createdBy]
            )
            let id = db.lastInsertedRowID
            let insert = try db.cachedStatement(sql: "INSERT INTO stored_dataset_files (version_id, path, size, sha256) VALUES (?, ?, ?, ?)")
            for f in sorted {
                try insert.execute(arguments: [id, f.path, f.size, f.sha256])
            }
            return (try Self.loadVersion(db, id: id, withFiles: true), true)
        }
    }

    public func storedDatasetVersion(name: String, version: Int64?) async throws -> StoredDatasetVersion {
        try await pool.read { db in
            let id: Int64?
            if let version {
                id = try Int64.fetchOne(db, sql: "SELECT id FROM stored_dataset_versions WHERE name = ? AND version = ?", arguments: [name, version])
            } else {
                id = try Int64.fetchOne(db, sql: "SELECT id FROM stored_dataset_versions WHERE name = ? ORDER BY version DESC LIMIT 1", arguments: [name])
            }
            guard let id else {
                let known = try Int64.fetchOne(db, sql: "SELECT MAX(version) FROM stored_dataset_versions WHERE name = ?", arguments: [name])
                if let known, let version {
                    throw EnsembleError.notFound("Dataset '\(name)' has no version \(version); its latest version is \(known).")
                }
                throw EnsembleError.notFound("No stored dataset named '\(name)'. Add one with: ensemble dataset add \(name) PATH...")
            }
            return try Self.loadVersion(db, id: id, withFiles: true)
        }
    }

    public func storedDatasetVersions(name: String) async throws -> [StoredDatasetVersion] {
        try await pool.read { db in
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM stored_dataset_versions WHERE name = ? ORDER BY version DESC", arguments: [name])
            return try ids.map { try Self.loadVersion(db, id: $0, withFiles: false) }
        }
    }

    public func storedDatasets() async throws -> [StoredDatasetSummary] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT name, COUNT(*), MAX(version), MAX(created_at) FROM stored_dataset_versions GROUP BY name ORDER BY name"
            ).map { StoredDatasetSummary(name: $0[0], versions: $0[1], latest: $0[2], updatedAt: $0[3]) }
        }
    }

    public func storedDatasetVersion(name: String, digest: String) async throws -> StoredDatasetVersion? {
        try await pool.read { db in
            guard let id = try Int64.fetchOne(
                db, sql: "SELECT id FROM stored_dataset_versions WHERE name = ? AND (digest = ? OR substr(digest, 1, 32) = ?) ORDER BY version LIMIT 1",
                arguments: [name, digest, digest])
            else { return nil }
            return try Self.loadVersion(db, id: id, withFiles: false)
        }
    }

    static func loadVersion(_ db: Database, id: Int64, withFiles: Bool) throws -> StoredDatasetVersion {
        guard let row = try Row.fetchOne(
            db,
            sql: "SELECT name, version, digest, description, file_count, total_size, created_at, created_by FROM stored_dataset_versions WHERE id = ?",
            arguments: [id])
        else { throw EnsembleError(.internalError, "Stored dataset version \(id) vanished.") }
        var files: [DatasetFile] = []
        if withFiles {
            files = try Row.fetchAll(db, sql: "SELECT path, size, sha256 FROM stored_dataset_files WHERE version_id = ?", arguments: [id])
                .map { DatasetFile(path: $0[0], size: $0[1], sha256: $0[2]) }
            files.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        }
        return StoredDatasetVersion(
            name: row[0], version: row[1], digest: row[2], description: row[3], fileCount: row[4], totalSize: row[5],
            createdAt: row[6], createdBy: row[7], files: files)
    }
}
