import EnsembleCore
import Foundation
import PostgresNIO

extension PostgresStore: TrackingStore {
    public func createRun(_ new: NewRun) async throws -> Run {
        let experimentKey = try Self.experimentKey(new.experimentID)
        let runUUID = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let (name, finalTags) = try new.resolvedNameAndTags()
        return try await transaction { [logger] db in
            let location = try await Self.activeExperimentLocation(db, key: experimentKey, id: new.experimentID, logger: logger)
            let artifactURI = Self.appendPath(location, "\(runUUID)/artifacts")
            guard
                let id = try await db.value(
                    """
                    INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage)
                    VALUES (\(runUUID), \(experimentKey), \(name), \(new.userID), 'RUNNING', \(new.startTime), NULL, \(artifactURI), 'active') RETURNING id
                    """, Int64.self, logger: logger)
            else { throw EnsembleError(.internalError, "The new run got no id.") }
            try await Self.upsertKeyValues(db, table: "tags", owner: "run_id", id, finalTags, logger: logger)
            return try await Self.loadRuns(db, ids: [id], logger: logger)[0]
        }
    }

    public func run(id: String) async throws -> Run {
        try await read { [logger] db in
            guard let key = try await db.value("SELECT id FROM runs WHERE run_uuid = \(id)", Int64.self, logger: logger) else {
                throw EnsembleError.runNotFound(id)
            }
            return try await Self.loadRuns(db, ids: [key], logger: logger)[0]
        }
    }

    public func experimentID(owning id: String) async throws -> String? {
        try await read { [logger] db in
            if let e = try await db.value("SELECT experiment_id FROM runs WHERE run_uuid = \(id)", Int64.self, logger: logger) { return String(e) }
            return try await db.value("SELECT experiment_id FROM logged_models WHERE model_id = \(id)", Int64.self, logger: logger).map(String.init)
        }
    }

    public func updateRun(id: String, _ update: RunUpdate) async throws -> RunInfo {
        try await transaction { [logger] db in
            let key = try await Self.activeRunKey(db, id, logger: logger)
            if let status = update.status {
                try await db.run("UPDATE runs SET status = \(status.rawValue) WHERE id = \(key)", logger: logger)
            }
            if let end = update.endTime {
                try await db.run("UPDATE runs SET end_time = \(end) WHERE id = \(key)", logger: logger)
            }
            if let name = update.runName {
                try await db.run("UPDATE runs SET name = \(name) WHERE id = \(key)", logger: logger)
                try await Self.upsertKeyValues(db, table: "tags", owner: "run_id", key, [KeyValue(key: MLflowTags.runName, value: name)], logger: logger)
            }
            return try await Self.loadRuns(db, ids: [key], infoOnly: true, logger: logger)[0].info
        }
    }

    public func deleteRun(id: String) async throws {
        try await transaction { [logger] db in
            if try await db.run("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = \(Self.now()) WHERE run_uuid = \(id)", logger: logger) == 0 {
                throw EnsembleError.runNotFound(id)
            }
        }
    }

    public func restoreRun(id: String) async throws {
        try await transaction { [logger] db in
            if try await db.run("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE run_uuid = \(id)", logger: logger) == 0 {
                throw EnsembleError.runNotFound(id)
            }
        }
    }

    /// Metric-only batches (log-metric, most log-batch calls) are committed together with the other
    /// ones in flight (``MetricGroupCommit``); a batch with params or tags is its own transaction.
    public func logBatch(runID: String, metrics: [Metric], params: [KeyValue], tags: [KeyValue]) async throws {
        if params.isEmpty && tags.isEmpty {
            guard !metrics.isEmpty else { return try await logBatchAlone(runID: runID, metrics: [], params: [], tags: []) }
            return try await metricWrites.submit(runID: runID, metrics: metrics, store: self)
        }
        try await logBatchAlone(runID: runID, metrics: metrics, params: params, tags: tags)
    }

