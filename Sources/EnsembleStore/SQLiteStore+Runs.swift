import EnsembleCore
import Foundation
import GRDB
import GRDBSQLite

extension SQLiteStore {
    public func createRun(_ new: NewRun) async throws -> Run {
        let experimentKey = try Self.experimentKey(new.experimentID)
        let runUUID = Self.newRunID()
        let (name, finalTags) = try new.resolvedNameAndTags()
        return try await pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = ?", arguments: [experimentKey]) else {
                throw EnsembleError.experimentNotFound(new.experimentID)
            }
            let location: String = row[0]
            guard (row[1] as String) == LifecycleStage.active.rawValue else {
                throw EnsembleError.invalid("The experiment \(new.experimentID) must be in the 'active' state. Current state is deleted.")
            }
            let artifactURI = Self.appendPath(location, "\(runUUID)/artifacts")
            try db.execute(
                sql: """
                    INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage)
                    VALUES (?, ?, ?, ?, 'RUNNING', ?, NULL, ?, 'active')
                    """,
                arguments: [runUUID, experimentKey, name, new.userID, new.startTime, artifactURI]
            )
            let id = db.lastInsertedRowID
            let statement = try db.cachedStatement(sql: "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value")
            for tag in finalTags { try statement.execute(arguments: [id, tag.key, tag.value]) }
            return try Self.loadRuns(db, ids: [id])[0]
        }
    }

    public func run(id: String) async throws -> Run {
        try await pool.read { db in
            guard let key = try Int64.fetchOne(db, sql: "SELECT id FROM runs WHERE run_uuid = ?", arguments: [id]) else {
                throw EnsembleError.runNotFound(id)
            }
            return try Self.loadRuns(db, ids: [key])[0]
        }
    }

    public func updateRun(id: String, _ update: RunUpdate) async throws -> RunInfo {
        try await pool.write { db in
            let key = try Self.activeRunKey(db, id)
            if let status = update.status {
                try db.execute(sql: "UPDATE runs SET status = ? WHERE id = ?", arguments: [status.rawValue, key])
            }
            if let end = update.endTime {
                try db.execute(sql: "UPDATE runs SET end_time = ? WHERE id = ?", arguments: [end, key])
            }
            if let name = update.runName {
                try db.execute(sql: "UPDATE runs SET name = ? WHERE id = ?", arguments: [name, key])
                try db.execute(
                    sql: "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value",
                    arguments: [key, MLflowTags.runName, name]
                )
            }
            return try Self.loadRuns(db, ids: [key], infoOnly: true)[0].info
        }
    }

    public func deleteRun(id: String) async throws {
        try await pool.write { db in
            guard try Int64.fetchOne(db, sql: "SELECT id FROM runs WHERE run_uuid = ?", arguments: [id]) != nil else {
                throw EnsembleError.runNotFound(id)
            }
            try db.execute(
                sql: "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? WHERE run_uuid = ?",
                arguments: [Self.now(), id]
            )
        }
    }

    public func restoreRun(id: String) async throws {
        try await pool.write { db in
            guard try Int64.fetchOne(db, sql: "SELECT id FROM runs WHERE run_uuid = ?", arguments: [id]) != nil else {
                throw EnsembleError.runNotFound(id)
            }
            try db.execute(sql: "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE run_uuid = ?", arguments: [id])
        }
    }

    /// A batch of metrics alone (log-metric, most log-batch calls) joins the writes in flight
    /// (``metricWrites``); one with params or tags is its own transaction.
    public func logBatch(runID: String, metrics: [Metric], params: [KeyValue], tags: [KeyValue]) async throws {
        if params.isEmpty, tags.isEmpty {
            guard !metrics.isEmpty else { _ = try await pool.read { db in try Self.activeRunKey(db, runID) }; return }
            return try await metricWrites.submit((runID, metrics))
        }
        try await pool.write { db in
            let key = try Self.activeRunKey(db, runID)
            if !params.isEmpty {
                let existing = try db.cachedStatement(sql: "SELECT value FROM params WHERE run_id = ? AND key = ?")
                let insert = try db.cachedStatement(sql: "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)")
                for p in params {
                    if let old = try String.fetchOne(existing, arguments: [key, p.key]) {
                        if old != p.value {
                            throw EnsembleError.invalid(
                                "Changing param values is not allowed. Param with key='\(p.key)' was already logged with value='\(old)' for run ID='\(runID)'. Attempted logging new value '\(p.value)'."
                            )
                        }
                    } else {
                        try insert.execute(arguments: [key, p.key, p.value])
                    }
                }
            }
            if !tags.isEmpty {
                let upsert = try db.cachedStatement(sql: "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value")
                for t in tags {
                    try upsert.execute(arguments: [key, t.key, t.value])
                    if t.key == MLflowTags.runName {
                        try db.execute(sql: "UPDATE runs SET name = ? WHERE id = ?", arguments: [t.value, key])
                    }
                }
            }
            if !metrics.isEmpty { try Self.insertMetrics(db, run: key, metrics) }
        }
    }

    /// Stores metric points of one run (by row id): the points, the latest values moved forward, and
    /// the links of points logged for a model.
    static func insertMetrics(_ db: Database, run key: Int64, _ metrics: [Metric]) throws {
        let insert = try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO metrics (run_id, key, step, timestamp, value, is_nan, model_id, dataset_name, dataset_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        var latest: [String: Metric] = [:]
        let raw = RawStatement(insert, db)
        for m in metrics {
            let nan = m.value.isNaN
            raw.bind(1, key)
            raw.bind(2, m.key)
            raw.bind(3, m.step)
            raw.bind(4, m.timestamp)
            raw.bind(5, nan ? 0.0 : m.value)
            raw.bind(6, Int64(nan ? 1 : 0))
            raw.bind(7, m.modelID)
            raw.bind(8, m.datasetName)
            raw.bind(9, m.datasetDigest)
            try raw.run()
            if let current = latest[m.key], !Self.isLater(m, than: current) { continue }
            latest[m.key] = m
        }
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO latest_metrics (run_id, key, step, timestamp, value, is_nan) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (run_id, key) DO UPDATE SET step = excluded.step, timestamp = excluded.timestamp,
                    value = excluded.value, is_nan = excluded.is_nan
                WHERE (excluded.step, excluded.timestamp, excluded.value) > (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)
                """
        )
        for m in latest.values {
            let nan = m.value.isNaN
            try upsert.execute(arguments: [key, m.key, m.step, m.timestamp, nan ? 0.0 : m.value, nan ? 1 : 0])
        }
        let forModels = metrics.filter { $0.modelID != nil }
        if !forModels.isEmpty {
            let link = try db.cachedStatement(
                sql: """
                    INSERT OR IGNORE INTO logged_model_metrics (model_id, key, step, timestamp, value, is_nan, run_id, dataset_name, dataset_digest)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            )
            for m in forModels {
                let nan = m.value.isNaN
                try link.execute(arguments: [m.modelID, m.key, m.step, m.timestamp, nan ? 0.0 : m.value, nan ? 1 : 0, key, m.datasetName, m.datasetDigest])
            }
        }
    }

    /// Group commit for metric writes (the writing half; ``GroupCommitQueue`` gathers them): every
    /// request of the group in one transaction, each in a savepoint of its own, so a request for a
    /// missing or deleted run fails alone and the rest commit together.
    static func writeMetricGroup(_ group: [(runID: String, metrics: [Metric])], pool: DatabasePool) async -> [Result<Void, any Error>] {
        do {
            return try await pool.write { db in
                if group.count == 1 {
                    try insertMetrics(db, run: try activeRunKey(db, group[0].runID), group[0].metrics)
                    return [.success(())]
                }
                return group.map { request in
                    Result {
                        try db.inSavepoint {
                            try insertMetrics(db, run: try activeRunKey(db, request.runID), request.metrics)
                            return .commit
                        }
                    }
                }
            }
        } catch {
            // The transaction itself failed (or the lone request did): nothing of the group is stored.
            return group.map { _ in .failure(error) }
        }
    }

    /// MLflow's "latest" order: by step, then timestamp, then value (NaN counted as 0, as stored).
    static func isLater(_ a: Metric, than b: Metric) -> Bool {
        let av = a.value.isNaN ? 0 : a.value
        let bv = b.value.isNaN ? 0 : b.value
        return (a.step, a.timestamp, av) > (b.step, b.timestamp, bv)
    }

    public func deleteTag(runID: String, key tagKey: String) async throws {
        try await pool.write { db in
            let key = try Self.activeRunKey(db, runID)
            try db.execute(sql: "DELETE FROM tags WHERE run_id = ? AND key = ?", arguments: [key, tagKey])
            if db.changesCount == 0 {
                throw EnsembleError.notFound("No tag with name: \(tagKey) in run with id \(runID)")
            }
        }
    }

    public func logInputs(runID: String, datasets: [DatasetInput], modelIDs: [String]) async throws {
        try await pool.write { db in
            let key = try Self.activeRunKey(db, runID)
            let experimentKey = try Int64.fetchOne(db, sql: "SELECT experiment_id FROM runs WHERE id = ?", arguments: [key])!
            for input in datasets {
                let d = input.dataset
                try db.execute(
                    sql: """
                        INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (experiment_id, name, digest) DO NOTHING
                        """,
                    arguments: [experimentKey, d.name, d.digest, d.sourceType, d.source, d.schema, d.profile]
                )
                let datasetID = try Int64.fetchOne(
                    db, sql: "SELECT id FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?",
                    arguments: [experimentKey, d.name, d.digest]
                )!
                let position = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(position), -1) + 1 FROM run_dataset_inputs WHERE run_id = ?", arguments: [key])!
                try db.execute(
                    sql: "INSERT INTO run_dataset_inputs (run_id, dataset_id, position) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    arguments: [key, datasetID, position]
                )
                for t in input.tags {
                    try db.execute(
                        sql: "INSERT INTO input_tags (run_id, dataset_id, key, value) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value",
                        arguments: [key, datasetID, t.key, t.value]
                    )
                }
            }
            for model in modelIDs {
                try db.execute(sql: "INSERT INTO run_model_inputs (run_id, model_id) VALUES (?, ?) ON CONFLICT DO NOTHING", arguments: [key, model])
            }
        }
    }

    public func logOutputs(runID: String, models: [ModelOutput]) async throws {
        try await pool.write { db in
            let key = try Self.activeRunKey(db, runID)
            for m in models {
                try db.execute(
                    sql: "INSERT INTO run_model_outputs (run_id, model_id, step) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET step = excluded.step",
                    arguments: [key, m.modelID, m.step]
                )
            }
        }
    }

    public func datasetSummaries(experimentIDs: [String]) async throws -> [DatasetSummary] {
        let keys = try experimentIDs.map(Self.experimentKey)
        guard !keys.isEmpty else { return [] }
        return try await pool.read { db in
            let marks = Array(repeating: "?", count: keys.count).joined(separator: ",")
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT d.experiment_id, d.name, d.digest, t.value
                    FROM datasets d
                    JOIN run_dataset_inputs i ON i.dataset_id = d.id
                    LEFT JOIN input_tags t ON t.run_id = i.run_id AND t.dataset_id = d.id AND t.key = 'mlflow.data.context'
                    WHERE d.experiment_id IN (\(marks))
                    ORDER BY d.experiment_id, d.name, d.digest
                    LIMIT 1000
                    """,
                arguments: StatementArguments(keys)
            )
            return rows.map { DatasetSummary(experimentID: String($0[0] as Int64), name: $0[1], digest: $0[2], context: $0[3]) }
        }
    }

    // MARK: Helpers

    /// The row id of a run that may be written to, or the MLflow error for a missing or deleted run.
    static func activeRunKey(_ db: Database, _ runID: String) throws -> Int64 {
        let statement = try db.cachedStatement(sql: "SELECT id, lifecycle_stage FROM runs WHERE run_uuid = ?")
        guard let row = try Row.fetchOne(statement, arguments: [runID]) else {
            throw EnsembleError.runNotFound(runID)
        }
        let stage: String = row[1]
        guard stage == LifecycleStage.active.rawValue else {
            throw EnsembleError.invalid("The run \(runID) must be in the 'active' state. Current state is \(stage).")
        }
        return row[0]
    }

    static func newRunID() -> String {
        UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    static func appendPath(_ base: String, _ path: String) -> String {
        base.hasSuffix("/") ? base + path : base + "/" + path
    }

    /// Loads whole runs (info, latest metrics, params, tags, inputs, outputs) for row ids, in the
    /// order given, with one query per table rather than per run. The ids travel as one JSON array
    /// parameter (`json_each`), so each query is a single cached statement whatever the page size.
    static func loadRuns(_ db: Database, ids: [Int64], infoOnly: Bool = false) throws -> [Run] {
        guard !ids.isEmpty else { return [] }
        var runs: [Int64: Run] = [:]
        runs.reserveCapacity(ids.count)
        let idList = "[" + ids.map(String.init).joined(separator: ",") + "]"
        let inIDs = "IN (SELECT value FROM json_each(?))"

        func query(_ sql: String, _ row: (RawStatement) throws -> Void) throws {
            let raw = RawStatement(try db.cachedStatement(sql: sql), db)
            defer { raw.finish() }
            raw.bind(1, idList)
            while try raw.next() { try row(raw) }
        }

        try query(
            "SELECT id, run_uuid, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage FROM runs WHERE id \(inIDs)"
        ) { r in
            let endTime: Int64? = sqlite3_column_type(r.handle, 7) == SQLITE_NULL ? nil : r.int64(7)
            let info = RunInfo(
                runID: r.string(1) ?? "", runName: r.string(3) ?? "", experimentID: String(r.int64(2)), userID: r.string(4) ?? "",
                status: RunStatus(rawValue: r.string(5) ?? "") ?? .running, startTime: r.int64(6), endTime: endTime,
                artifactURI: r.string(8) ?? "", lifecycleStage: LifecycleStage(rawValue: r.string(9) ?? "") ?? .active
            )
            runs[r.int64(0)] = Run(info: info)
        }
        if infoOnly { return ids.compactMap { runs[$0] } }
        try query("SELECT run_id, key, value FROM params WHERE run_id \(inIDs) ORDER BY run_id, key") { r in
            runs[r.int64(0)]?.params.append(KeyValue(key: r.string(1) ?? "", value: r.string(2) ?? ""))
        }
        try query("SELECT run_id, key, value FROM tags WHERE run_id \(inIDs) ORDER BY run_id, key") { r in
            runs[r.int64(0)]?.tags.append(KeyValue(key: r.string(1) ?? "", value: r.string(2) ?? ""))
        }
        try query("SELECT run_id, key, step, timestamp, value, is_nan FROM latest_metrics WHERE run_id \(inIDs) ORDER BY run_id, key") { r in
            let value = r.int64(5) != 0 ? Double.nan : r.double(4)
            runs[r.int64(0)]?.metrics.append(Metric(key: r.string(1) ?? "", value: value, timestamp: r.int64(3), step: r.int64(2)))
        }
        var inputTags: [Int64: [Int64: [KeyValue]]] = [:]
        try query("SELECT run_id, dataset_id, key, value FROM input_tags WHERE run_id \(inIDs) ORDER BY key") { r in
            inputTags[r.int64(0), default: [:]][r.int64(1), default: []].append(KeyValue(key: r.string(2) ?? "", value: r.string(3) ?? ""))
        }
        try query(
            """
            SELECT i.run_id, i.dataset_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile
            FROM run_dataset_inputs i JOIN datasets d ON d.id = i.dataset_id
            WHERE i.run_id \(inIDs) ORDER BY i.run_id, i.position
            """
        ) { r in
            let dataset = Dataset(
                name: r.string(2) ?? "", digest: r.string(3) ?? "", sourceType: r.string(4) ?? "", source: r.string(5) ?? "",
                schema: r.string(6), profile: r.string(7)
            )
            let tags = inputTags[r.int64(0)]?[r.int64(1)] ?? []
            runs[r.int64(0)]?.datasetInputs.append(DatasetInput(dataset: dataset, tags: tags))
        }
        try query("SELECT run_id, model_id FROM run_model_inputs WHERE run_id \(inIDs) ORDER BY model_id") { r in
            runs[r.int64(0)]?.modelInputs.append(r.string(1) ?? "")
        }
        try query("SELECT run_id, model_id, step FROM run_model_outputs WHERE run_id \(inIDs) ORDER BY model_id") { r in
            runs[r.int64(0)]?.modelOutputs.append(ModelOutput(modelID: r.string(1) ?? "", step: r.int64(2)))
        }
        return ids.compactMap { runs[$0] }
    }
}

extension SQLiteStore {
    public func experimentID(owning id: String) async throws -> String? {
        try await pool.read { db in
            if let e = try Int64.fetchOne(db, sql: "SELECT experiment_id FROM runs WHERE run_uuid = ?", arguments: [id]) { return String(e) }
            return try Int64.fetchOne(db, sql: "SELECT experiment_id FROM logged_models WHERE model_id = ?", arguments: [id]).map(String.init)
        }
    }
}
