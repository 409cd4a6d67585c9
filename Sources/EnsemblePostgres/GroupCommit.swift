import EnsembleCore
import NIOConcurrencyHelpers
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
    struct Pending {
        var runID: String
        var metrics: [Metric]
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var queue: [Pending] = []
        var writers = 0
    }

    private let state = NIOLockedValueBox(State())
    /// Groups written at the same time (each on its own connection).
    let maxWriters: Int
    /// Requests per group at most.
    let maxGroup: Int

    init(maxWriters: Int = 3, maxGroup: Int = 512) {
        self.maxWriters = maxWriters
        self.maxGroup = maxGroup
    }

    /// Writes the points; returns once they are committed.
    func submit(runID: String, metrics: [Metric], store: PostgresStore) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let start = state.withLockedValue { s -> Bool in
                s.queue.append(Pending(runID: runID, metrics: metrics, continuation: continuation))
                guard s.writers < maxWriters else { return false }
                s.writers += 1
                return true
            }
            if start { Task { await self.drain(store) } }
        }
    }

    /// Writes groups until the queue is empty.
    private func drain(_ store: PostgresStore) async {
        while true {
            let group = state.withLockedValue { s -> [Pending] in
                let n = min(s.queue.count, maxGroup)
                let taken = Array(s.queue.prefix(n))
                s.queue.removeFirst(n)
                if taken.isEmpty { s.writers -= 1 }
                return taken
            }
            if group.isEmpty { return }
            await write(group, store)
        }
    }

    private func write(_ group: [Pending], _ store: PostgresStore) async {
        let written: [Int]
        do {
            let accepted = try await store.statement { [logger = store.logger] db in
                try await Self.insert(group.map { ($0.runID, $0.metrics) }, db, logger: logger)
            }
            written = group.indices.filter { accepted.contains(group[$0].runID) }
        } catch {
            // One request may carry what PostgreSQL refuses: each is written on its own, for its own answer.
            written = []
        }
        let committed = Set(written)
        for i in written { group[i].continuation.resume() }
        // The others (a missing or deleted run, or a group that failed) get the answer they get alone.
        for (i, p) in group.enumerated() where !committed.contains(i) {
            do {
                try await store.logBatchAlone(runID: p.runID, metrics: p.metrics, params: [], tags: [])
                p.continuation.resume()
            } catch {
                p.continuation.resume(throwing: error)
            }
        }
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
        let value = { (m: Metric) in m.value.isNaN ? 0 : m.value }
        var q = SQLBuilder()
        let runs = q.bind(Array(Set(uuids)))
        let points = [
            q.bind(uuids), q.bind(metrics.map(\.key)), q.bind(metrics.map(\.step)), q.bind(metrics.map(\.timestamp)), q.bind(metrics.map(value)),
            q.bind(metrics.map { $0.value.isNaN }), q.bind(metrics.map { $0.modelID ?? "" }), q.bind(metrics.map { $0.modelID != nil }),
            q.bind(metrics.map { $0.datasetName ?? "" }), q.bind(metrics.map { $0.datasetName != nil }),
            q.bind(metrics.map { $0.datasetDigest ?? "" }), q.bind(metrics.map { $0.datasetDigest != nil }),
        ]
        let latestRows = [
            q.bind(rows.map(\.0)), q.bind(rows.map(\.1.key)), q.bind(rows.map(\.1.step)), q.bind(rows.map(\.1.timestamp)), q.bind(rows.map { value($0.1) }),
            q.bind(rows.map { $0.1.value.isNaN }),
        ]
        let types = ["text", "text", "bigint", "bigint", "float8", "bool", "text", "bool", "text", "bool", "text", "bool"]
        let unnestPoints = zip(points, types).map { "\($0)::\($1)[]" }.joined(separator: ", ")
        let unnestLatest = zip(latestRows, ["text", "text", "bigint", "bigint", "float8", "bool"]).map { "\($0)::\($1)[]" }.joined(separator: ", ")
        q.append(
            """
            WITH r AS (SELECT run_uuid, id FROM runs WHERE run_uuid = ANY(\(runs)::text[]) AND lifecycle_stage = 'active'),
            p AS (SELECT r.id, u.* FROM unnest(\(unnestPoints)) AS u(run, k, s, t, v, n, m, hm, d, hd, g, hg) JOIN r ON r.run_uuid = u.run),
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
                SELECT r.id, u.k, u.s, u.t, u.v, u.n FROM unnest(\(unnestLatest)) AS u(run, k, s, t, v, n) JOIN r ON r.run_uuid = u.run
                ORDER BY r.id, u.k
                ON CONFLICT (run_id, key) DO UPDATE SET step = EXCLUDED.step, timestamp = EXCLUDED.timestamp, value = EXCLUDED.value, is_nan = EXCLUDED.is_nan
                WHERE (EXCLUDED.step, EXCLUDED.timestamp, EXCLUDED.value) > (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value))
            SELECT run_uuid FROM r
            """)
        return Set(try await db.column(q.query, String.self, logger: logger))
    }
}