    /// One batch in its own transaction. Each kind of row goes in as one statement over arrays
    /// (`unnest`), whatever the batch size: a 1,000-point batch is a handful of round trips.
    func logBatchAlone(runID: String, metrics: [Metric], params: [KeyValue], tags: [KeyValue]) async throws {
        try await transaction { [logger] db in
            let key = try await Self.activeRunKey(db, runID, logger: logger)
            if !params.isEmpty {
                // Write-once: insert what is new, then compare every given value with what is stored
                // (a conflicting value rolls the whole batch back).
                try await db.run(
                    """
                    INSERT INTO params (run_id, key, value) SELECT \(key), k, v FROM unnest(\(params.map(\.key))::text[], \(params.map(\.value))::text[]) AS u(k, v)
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
                var stored: [String: String] = [:]
                for (k, v) in try await db.rows(
                    "SELECT key, value FROM params WHERE run_id = \(key) AND key = ANY(\(params.map(\.key))::text[])", (String, String).self, logger: logger)
                {
                    stored[k] = v
                }
                for p in params {
                    if let old = stored[p.key], old != p.value {
                        throw EnsembleError.invalid(
                            "Changing param values is not allowed. Param with key='\(p.key)' was already logged with value='\(old)' for run ID='\(runID)'. Attempted logging new value '\(p.value)'."
                        )
                    }
                }
            }
            if !tags.isEmpty {
                try await Self.upsertKeyValues(db, table: "tags", owner: "run_id", key, tags, logger: logger)
                if let name = tags.last(where: { $0.key == MLflowTags.runName })?.value {
                    try await db.run("UPDATE runs SET name = \(name) WHERE id = \(key)", logger: logger)
                }
            }
            if !metrics.isEmpty { _ = try await MetricGroupCommit.insert([(runID, metrics)], db, logger: logger) }
        }
    }

    /// MLflow's "latest" order: by step, then timestamp, then value (NaN counted as 0, as stored).
    static func isLater(_ a: Metric, than b: Metric) -> Bool {
        let av = a.value.isNaN ? 0 : a.value
        let bv = b.value.isNaN ? 0 : b.value
        return (a.step, a.timestamp, av) > (b.step, b.timestamp, bv)
    }

    public func deleteTag(runID: String, key tagKey: String) async throws {
        try await transaction { [logger] db in
            let key = try await Self.activeRunKey(db, runID, logger: logger)
            if try await db.run("DELETE FROM tags WHERE run_id = \(key) AND key = \(tagKey)", logger: logger) == 0 {
                throw EnsembleError.notFound("No tag with name: \(tagKey) in run with id \(runID)")
            }
        }
    }

    public func logInputs(runID: String, datasets: [DatasetInput], modelIDs: [String]) async throws {
        try await transaction { [logger] db in
            let key = try await Self.activeRunKey(db, runID, logger: logger)
            guard let experimentKey = try await db.value("SELECT experiment_id FROM runs WHERE id = \(key)", Int64.self, logger: logger) else {
                throw EnsembleError.runNotFound(runID)
            }
            for input in datasets {
                let d = input.dataset
                try await db.run(
                    """
                    INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, profile)
                    VALUES (\(experimentKey), \(d.name), \(d.digest), \(d.sourceType), \(d.source), \(d.schema), \(d.profile))
                    ON CONFLICT (experiment_id, name, digest) DO NOTHING
                    """, logger: logger)
                guard
                    let datasetID = try await db.value(
                        "SELECT id FROM datasets WHERE experiment_id = \(experimentKey) AND name = \(d.name) AND digest = \(d.digest)", Int64.self, logger: logger)
                else { throw EnsembleError(.internalError, "The dataset row was not found after its insert.") }
                try await db.run(
                    """
                    INSERT INTO run_dataset_inputs (run_id, dataset_id, position)
                    SELECT \(key), \(datasetID), COALESCE(MAX(position), -1) + 1 FROM run_dataset_inputs WHERE run_id = \(key)
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
                for t in Self.lastPerKey(input.tags) {
                    try await db.run(
                        """
                        INSERT INTO input_tags (run_id, dataset_id, key, value) VALUES (\(key), \(datasetID), \(t.key), \(t.value))
                        ON CONFLICT (run_id, dataset_id, key) DO UPDATE SET value = EXCLUDED.value
                        """, logger: logger)
                }
            }
            if !modelIDs.isEmpty {
                try await db.run(
                    "INSERT INTO run_model_inputs (run_id, model_id) SELECT \(key), m FROM unnest(\(modelIDs)::text[]) AS u(m) ON CONFLICT DO NOTHING",
                    logger: logger)
            }
        }
    }

