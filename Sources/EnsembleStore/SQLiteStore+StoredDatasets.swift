import EnsembleCore
import GRDB

extension SQLiteStore: StoredDatasetStore {
    private typealias Versions = StoredDatasetVersionRecord.Columns

    public func addDatasetVersion(name: String, files: [DatasetFile], description: String?, createdBy: String?) async throws
        -> (version: StoredDatasetVersion, created: Bool)
    {
        try DatasetManifest.validateName(name)
        let sorted = try DatasetManifest.normalized(files)
        let digest = DatasetManifest.digest(of: sorted)
        return try await pool.write { db in
            let versions = StoredDatasetVersionRecord.filter(Versions.name == name)
            // The same content as the latest version is that version, not a new one.
            if let latest = try versions.order(Versions.version.desc).fetchOne(db), latest.digest == digest {
                return (latest.version(files: sorted), false)
            }
            let next = (try versions.select(max(Versions.version), as: Int64.self).fetchOne(db) ?? 0) + 1
            var record = StoredDatasetVersionRecord(
                name: name, version: next, digest: digest, description: description, fileCount: Int64(sorted.count),
                totalSize: sorted.reduce(0) { $0 + $1.size }, createdAt: Self.now(), createdBy: createdBy)
            try record.insert(db)
            guard let id = record.id else { throw EnsembleError(.internalError, "The new dataset version got no id.") }
            for f in sorted {
                try StoredDatasetFileRecord(versionID: id, path: f.path, size: f.size, sha256: f.sha256).insert(db)
            }
            return (record.version(files: sorted), true)
        }
    }

    public func storedDatasetVersion(name: String, version: Int64?) async throws -> StoredDatasetVersion {
        try await pool.read { db in
            let versions = StoredDatasetVersionRecord.filter(Versions.name == name)
            let found = try (version.map { versions.filter(Versions.version == $0) } ?? versions.order(Versions.version.desc)).fetchOne(db)
            guard let found else {
                let known = try versions.select(max(Versions.version), as: Int64.self).fetchOne(db)
                if let known, let version {
                    throw EnsembleError.notFound("Dataset '\(name)' has no version \(version); its latest version is \(known).")
                }
                throw EnsembleError.notFound("No stored dataset named '\(name)'. Add one with: ensemble dataset add \(name) PATH...")
            }
            return try Self.withFiles(db, found)
        }
    }

    public func storedDatasetVersions(name: String) async throws -> [StoredDatasetVersion] {
        try await pool.read { db in
            try StoredDatasetVersionRecord.filter(Versions.name == name).order(Versions.version.desc).fetchAll(db).map { $0.version(files: []) }
        }
    }

    public func storedDatasets() async throws -> [StoredDatasetSummary] {
        try await pool.read { db in
            try StoredDatasetVersionRecord
                .select(Versions.name, count(Versions.id), max(Versions.version), max(Versions.createdAt))
                .group(Versions.name).order(Versions.name)
                .asRequest(of: Row.self).fetchAll(db)
                .map { StoredDatasetSummary(name: $0[0], versions: $0[1], latest: $0[2], updatedAt: $0[3]) }
        }
    }

    public func storedDatasetVersion(name: String, digest: String) async throws -> StoredDatasetVersion? {
        try await pool.read { db in
            // A digest may be given in full or as its first 32 characters (MLflow's dataset digests are shorter).
            try StoredDatasetVersionRecord
                .filter(Versions.name == name && (Versions.digest == digest || SQL("substr(\(Versions.digest), 1, 32) = \(digest)").sqlExpression))
                .order(Versions.version).fetchOne(db)?.version(files: [])
        }
    }

    /// The version with its files, in manifest (byte) order.
    static func withFiles(_ db: Database, _ record: StoredDatasetVersionRecord) throws -> StoredDatasetVersion {
        var files = try StoredDatasetFileRecord.filter(StoredDatasetFileRecord.Columns.versionID == record.id).fetchAll(db).map(\.file)
        files.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        return record.version(files: files)
    }
}
