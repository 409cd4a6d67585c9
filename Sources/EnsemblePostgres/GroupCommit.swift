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
    let queue: GroupCommitQueue<Request>

    /// - Parameters:
    ///   - maxWriters: groups written at the same time (each on its own connection). One, as on
    ///     SQLite: a group's fixed cost in the server (building and sending the statement, the
    ///     connection lease, the hops between threads) is larger than PostgreSQL's commit, so fewer,
    ///     larger groups win. Measured with wrk log-metric on the 2-core machine, one writer against
    ///     three, alternating: 8 connections 3,300-4,800 against 2,400-3,400 req/s, 32 connections
    ///     7,800-10,900 against 5,900-8,200; one connection the same.
    ///   - maxGroup: requests per group at most.
    ///   - executor: where the writer tasks run: the event loop of the store's connections
    ///     (``EventLoopTaskExecutor``).
    init(maxWriters: Int = 1, maxGroup: Int = 512, executor: (any TaskExecutor)? = nil) {
        queue = GroupCommitQueue(maxWriters: maxWriters, maxGroup: maxGroup, executor: executor) { group in await Self.write(group) }
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
    /// one round trip and one commit; inside ``PostgresStore/logBatchAlone``'s transaction, one round
    /// trip): the runs are looked up, the points stored as chunks, the latest values moved forward and
    /// the logged-model links added by data-modifying CTEs. Returns the run ids that were written.
    static func insert(_ requests: [(runID: String, metrics: [Metric])], _ db: PostgresConnection, logger: Logger) async throws -> Set<String> {
        var chunks = MetricChunks()
        var latest: [RunKey: Metric] = [:]
        for (run, points) in requests {
            chunks.add(run: run, points)
            for m in points {
                let k = RunKey(run: run, key: m.key)
                if let current = latest[k], !PostgresStore.isLater(m, than: current) { continue }
                latest[k] = m
            }
        }
        let statement = MetricGroupStatement(
            runs: Array(Set(requests.map(\.runID))), chunks: chunks.sealed(), latest: latest.map { ($0.key.run, $0.value) })
        var accepted = Set<String>()
        for try await run in try await db.execute(statement, logger: logger) { accepted.insert(run) }
        return accepted
    }

    struct RunKey: Hashable {
        var run: String
        var key: String
    }
}

/// Points gathered into chunks: one per run, key and logging context (model, dataset), each sorted
/// in history order, without identical points, and at most ``MetricChunks/capacity`` points long.
struct MetricChunks {
    static let capacity = 1000
    /// Chunks of fewer points are small: left by single-point logging, and merged by
    /// ``PostgresStore/compactMetricChunks(limit:batch:)``. (The partial index
    /// `metric_chunks_small` has the same bound.)
    static let small = 100
    /// A history with this many small chunks is compacted.
    static let compactAt = 64
    /// Small chunks merged by one compaction statement at most.
    static let compactBatch = 20_000

    struct Context: Hashable {
        var run: String
        var key: String
        var modelID: String?
        var datasetName: String?
        var datasetDigest: String?
    }

    struct Chunk {
        var context: Context
        var points: ArraySlice<Metric>
    }

    private var order: [Context] = []
    private var points: [Context: [Metric]] = [:]

    mutating func add(run: String, _ metrics: [Metric]) {
        for m in metrics { add(run: run, m) }
    }

    mutating func add(run: String, _ m: Metric) {
        let c = Context(run: run, key: m.key, modelID: m.modelID, datasetName: m.datasetName, datasetDigest: m.datasetDigest)
        if points[c] == nil { order.append(c) }
        points[c, default: []].append(m)
    }

    /// Appends a chunk's key, the 1-based bounds of its points, its context (optional texts as a value
    /// and a has-value flag: PostgresNIO binds no arrays of optionals), then the points of every chunk
    /// as three flat arrays that the bounds slice: twelve parameters.
    static func bind(_ chunks: [Chunk], into b: inout PostgresBindings) {
        var lo: [Int32] = [], hi: [Int32] = []
        var steps: [Int64] = [], timestamps: [Int64] = [], values: [Double] = []
        for chunk in chunks {
            lo.append(Int32(steps.count + 1))
            for m in chunk.points {
                steps.append(m.step)
                timestamps.append(m.timestamp)
                values.append(m.value)
            }
            hi.append(Int32(steps.count))
        }
        b.append(chunks.map(\.context.key))
        b.append(lo)
        b.append(hi)
        b.append(chunks.map { $0.context.modelID ?? "" })
        b.append(chunks.map { $0.context.modelID != nil })
        b.append(chunks.map { $0.context.datasetName ?? "" })
        b.append(chunks.map { $0.context.datasetName != nil })
        b.append(chunks.map { $0.context.datasetDigest ?? "" })
        b.append(chunks.map { $0.context.datasetDigest != nil })
        b.append(steps)
        b.append(timestamps)
        b.append(values)
    }

    /// The chunks, in the order their contexts first appeared.
    func sealed() -> [Chunk] {
        var out: [Chunk] = []
        for c in order {
            let list = MetricOrder.sortedUnique(points[c]!)
            var start = 0
            while start < list.count {
                let end = min(start + Self.capacity, list.count)
                out.append(Chunk(context: c, points: list[start..<end]))
                start = end
            }
        }
        return out
    }
}