    public func logOutputs(runID: String, models: [ModelOutput]) async throws {
        try await transaction { [logger] db in
            let key = try await Self.activeRunKey(db, runID, logger: logger)
            for m in models {
                try await db.run(
                    """
                    INSERT INTO run_model_outputs (run_id, model_id, step) VALUES (\(key), \(m.modelID), \(m.step))
                    ON CONFLICT (run_id, model_id) DO UPDATE SET step = EXCLUDED.step
                    """, logger: logger)
            }
        }
    }

    public func datasetSummaries(experimentIDs: [String]) async throws -> [DatasetSummary] {
        let keys = try experimentIDs.map(Self.experimentKey)
        guard !keys.isEmpty else { return [] }
        return try await read { [logger] db in
            try await db.rows(
                """
                SELECT DISTINCT d.experiment_id, d.name, d.digest, t.value
                FROM datasets d
                JOIN run_dataset_inputs i ON i.dataset_id = d.id
                LEFT JOIN input_tags t ON t.run_id = i.run_id AND t.dataset_id = d.id AND t.key = 'mlflow.data.context'
                WHERE d.experiment_id = ANY(\(keys)::bigint[])
                ORDER BY d.experiment_id, d.name, d.digest
                LIMIT 1000
                """, (Int64, String, String, String?).self, logger: logger
            ).map { DatasetSummary(experimentID: String($0.0), name: $0.1, digest: $0.2, context: $0.3) }
        }
    }

    // MARK: Helpers

    /// The row id of a run that may be written to, or the MLflow error for a missing or deleted run.
    static func activeRunKey(_ db: PostgresConnection, _ runID: String, logger: Logger) async throws -> Int64 {
        guard let (id, stage) = try await db.rows("SELECT id, lifecycle_stage FROM runs WHERE run_uuid = \(runID)", (Int64, String).self, logger: logger).first
        else { throw EnsembleError.runNotFound(runID) }
        guard stage == LifecycleStage.active.rawValue else {
            throw EnsembleError.invalid("The run \(runID) must be in the 'active' state. Current state is \(stage).")
        }
        return id
    }

    /// Whole runs (info, latest metrics, params, tags, inputs, outputs) for row ids, in the order
    /// given: the runs and everything attached to them in one statement (``RunPartsStatement``), so a
    /// page of runs costs one round trip however many tables it touches.
    static func loadRuns(_ db: PostgresConnection, ids: [Int64], infoOnly: Bool = false, logger: Logger) async throws -> [Run] {
        guard !ids.isEmpty else { return [] }
        var runs: [Int64: Run] = [:]
        runs.reserveCapacity(ids.count)
        if infoOnly {
            for try await (id, info) in try await db.execute(RunRowsStatement(ids: ids), logger: logger) { runs[id] = Run(info: info) }
            return ids.compactMap { runs[$0] }
        }
        // The runs and what is attached to them come in one statement (one round trip), a row per kind.
        var parts: [RunPartsStatement.Part] = []
        for try await p in try await db.execute(RunPartsStatement(ids: ids), logger: logger) { parts.append(p) }
        return assembleRuns(parts, ids: ids)
    }

