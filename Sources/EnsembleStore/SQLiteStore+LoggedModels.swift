import EnsembleCore
import Foundation
import GRDB

extension SQLiteStore: LoggedModelStore {
    public func createLoggedModel(_ new: NewLoggedModel) async throws -> LoggedModel {
        let experimentKey = try Self.experimentKey(new.experimentID)
        let modelID = "m-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        return try await pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = ?", arguments: [experimentKey]) else {
                throw EnsembleError.experimentNotFound(new.experimentID)
            }
            guard (row[1] as String) == LifecycleStage.active.rawValue else {
                throw EnsembleError.invalid("The experiment \(new.experimentID) must be in the 'active' state. Current state is deleted.")
            }
            // A source run that does not exist (yet, or any more) is stored as given, as MLflow does:
            // the id is a reference, not a foreign key.
            let now = Self.now()
            let artifactURI = Self.appendPath(row[0], "models/\(modelID)/artifacts")
            try db.execute(
                sql: """
                    INSERT INTO logged_models (model_id, experiment_id, name, model_type, source_run_id, status, artifact_uri, lifecycle_stage, creation_timestamp, last_updated_timestamp)
                    VALUES (?, ?, ?, ?, ?, 'LOGGED_MODEL_PENDING', ?, 'active', ?, ?)
                    """,
                arguments: [modelID, experimentKey, new.name ?? RunNames.random(), new.modelType, new.sourceRunID, artifactURI, now, now]
            )
            try Self.upsert(db, table: "logged_model_tags", modelID: modelID, new.tags)
            try Self.upsert(db, table: "logged_model_params", modelID: modelID, new.params)
            return try Self.fetchLoggedModels(db, ids: [modelID])[0]
        }
    }

    public func loggedModel(id: String, allowDeleted: Bool) async throws -> LoggedModel {
        try await pool.read { db in
            guard let model = try Self.fetchLoggedModels(db, ids: [id]).first, allowDeleted || model.lifecycleStage == .active else {
                throw EnsembleError.notFound("Logged model with ID '\(id)' not found.")
            }
            return model
        }
    }

    public func finalizeLoggedModel(id: String, status: LoggedModel.Status) async throws -> LoggedModel {
        try await pool.write { db in
            try Self.requireActiveModel(db, id)
            try db.execute(
                sql: "UPDATE logged_models SET status = ?, last_updated_timestamp = ? WHERE model_id = ?",
                arguments: [status.rawValue, Self.now(), id]
            )
            return try Self.fetchLoggedModels(db, ids: [id])[0]
        }
    }

    public func deleteLoggedModel(id: String) async throws {
        try await pool.write { db in
            try Self.requireActiveModel(db, id)
            try db.execute(
                sql: "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp = ? WHERE model_id = ?",
                arguments: [Self.now(), id]
            )
        }
    }

    public func setLoggedModelTags(id: String, tags: [KeyValue]) async throws {
        try await pool.write { db in
            try Self.requireActiveModel(db, id)
            try Self.upsert(db, table: "logged_model_tags", modelID: id, tags)
            try db.execute(sql: "UPDATE logged_models SET last_updated_timestamp = ? WHERE model_id = ?", arguments: [Self.now(), id])
        }
    }

    public func deleteLoggedModelTag(id: String, key: String) async throws {
        try await pool.write { db in
            try Self.requireActiveModel(db, id)
            try db.execute(sql: "DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?", arguments: [id, key])
            if db.changesCount == 0 {
                throw EnsembleError.notFound("No tag with key '\(key)' found for logged model with ID '\(id)'.")
            }
        }
    }

    public func logLoggedModelParams(id: String, params: [KeyValue]) async throws {
        try await pool.write { db in
            try Self.requireActiveModel(db, id)
            try Self.upsert(db, table: "logged_model_params", modelID: id, params)
        }
    }

    public func searchLoggedModels(_ search: LoggedModelSearch) async throws -> Page<LoggedModel> {
        let keys = try search.experimentIDs.map(Self.experimentKey)
        guard !keys.isEmpty else { return Page(items: [], nextPageToken: nil) }
        var args: [DatabaseValue] = keys.map(\.databaseValue)
        var wheres = [
            "m.experiment_id IN (\(Array(repeating: "?", count: keys.count).joined(separator: ",")))",
            "m.lifecycle_stage = 'active'",
        ]
        for clause in search.filter {
            switch clause.key.type {
            case .tag:
                wheres.append(try SQLPredicate.keyValueExists(table: "logged_model_tags", owner: "t.model_id = m.model_id", clause: clause, args: &args))
            case .param:
                wheres.append(try SQLPredicate.keyValueExists(table: "logged_model_params", owner: "t.model_id = m.model_id", clause: clause, args: &args))
            case .metric:
                // A model's metric is its latest point (max step, then timestamp) logged with its id,
                // among the points logged against the requested datasets when there are any.
                args.append(clause.key.name.databaseValue)
                var datasetFilter = ""
                if !search.datasets.isEmpty {
                    var alternatives: [String] = []
                    for d in search.datasets {
                        args.append(d.name.databaseValue)
                        if let digest = d.digest {
                            args.append(digest.databaseValue)
                            alternatives.append("(dataset_name = ? AND dataset_digest = ?)")
                        } else {
                            alternatives.append("dataset_name = ?")
                        }
                    }
                    datasetFilter = " AND (" + alternatives.joined(separator: " OR ") + ")"
                }
                let predicate = try SQLPredicate.compare("mm.value", clause: clause, args: &args)
                wheres.append(
                    """
                    EXISTS (SELECT 1 FROM (SELECT value, is_nan FROM logged_model_metrics WHERE model_id = m.model_id AND key = ?\(datasetFilter)
                        ORDER BY step DESC, timestamp DESC LIMIT 1) mm WHERE mm.is_nan = 0 AND \(predicate))
                    """
                )
            case .attribute:
                wheres.append(try SQLPredicate.compare("m.\(clause.key.name)", clause: clause, args: &args))
            case .dataset:
                throw EnsembleError.invalid("Logged models cannot be filtered by datasets yet.")
            }
        }
        var order: [String] = []
        for o in search.orderBy {
            guard o.key.type == .attribute else {
                throw EnsembleError.invalid("Logged models can be ordered by name, model_id, model_type, status, source_run_id, creation_timestamp or last_updated_timestamp.")
            }
            order.append("m.\(o.key.name) \(o.ascending ? "ASC" : "DESC")")
        }
        order += ["m.creation_timestamp DESC", "m.model_id ASC"]
        args += [(search.maxResults + 1).databaseValue, search.offset.databaseValue]
        let sql = "SELECT m.model_id FROM logged_models m WHERE \(wheres.joined(separator: " AND ")) ORDER BY \(order.joined(separator: ", ")) LIMIT ? OFFSET ?"
        let finalArgs = args
        return try await pool.read { db in
            let ids = try String.fetchAll(db, sql: sql, arguments: StatementArguments(finalArgs))
            let page = PageToken.page(ids, offset: search.offset, limit: search.maxResults)
            return Page(items: try Self.fetchLoggedModels(db, ids: page.items), nextPageToken: page.nextPageToken)
        }
    }

    // MARK: Helpers

    static func requireActiveModel(_ db: Database, _ id: String) throws {
        guard let stage = try String.fetchOne(db, sql: "SELECT lifecycle_stage FROM logged_models WHERE model_id = ?", arguments: [id]),
            stage == LifecycleStage.active.rawValue
        else {
            throw EnsembleError.notFound("Logged model with ID '\(id)' not found.")
        }
    }

    static func upsert(_ db: Database, table: String, modelID: String, _ items: [KeyValue]) throws {
        guard !items.isEmpty else { return }
        let statement = try db.cachedStatement(sql: "INSERT INTO \(table) (model_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value")
        for kv in items { try statement.execute(arguments: [modelID, kv.key, kv.value]) }
    }

    /// Whole logged models (tags, params, metrics) for ids, in the order given.
    static func fetchLoggedModels(_ db: Database, ids: [String]) throws -> [LoggedModel] {
        guard !ids.isEmpty else { return [] }
        let idList = String(decoding: try JSONSerialization.data(withJSONObject: ids), as: UTF8.self)
        let inIDs = "IN (SELECT value FROM json_each(?))"
        var models: [String: LoggedModel] = [:]
        for row in try Row.fetchAll(
            db,
            sql: """
                SELECT model_id, experiment_id, name, artifact_uri, status, status_message, model_type, source_run_id,
                       creation_timestamp, last_updated_timestamp, lifecycle_stage
                FROM logged_models WHERE model_id \(inIDs)
                """,
            arguments: [idList]
        ) {
            let id: String = row[0]
            models[id] = LoggedModel(
                modelID: id, experimentID: String(row[1] as Int64), name: row[2], artifactURI: row[3],
                status: LoggedModel.Status(rawValue: row[4]) ?? .pending, statusMessage: row[5], modelType: row[6], sourceRunID: row[7],
                creationTimestamp: row[8], lastUpdatedTimestamp: row[9], lifecycleStage: LifecycleStage(rawValue: row[10]) ?? .active
            )
        }
        for row in try Row.fetchAll(db, sql: "SELECT model_id, key, value FROM logged_model_tags WHERE model_id \(inIDs) ORDER BY key", arguments: [idList]) {
            models[row[0]]?.tags.append(KeyValue(key: row[1], value: row[2]))
        }
        for row in try Row.fetchAll(db, sql: "SELECT model_id, key, value FROM logged_model_params WHERE model_id \(inIDs) ORDER BY key", arguments: [idList]) {
            models[row[0]]?.params.append(KeyValue(key: row[1], value: row[2]))
        }
        for row in try Row.fetchAll(
            db,
            sql: """
                SELECT m.model_id, m.key, m.value, m.is_nan, m.timestamp, m.step, r.run_uuid, m.dataset_name, m.dataset_digest
                FROM logged_model_metrics m JOIN runs r ON r.id = m.run_id
                WHERE m.model_id \(inIDs) ORDER BY m.key, m.step, m.timestamp
                """,
            arguments: [idList]
        ) {
            let isNaN: Bool = row[3]
            models[row[0]]?.metrics.append(
                Metric(key: row[1], value: isNaN ? .nan : row[2], timestamp: row[4], step: row[5], modelID: row[0], datasetName: row[7], datasetDigest: row[8], runID: row[6])
            )
        }
        return ids.compactMap { models[$0] }
    }
}