/// The order of a metric's history: step, timestamp, value, with NaN after the numbers that equal 0
/// (NaN is stored as 0 with a flag in the row-per-point tables, and history was read in that order).
enum MetricOrder {
    static func precedes(_ a: Metric, _ b: Metric) -> Bool {
        if a.step != b.step { return a.step < b.step }
        if a.timestamp != b.timestamp { return a.timestamp < b.timestamp }
        let (av, bv) = (a.value.isNaN ? 0 : a.value, b.value.isNaN ? 0 : b.value)
        if av != bv { return av < bv }
        return !a.value.isNaN && b.value.isNaN
    }

    /// The points in history order, identical ones once (returned as they are when already so).
    static func sortedUnique(_ points: [Metric]) -> [Metric] {
        if points.isStrictlyIncreasing(by: precedes) { return points }
        var unique: [Metric] = []
        unique.reserveCapacity(points.count)
        for m in points.sorted(by: precedes) where unique.last.map({ !same($0, m) }) ?? true { unique.append(m) }
        return unique
    }

    /// The same point (MLflow keeps one of identical points).
    static func same(_ a: Metric, _ b: Metric) -> Bool {
        a.step == b.step && a.timestamp == b.timestamp && (a.value == b.value || (a.value.isNaN && b.value.isNaN))
    }
}

extension Array {
    func isStrictlyIncreasing(by precedes: (Element, Element) -> Bool) -> Bool {
        var i = 1
        while i < count {
            if !precedes(self[i - 1], self[i]) { return false }
            i += 1
        }
        return true
    }
}

/// The statement that writes a group of metric points, prepared once per connection.
///
/// Why prepared: at one connection a lone write spent 0.17 ms in PostgreSQL parsing this statement and
/// 0.18 ms binding and planning it, against 0.11 ms executing it (`log_min_duration_statement = 0`,
/// durable settings, bench machine); a prepared statement is parsed once per connection and, after a
/// few runs, executed with a cached generic plan.
///
/// Chunks are bound as parallel arrays (run, key, context, the 1-based bounds of its points) and the
/// points as three flat arrays, which each chunk slices.
struct MetricGroupStatement: PostgresPreparedStatement {
    static let sql = """
        WITH r AS (SELECT run_uuid, id FROM runs WHERE run_uuid = ANY($1::text[]) AND lifecycle_stage = 'active'),
        c AS (
            SELECT r.id, u.k, u.lo, u.hi, CASE WHEN u.hm THEN u.m END AS m, CASE WHEN u.hd THEN u.d END AS d, CASE WHEN u.hg THEN u.g END AS g
            FROM unnest($2::text[], $3::text[], $4::int4[], $5::int4[], $6::text[], $7::bool[], $8::text[], $9::bool[], $10::text[], $11::bool[])
                AS u(run, k, lo, hi, m, hm, d, hd, g, hg)
            JOIN r ON r.run_uuid = u.run),
        chunks AS (
            INSERT INTO metric_chunks (run_id, key, first_step, last_step, points, steps, timestamps, vals, model_id, dataset_name, dataset_digest)
            SELECT id, k, ($12::int8[])[lo], ($12::int8[])[hi], hi - lo + 1, ($12::int8[])[lo:hi], ($13::int8[])[lo:hi], ($14::float8[])[lo:hi], m, d, g
            FROM c),
        models AS (
            INSERT INTO logged_model_metrics (model_id, key, step, timestamp, value, is_nan, run_id, dataset_name, dataset_digest)
            SELECT c.m, c.k, p.s, p.t, CASE WHEN p.v = 'NaN' THEN 0 ELSE p.v END, p.v = 'NaN', c.id, c.d, c.g
            FROM c, unnest(($12::int8[])[lo:hi], ($13::int8[])[lo:hi], ($14::float8[])[lo:hi]) AS p(s, t, v)
            WHERE c.m IS NOT NULL
            ON CONFLICT DO NOTHING),
        latest AS (
            INSERT INTO latest_metrics (run_id, key, step, timestamp, value, is_nan)
            SELECT r.id, u.k, u.s, u.t, u.v, u.n
            FROM unnest($15::text[], $16::text[], $17::bigint[], $18::bigint[], $19::float8[], $20::bool[]) AS u(run, k, s, t, v, n)
            JOIN r ON r.run_uuid = u.run
            ORDER BY r.id, u.k
            ON CONFLICT (run_id, key) DO UPDATE SET step = EXCLUDED.step, timestamp = EXCLUDED.timestamp, value = EXCLUDED.value, is_nan = EXCLUDED.is_nan
            WHERE (EXCLUDED.step, EXCLUDED.timestamp, EXCLUDED.value) > (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value))
        SELECT run_uuid FROM r
        """
    typealias Row = String

    /// The runs written to, each once.
    var runs: [String]
    var chunks: [MetricChunks.Chunk]
    /// The latest point per run and key among these.
    var latest: [(String, Metric)]

    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 20)
        b.append(runs)
        b.append(chunks.map(\.context.run))
        MetricChunks.bind(chunks, into: &b)
        // The latest values keep NaN as 0 with its flag (their table orders and filters by value).
        b.append(latest.map(\.0))
        b.append(latest.map(\.1.key))
        b.append(latest.map(\.1.step))
        b.append(latest.map(\.1.timestamp))
        b.append(latest.map { $0.1.value.isNaN ? 0 : $0.1.value })
        b.append(latest.map { $0.1.value.isNaN })
        return b
    }

    func decodeRow(_ row: PostgresRow) throws -> String { try row.decode(String.self) }
}
