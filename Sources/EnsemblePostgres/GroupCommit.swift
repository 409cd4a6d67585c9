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
            written = try await store.transaction { [logger = store.logger] db -> [Int] in
                let runIDs = Array(Set(group.map(\.runID)))
                var runs: [String: (Int64, String)] = [:]
                for (uuid, id, stage) in try await db.rows(
                    "SELECT run_uuid, id, lifecycle_stage FROM runs WHERE run_uuid = ANY(\(runIDs)::text[])", (String, Int64, String).self, logger: logger)
                {
                    runs[uuid] = (id, stage)
                }
                var keys: [Int64] = []
                var metrics: [Metric] = []
                var ok: [Int] = []
                for (i, p) in group.enumerated() {
                    guard let (id, stage) = runs[p.runID], stage == LifecycleStage.active.rawValue else { continue }
                    ok.append(i)
                    keys += Array(repeating: id, count: p.metrics.count)
                    metrics += p.metrics
                }
                if !metrics.isEmpty { try await PostgresStore.insertMetrics(db, runs: keys, metrics, logger: logger) }
                return ok
            }
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
}