    /// The runs of `ids`, in that order, from the rows of ``RunPartsStatement`` (rows of other kinds
    /// and rows of runs not in `ids` are ignored).
    ///
    /// What is attached to the runs is gathered by each run's place in the page, in arrays, not in
    /// dictionaries of runs: a page of 100 runs with 10 values each took a fifth of the search's CPU
    /// in the server when each value was hashed into a dictionary and each run copied out of one.
    static func assembleRuns(_ parts: [RunPartsStatement.Part], ids: [Int64]) -> [Run] {
        var place: [Int64: Int] = [:]
        place.reserveCapacity(ids.count)
        for (at, id) in ids.enumerated() where place[id] == nil { place[id] = at }
        let n = ids.count
        var infos = [RunInfo?](repeating: nil, count: n)
        var params = [[KeyValue]](repeating: [], count: n), tags = [[KeyValue]](repeating: [], count: n)
        var metrics = [[Metric]](repeating: [], count: n)
        var modelInputs = [[String]](repeating: [], count: n), modelOutputs = [[ModelOutput]](repeating: [], count: n)
        var inputTags: [Int64: [Int64: [KeyValue]]] = [:]
        var inputs: [(run: Int, dataset: Int64, position: Int64, value: Dataset)] = []
        for p in parts {
            // The arrays of a row are parallel; `count` keeps a malformed row from reading past the shortest.
            switch p.kind {
            case 7:
                for x in 0..<p.count(p.a, p.b, p.c, p.d, p.e, p.f, p.i, p.j, p.k, p.flags) {
                    guard let at = place[p.runs[x]] else { continue }
                    infos[at] = RunInfo(
                        runID: p.a[x], runName: p.b[x], experimentID: String(p.i[x]), userID: p.c[x], status: RunStatus(rawValue: p.d[x]) ?? .running,
                        startTime: p.j[x], endTime: p.flags[x] ? p.k[x] : nil, artifactURI: p.e[x], lifecycleStage: LifecycleStage(rawValue: p.f[x]) ?? .active)
                }
            case 0:
                for x in 0..<p.count(p.a, p.b) {
                    if let at = place[p.runs[x]] { params[at].append(KeyValue(key: p.a[x], value: p.b[x])) }
                }
            case 1:
                for x in 0..<p.count(p.a, p.b) {
                    if let at = place[p.runs[x]] { tags[at].append(KeyValue(key: p.a[x], value: p.b[x])) }
                }
            case 2:
                for x in 0..<p.count(p.a, p.i, p.j, p.v, p.flags) {
                    if let at = place[p.runs[x]] {
                        metrics[at].append(Metric(key: p.a[x], value: p.flags[x] ? .nan : p.v[x], timestamp: p.j[x], step: p.i[x]))
                    }
                }
            case 3:
                for x in 0..<p.count(p.a, p.b, p.i) {
                    inputTags[p.runs[x], default: [:]][p.i[x], default: []].append(KeyValue(key: p.a[x], value: p.b[x]))
                }
            case 4:
                // `k`: 1 when the dataset has a schema, 2 when it has a profile.
                for x in 0..<p.count(p.a, p.b, p.c, p.d, p.e, p.f, p.i, p.j, p.k) {
                    guard let at = place[p.runs[x]] else { continue }
                    let value = Dataset(
                        name: p.a[x], digest: p.b[x], sourceType: p.c[x], source: p.d[x], schema: p.k[x] & 1 != 0 ? p.e[x] : nil,
                        profile: p.k[x] & 2 != 0 ? p.f[x] : nil)
                    inputs.append((at, p.i[x], p.j[x], value))
                }
            case 5:
                for x in 0..<p.count(p.a) {
                    if let at = place[p.runs[x]] { modelInputs[at].append(p.a[x]) }
                }
            case 6:
                for x in 0..<p.count(p.a, p.i) {
                    if let at = place[p.runs[x]] { modelOutputs[at].append(ModelOutput(modelID: p.a[x], step: p.i[x])) }
                }
            default:
                continue
            }
        }
        // The orders the SQLite store gives: keys, models and tag keys by byte order; inputs by position.
        let byKey = { (x: KeyValue, y: KeyValue) in x.key.utf8.lexicographicallyPrecedes(y.key.utf8) }
        var datasetInputs = [[DatasetInput]](repeating: [], count: n)
        for input in inputs.sorted(by: { ($0.run, $0.position) < ($1.run, $1.position) }) {
            let tags = (inputTags[ids[input.run]]?[input.dataset] ?? []).sorted(by: byKey)
            datasetInputs[input.run].append(DatasetInput(dataset: input.value, tags: tags))
        }
        var runs: [Run] = []
        runs.reserveCapacity(n)
        for id in ids {
            guard let at = place[id], let info = infos[at] else { continue }
            runs.append(Run(
                info: info,
                metrics: metrics[at].sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) },
                params: params[at].sorted(by: byKey),
                tags: tags[at].sorted(by: byKey),
                datasetInputs: datasetInputs[at],
                modelInputs: modelInputs[at].sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) },
                modelOutputs: modelOutputs[at].sorted { $0.modelID.utf8.lexicographicallyPrecedes($1.modelID.utf8) }))
        }
        return runs
    }
}

