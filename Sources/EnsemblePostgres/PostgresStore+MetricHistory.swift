import EnsembleCore
import PostgresNIO

/// Reading metric histories from their chunks (see the `2026-12-03-metric-chunks` migration).
///
/// A chunk row is three arrays, decoded in bulk, where a row per point cost PostgresNIO a row's and
/// four cells' work each. Chunks are written sorted and without identical points; points of
/// different chunks are merged here, identical ones kept once (MLflow keeps one).
extension PostgresStore {
    public func metricHistory(runID: String, key: String, limit: Int?, offset: Int) async throws -> Page<Metric> {
        try await read { [logger] db in
            let run = try await Self.runRow(runID, db, logger: logger)
            guard let limit else { return Page(items: try await Self.points(run: run, key: key, db, logger: logger), nextPageToken: nil) }
            let chunks = try await db.rows(
                "SELECT first_step, last_step, points FROM metric_chunks WHERE run_id = \(run) AND key = \(key) ORDER BY first_step, last_step",
                (Int64, Int64, Int32).self, logger: logger
            ).map { MetricChunkPlan.Chunk(firstStep: $0.0, lastStep: $0.1, points: Int($0.2)) }
            guard let read = MetricChunkPlan(chunks: chunks).pageRead(offset: offset, count: limit + 1) else {
                return Page(items: [], nextPageToken: nil)
            }
            let points = try await Self.points(run: run, key: key, steps: read.steps, db, logger: logger)
            let from = min(points.count, read.skip)
            return PageToken.page(Array(points[from..<min(points.count, from + limit + 1)]), offset: offset, limit: limit)
        }
    }

    public func metricHistoryBulkInterval(runIDs: [String], key: String, startStep: Int64?, endStep: Int64?, maxResults: Int) async throws -> [Metric] {
        try await read { [logger] db in
            // Steps are chosen over all runs together (as MLflow does), from the steps alone; then
            // each run's chunks that can hold a chosen step are read, one run at a time, so only one
            // history's points are in memory at once.
            var runs: [(id: String, row: Int64)] = []
            var runSteps: [[Int64]] = []
            for runID in runIDs {
                let run = try await Self.runRow(runID, db, logger: logger)
                var steps: [Int64] = []
                try await db.eachRow("SELECT steps FROM metric_chunks WHERE run_id = \(run) AND key = \(key)", logger: logger) { c in
                    steps += try c.ints()
                }
                runs.append((runID, run))
                runSteps.append(steps)
            }
            let chosen = MetricSampling.sampleSteps(runSteps: runSteps, start: startStep, end: endStep, maxResults: maxResults)
            guard let first = chosen.first, let last = chosen.last else { return [] }
            let wanted = Set(chosen)
            var result: [Metric] = []
            for (runID, run) in runs {
                for m in try await Self.points(run: run, key: key, overlapping: first...last, db, logger: logger) where wanted.contains(m.step) {
                    result.append(Metric(key: key, value: m.value, timestamp: m.timestamp, step: m.step, runID: runID))
                }
            }
            return result
        }
    }

    /// Merges the small chunks (under ``MetricChunks/small`` points) of histories that have many of
    /// them into full ones, up to `limit` histories per call and `batch` chunks per history (the rest
    /// on the next call, so a huge backlog never runs into the statement timeout); returns how many
    /// histories it compacted. One server at a time (an advisory lock).
    ///
    /// Why: a point logged alone (`log-metric`) is stored in a chunk of its own, or shared with the
    /// writes committed with it, and reading a history of 117,000 such points took 470 ms against
    /// 107 ms for 100,000 points logged in batches (bench machine). Each history is rewritten by
    /// one statement, so a reader sees it before or after, never half; points written meanwhile
    /// are new chunks, untouched.
    @discardableResult
    func compactMetricChunks(limit: Int = 20, batch: Int = MetricChunks.compactBatch) async throws -> Int {
        try await whileHolding(lock: 7341003) { [logger] db in
            let small = "points < \(MetricChunks.small)"
            let histories = try await db.rows(
                """
                SELECT run_id, key FROM metric_chunks WHERE \(unescaped: small) GROUP BY run_id, key
                HAVING count(*) >= \(Int64(MetricChunks.compactAt)) LIMIT \(Int64(limit))
                """, (Int64, String).self, logger: logger)
            for (run, key) in histories {
                try await db.run(
                    """
                    WITH small AS (
                        DELETE FROM metric_chunks WHERE ctid IN (
                            SELECT ctid FROM metric_chunks WHERE run_id = \(run) AND key = \(key) AND \(unescaped: small) LIMIT \(Int64(batch)))
                        RETURNING *),
                    p AS (
                        SELECT DISTINCT s.model_id, s.dataset_name, s.dataset_digest, u.step, u.t, u.v
                        FROM small s, unnest(s.steps, s.timestamps, s.vals) AS u(step, t, v)),
                    o AS (
                        SELECT p.*, CASE WHEN v = 'NaN' THEN 0 ELSE v END AS ordered, v = 'NaN' AS nan,
                            (row_number() OVER (PARTITION BY model_id, dataset_name, dataset_digest
                                                ORDER BY step, t, CASE WHEN v = 'NaN' THEN 0 ELSE v END, v = 'NaN') - 1) / 1000 AS chunk
                        FROM p)
                    INSERT INTO metric_chunks (run_id, key, first_step, last_step, points, steps, timestamps, vals, model_id, dataset_name, dataset_digest)
                    SELECT \(run), \(key), min(step), max(step), count(*), array_agg(step ORDER BY step, t, ordered, nan),
                        array_agg(t ORDER BY step, t, ordered, nan), array_agg(v ORDER BY step, t, ordered, nan), model_id, dataset_name, dataset_digest
                    FROM o GROUP BY model_id, dataset_name, dataset_digest, chunk
                    """, logger: logger)
            }
            return histories.count
        } ?? 0
    }

