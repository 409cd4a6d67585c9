import EnsembleCore
import PostgresNIO

/// Group commit for metric writes on PostgreSQL: concurrent `logBatch` calls that carry only metrics
/// are written together, in one transaction and one round of statements, and each is acknowledged only
/// after that transaction commits.
///
/// Why: with PostgreSQL's durable defaults every commit waits for a WAL flush, and a metric write
/// alone is five round trips (begin, run lookup, insert points, upsert latest values, commit).
/// Measured with `scripts/bench --backend postgres` on the 2-core bench machine: log-metric at 32
/// connections went from 1,043 req/s (one transaction per request) to the figure in
/// docs/PERFORMANCE.md with this in place.
///
/// A request whose run is missing or deleted fails on its own; if the combined write fails (a value
/// PostgreSQL refuses), every request of the group is written again on its own, so one bad request
/// cannot fail the others.
final class MetricGroupCommit: Sendable {
    typealias Request = (runID: String, metrics: [Metric], store: PostgresStore)
    private let queue: GroupCommitQueue<Request>

    /// - Parameters:
    ///   - maxWriters: groups written at the same time (each on its own connection).
    ///   - maxGroup: requests per group at most.
    init(maxWriters: Int = 3, maxGroup: Int = 512) {
        queue = GroupCommitQueue(maxWriters: maxWriters, maxGroup: maxGroup) { group in await Self.write(group) }
    }

    /// Writes the points; returns once they are committed.
    func submit(runID: String, metrics: [Metric], store: PostgresStore) async throws {
        try await queue.submit((runID, metrics, store))
    }

    private static func write(_ group: [Request]) async -> [Result<Void, any Error>] {
        let store = group[0].store
        var written = Set<Int>()
        do {
            let accepted = try await store.statement { [logger = store.logger] db in
                try await Self.insert(group.map { ($0.runID, $0.metrics) }, db, logger: logger)
            }
            written = Set(group.indices.filter { accepted.contains(group[$0].runID) })
        } catch {
            // One request may carry what PostgreSQL refuses: each is written on its own, for its own answer.
        }
        // The others (a missing or deleted run, or a group that failed) get the answer they get alone.
        var outcomes: [Result<Void, any Error>] = []
        for (i, p) in group.enumerated() {
            if written.contains(i) {
                outcomes.append(.success(()))
            } else {
                do {
                    try await store.logBatchAlone(runID: p.runID, metrics: p.metrics, params: [], tags: [])
                    outcomes.append(.success(()))
                } catch {
                    outcomes.append(.failure(error))
                }
            }
        }
        return outcomes
    }

    /// Writes the points of every request whose run exists and is active, in one statement (alone:
    /// one round trip and one commit; inside ``PostgresStore/logBatchAlone``'s transaction, one round trip): the runs are looked up, the points inserted, the latest values
    /// moved forward and the logged-model links added by data-modifying CTEs. Returns the run ids
    /// that were written.
    static func insert(_ requests: [(runID: String, metrics: [Metric])], _ db: PostgresConnection, logger: Logger) async throws -> Set<String> {
        var uuids: [String] = [], metrics: [Metric] = []
        for (run, points) in requests {
            uuids += Array(repeating: run, count: points.count)
            metrics += points
        }
        struct RunKey: Hashable {
            var run: String
            var key: String
        }
        var latest: [RunKey: Metric] = [:]
        for (run, m) in zip(uuids, metrics) {
            let k = RunKey(run: run, key: m.key)
            if let current = latest[k], !PostgresStore.isLater(m, than: current) { continue }
            latest[k] = m
        }
        let rows = latest.map { ($0.key.run, $0.value) }
        let statement = MetricGroupStatement(runs: Array(Set(uuids)), uuids: uuids, metrics: metrics, latest: rows)
        var accepted = Set<String>()
        for try await run in try await db.execute(statement, logger: logger) { accepted.insert(run) }
        return accepted
    }
}

