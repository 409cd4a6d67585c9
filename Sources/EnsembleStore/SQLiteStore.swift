import EnsembleCore
import Foundation
import GRDB

/// The embedded store: one SQLite database in WAL mode behind one GRDB `DatabasePool`.
///
/// Writes go through the pool's single writer queue, so concurrent writers wait their turn instead
/// of failing with "database is locked"; reads run in parallel on WAL snapshots. Every public method
/// is one transaction.
///
/// ```swift
/// let store = try SQLiteStore(path: "ensemble-data/ensemble.sqlite")
/// let id = try await store.createExperiment(name: "churn", artifactLocation: nil, tags: [])
/// ```
public final class SQLiteStore: TrackingStore {
    let pool: DatabasePool
    /// Prefix of generated experiment artifact locations, e.g. `mlflow-artifacts:/`.
    let artifactRootURI: String
    /// Concurrent metric-only writes, committed together in one transaction (one writer: SQLite has
    /// one). Measured with `scripts/bench` on the 2-core bench machine; the figures are in
    /// docs/PERFORMANCE.md ("Group commit").
    let metricWrites: GroupCommitQueue<(runID: String, metrics: [Metric])>

    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    /// - Parameters:
    ///   - path: the SQLite file; its folder must exist.
    ///   - artifactRootURI: prefix for generated experiment artifact locations.
    public init(path: String, artifactRootURI: String = "mlflow-artifacts:/") throws {
        var config = Configuration()
        config.journalMode = .wal
        config.busyMode = .timeout(30)
        config.maximumReaderCount = 8
        config.prepareDatabase { db in
            // WAL with synchronous=NORMAL: a commit is in the WAL file before we answer, so killing the
            // process loses nothing acknowledged; only an OS crash can lose the last commits.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA cache_size = -65536")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        let pool = try DatabasePool(path: path, configuration: config)
        self.pool = pool
        self.metricWrites = GroupCommitQueue(maxWriters: 1, maxGroup: 256) { group in await Self.writeMetricGroup(group, pool: pool) }
        self.artifactRootURI = artifactRootURI.hasSuffix("/") ? artifactRootURI : artifactRootURI + "/"
        try Self.migrator(artifactRootURI: self.artifactRootURI).migrate(pool)
    }

    /// Reads from the database (readiness checks).
    public func checkReadable() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM experiments") }
    }

    /// Flushes the WAL into the main file; called on graceful shutdown.
    public func checkpoint() throws {
        try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
    }

    /// Flushes the WAL into the main file (``MetadataStore``'s shutdown).
    public func shutdown() async {
        try? checkpoint()
    }

    static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}

extension SQLiteStore: MetadataStore {}