    static func runRow(_ runID: String, _ db: PostgresConnection, logger: Logger) async throws -> Int64 {
        guard let run = try await db.value("SELECT id FROM runs WHERE run_uuid = \(runID)", Int64.self, logger: logger) else {
            throw EnsembleError.runNotFound(runID)
        }
        return run
    }

    /// The points of the chunks that start within `steps`, or whose steps overlap `overlapping`, or
    /// all, in history order, identical points once.
    static func points(
        run: Int64, key: String, steps: ClosedRange<Int64>? = nil, overlapping: ClosedRange<Int64>? = nil, _ db: PostgresConnection, logger: Logger
    ) async throws -> [Metric] {
        let columns = "SELECT steps, timestamps, vals, model_id, dataset_name, dataset_digest FROM metric_chunks"
        let query: PostgresQuery =
            if let steps {
                "\(unescaped: columns) WHERE run_id = \(run) AND key = \(key) AND first_step BETWEEN \(steps.lowerBound) AND \(steps.upperBound) ORDER BY first_step"
            } else if let range = overlapping {
                "\(unescaped: columns) WHERE run_id = \(run) AND key = \(key) AND first_step <= \(range.upperBound) AND last_step >= \(range.lowerBound) ORDER BY first_step"
            } else {
                "\(unescaped: columns) WHERE run_id = \(run) AND key = \(key) ORDER BY first_step"
            }
        var points: [Metric] = []
        try await db.eachRow(query, logger: logger) { c in
            let (steps, timestamps, values) = (try c.ints(), try c.ints(), try c.doubles())
            let (model, dataset, digest) = (try c.optionalText(), try c.optionalText(), try c.optionalText())
            guard steps.count == timestamps.count, steps.count == values.count else {
                throw EnsembleError(.internalError, "A stored chunk of metric '\(key)' has arrays of different lengths.")
            }
            for i in steps.indices {
                points.append(
                    Metric(key: key, value: values[i], timestamp: timestamps[i], step: steps[i], modelID: model, datasetName: dataset, datasetDigest: digest))
            }
        }
        // Chunks whose steps do not overlap arrive in order, each sorted and without repeats.
        return MetricOrder.sortedUnique(points)
    }
}

/// Which chunks a page of a history needs, from the chunks' step ranges and point counts alone.
///
/// Chunks whose step ranges overlap form a segment; segments are disjoint in steps, so a history is
/// its segments one after the other, and identical points can only be within one segment. A segment
/// of one chunk has exactly its count of points (a chunk holds no repeats); a segment of several may
/// hold repeats, so it has at least as many as its largest chunk and at most their sum.
struct MetricChunkPlan: Equatable {
    struct Chunk: Equatable {
        var firstStep: Int64
        var lastStep: Int64
        var points: Int
    }

    struct Segment: Equatable {
        var steps: ClosedRange<Int64>
        var chunks: Int
        /// Exact for one chunk; the largest chunk's count (a lower bound) for several.
        var atLeast: Int
    }

    let segments: [Segment]

    /// - Parameter chunks: ordered by first step.
    init(chunks: [Chunk]) {
        var out: [Segment] = []
        for c in chunks {
            if var last = out.last, c.firstStep <= last.steps.upperBound {
                last.steps = last.steps.lowerBound...max(last.steps.upperBound, c.lastStep)
                last.chunks += 1
                last.atLeast = max(last.atLeast, c.points)
                out[out.count - 1] = last
            } else {
                out.append(Segment(steps: c.firstStep...max(c.firstStep, c.lastStep), chunks: 1, atLeast: c.points))
            }
        }
        segments = out
    }

    /// The chunks to read (those starting within `steps`) for `count` points from position
    /// `offset`, and how many of the points read come before the page; nil when the page is past
    /// the end.
    func pageRead(offset: Int, count: Int) -> (steps: ClosedRange<Int64>, skip: Int)? {
        var position = 0
        var first = 0
        // Whole segments before the page are skipped while their counts are exact.
        while first < segments.count, segments[first].chunks == 1, position + segments[first].atLeast <= offset {
            position += segments[first].atLeast
            first += 1
        }
        guard first < segments.count else { return nil }
        // Then enough segments that, however many repeats they hold, the page is inside them.
        var last = first
        var surely = position + segments[first].atLeast
        while surely < offset + count, last + 1 < segments.count {
            last += 1
            surely += segments[last].atLeast
        }
        return (segments[first].steps.lowerBound...segments[last].steps.upperBound, offset - position)
    }
}