/// The statement that writes a group of metric points, prepared once per connection.
///
/// Why prepared: at one connection a lone write spent 0.17 ms in PostgreSQL parsing this statement and
/// 0.18 ms binding and planning it, against 0.11 ms executing it (`log_min_duration_statement = 0`,
/// durable settings, bench machine); a prepared statement is parsed once per connection and, after a
/// few runs, executed with a cached generic plan.
struct MetricGroupStatement: PostgresPreparedStatement {
    static let sql = """
        WITH r AS (SELECT run_uuid, id FROM runs WHERE run_uuid = ANY($1::text[]) AND lifecycle_stage = 'active'),
        p AS (
            SELECT r.id, u.*
            FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::float8[], $7::bool[], $8::text[], $9::bool[], $10::text[], $11::bool[], $12::text[], $13::bool[])
                AS u(run, k, s, t, v, n, m, hm, d, hd, g, hg)
            JOIN r ON r.run_uuid = u.run),
        points AS (
            INSERT INTO metrics (run_id, key, step, timestamp, value, is_nan, model_id, dataset_name, dataset_digest)
            SELECT id, k, s, t, v, n, CASE WHEN hm THEN m END, CASE WHEN hd THEN d END, CASE WHEN hg THEN g END FROM p
            ON CONFLICT DO NOTHING),
        models AS (
            INSERT INTO logged_model_metrics (model_id, key, step, timestamp, value, is_nan, run_id, dataset_name, dataset_digest)
            SELECT m, k, s, t, v, n, id, CASE WHEN hd THEN d END, CASE WHEN hg THEN g END FROM p WHERE hm
            ON CONFLICT DO NOTHING),
        latest AS (
            INSERT INTO latest_metrics (run_id, key, step, timestamp, value, is_nan)
            SELECT r.id, u.k, u.s, u.t, u.v, u.n
            FROM unnest($14::text[], $15::text[], $16::bigint[], $17::bigint[], $18::float8[], $19::bool[]) AS u(run, k, s, t, v, n)
            JOIN r ON r.run_uuid = u.run
            ORDER BY r.id, u.k
            ON CONFLICT (run_id, key) DO UPDATE SET step = EXCLUDED.step, timestamp = EXCLUDED.timestamp, value = EXCLUDED.value, is_nan = EXCLUDED.is_nan
            WHERE (EXCLUDED.step, EXCLUDED.timestamp, EXCLUDED.value) > (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value))
        SELECT run_uuid FROM r
        """
    typealias Row = String

    /// The runs written to, each once.
    var runs: [String]
    /// Each point's run, parallel to `metrics`.
    var uuids: [String]
    var metrics: [Metric]
    /// The latest point per run and key among these.
    var latest: [(String, Metric)]

    func makeBindings() throws -> PostgresBindings {
        // NaN is stored as 0 with its flag; optional texts as a value and a has-value flag (PostgresNIO
        // binds no arrays of optionals).
        let value = { (m: Metric) in m.value.isNaN ? 0 : m.value }
        var b = PostgresBindings(capacity: 19)
        b.append(runs)
        b.append(uuids)
        b.append(metrics.map(\.key))
        b.append(metrics.map(\.step))
        b.append(metrics.map(\.timestamp))
        b.append(metrics.map(value))
        b.append(metrics.map { $0.value.isNaN })
        b.append(metrics.map { $0.modelID ?? "" })
        b.append(metrics.map { $0.modelID != nil })
        b.append(metrics.map { $0.datasetName ?? "" })
        b.append(metrics.map { $0.datasetName != nil })
        b.append(metrics.map { $0.datasetDigest ?? "" })
        b.append(metrics.map { $0.datasetDigest != nil })
        b.append(latest.map(\.0))
        b.append(latest.map(\.1.key))
        b.append(latest.map(\.1.step))
        b.append(latest.map(\.1.timestamp))
        b.append(latest.map { value($0.1) })
        b.append(latest.map { $0.1.value.isNaN })
        return b
    }

    func decodeRow(_ row: PostgresRow) throws -> String { try row.decode(String.self) }
}