/// A statement over a page of runs, bound to their row ids (`$1`).
protocol RunPageStatement: PostgresPreparedStatement {
    var ids: [Int64] { get }
}

extension RunPageStatement {
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 1)
        b.append(ids)
        return b
    }
}

/// The runs of a page, by row id (prepared once per connection: every page of runs reads them).
struct RunRowsStatement: RunPageStatement {
    static let sql = """
        SELECT id, run_uuid, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage
        FROM runs WHERE id = ANY($1::bigint[])
        """
    typealias Row = (Int64, RunInfo)
    var ids: [Int64]

    func decodeRow(_ row: PostgresRow) throws -> Row {
        var c = Cells(row)
        let id = try c.int()
        let (uuid, experiment, name, user, status) = (try c.text(), try c.int(), try c.text(), try c.text(), try c.text())
        let (start, end, uri, stage) = (try c.int(), try c.optionalInt(), try c.text(), try c.text())
        return (
            id,
            RunInfo(
                runID: uuid, runName: name, experimentID: String(experiment), userID: user, status: RunStatus(rawValue: status) ?? .running,
                startTime: start, endTime: end, artifactURI: uri, lifecycleStage: LifecycleStage(rawValue: stage) ?? .active)
        )
    }
}

/// A page of runs and everything attached to them as one result set of eight rows, one per kind:
/// the runs (7), params (0), tags (1), latest metrics (2), input tags (3), dataset inputs (4), model
/// inputs (5) and model outputs (6), each as parallel arrays over every run of the page, with the
/// run ids in `runs`. The query is the function `ensemble_run_page` (migration
/// `2026-12-03-run-page-function`).
///
/// - One statement, not two: a round trip fewer per page, which counts when the database is on
///   another machine (on loopback, alternating with the two-statement binary, within 2%).
/// - A row per kind, not per run and kind: a page of 100 runs with ten values each is 8 rows instead
///   of 400 (and 1,100 as a row per value). PostgresNIO's per-row and per-cell work was a quarter of
///   a search's time in the server; the arrays are read by ``Cells`` in a loop over their bytes.
/// - A function with a generic plan: PostgreSQL plans a prepared statement anew for its first five
///   runs on every connection, and planning this union of eight queries over a 100-element array
///   took 3.8 ms, more than running it (1.9 ms). A fresh server's first searches paid it on every
///   pooled connection. The function's plan is made once per connection: `scripts/bench --backend
///   postgres --only search --runs 2000` went from 10.1 / 10.9 / 13.6 ms to 5.6 / 6.1 / 8.7 ms.
struct RunPartsStatement: RunPageStatement {
    static let sql = "SELECT * FROM ensemble_run_page($1::bigint[])"

    struct Part: Sendable {
        var kind: Int64
        var runs: [Int64]
        var a: [String], b: [String], c: [String], d: [String], e: [String], f: [String]
        var i: [Int64], j: [Int64], k: [Int64]
        var v: [Double]
        var flags: [Bool]

        /// How many elements every one of `runs` and the given arrays has.
        func count(_ arrays: any Collection...) -> Int {
            arrays.reduce(runs.count) { min($0, $1.count) }
        }
    }

    typealias Row = Part
    var ids: [Int64]

    func decodeRow(_ row: PostgresRow) throws -> Part {
        var c = Cells(row)
        return try Self.part(&c)
    }

    /// A row of `ensemble_run_page`'s shape (also the search's own row of the page's ids).
    static func part(_ c: inout Cells) throws -> Part {
        let (kind, runs) = (try c.int(), try c.ints())
        let (a, b, cc, d, e, f) = (try c.texts(), try c.texts(), try c.texts(), try c.texts(), try c.texts(), try c.texts())
        let (i, j, k) = (try c.ints(), try c.ints(), try c.ints())
        return Part(kind: kind, runs: runs, a: a, b: b, c: cc, d: d, e: e, f: f, i: i, j: j, k: k, v: try c.doubles(), flags: try c.bools())
    }
}
