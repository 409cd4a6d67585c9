import EnsembleCore
import Foundation
import PostgresNIO

extension PostgresStore: LoggedModelStore {
    public func createLoggedModel(_ new: NewLoggedModel) async throws -> LoggedModel {
        let experimentKey = try Self.experimentKey(new.experimentID)
        let modelID = "m-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        return try await transaction { [logger] db in
            let location = try await Self.activeExperimentLocation(db, key: experimentKey, id: new.experimentID, logger: logger)
            // A source run is a reference, not a foreign key, as in MLflow.
            let now = Self.now()
            let artifactURI = Self.appendPath(location, "models/\(modelID)/artifacts")
            try await db.run(
                """
                INSERT INTO logged_models (model_id, experiment_id, name, model_type, source_run_id, status, artifact_uri, lifecycle_stage, creation_timestamp, last_updated_timestamp)
                VALUES (\(modelID), \(experimentKey), \(new.name ?? RunNames.random()), \(new.modelType), \(new.sourceRunID), 'LOGGED_MODEL_PENDING', \(artifactURI), 'active', \(now), \(now))
                """, logger: logger)
            try await Self.upsertKeyValues(db, table: "logged_model_tags", owner: "model_id", modelID, new.tags, logger: logger)
            try await Self.upsertKeyValues(db, table: "logged_model_params", owner: "model_id", modelID, new.params, logger: logger)
            return try await Self.fetchLoggedModels(db, ids: [modelID], logger: logger)[0]
        }
    }

    public func loggedModel(id: String, allowDeleted: Bool) async throws -> LoggedModel {
        try await read { [logger] db in
            guard let model = try await Self.fetchLoggedModels(db, ids: [id], logger: logger).first, allowDeleted || model.lifecycleStage == .active else {
                throw EnsembleError.notFound("Logged model with ID '\(id)' not found.")
            }
            return model
        }
    }

    public func finalizeLoggedModel(id: String, status: LoggedModel.Status) async throws -> LoggedModel {
        try await transaction { [logger] db in
            try await Self.requireActiveModel(db, id, logger: logger)
            try await db.run("UPDATE logged_models SET status = \(status.rawValue), last_updated_timestamp = \(Self.now()) WHERE model_id = \(id)", logger: logger)
            return try await Self.fetchLoggedModels(db, ids: [id], logger: logger)[0]
        }
    }

    public func deleteLoggedModel(id: String) async throws {
        try await transaction { [logger] db in
            try await Self.requireActiveModel(db, id, logger: logger)
            try await db.run(
                "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp = \(Self.now()) WHERE model_id = \(id)", logger: logger)
        }
    }

    public func setLoggedModelTags(id: String, tags: [KeyValue]) async throws {
        try await transaction { [logger] db in
            try await Self.requireActiveModel(db, id, logger: logger)
            try await Self.upsertKeyValues(db, table: "logged_model_tags", owner: "model_id", id, tags, logger: logger)
            try await db.run("UPDATE logged_models SET last_updated_timestamp = \(Self.now()) WHERE model_id = \(id)", logger: logger)
        }
    }

    public func deleteLoggedModelTag(id: String, key: String) async throws {
        try await transaction { [logger] db in
            try await Self.requireActiveModel(db, id, logger: logger)
            if try await db.run("DELETE FROM logged_model_tags WHERE model_id = \(id) AND key = \(key)", logger: logger) == 0 {
                throw EnsembleError.notFound("No tag with key '\(key)' found for logged model with ID '\(id)'.")
            }
        }
    }

    public func logLoggedModelParams(id: String, params: [KeyValue]) async throws {
        try await transaction { [logger] db in
            try await Self.requireActiveModel(db, id, logger: logger)
            try await Self.upsertKeyValues(db, table: "logged_model_params", owner: "model_id", id, params, logger: logger)
        }
    }

    public func searchLoggedModels(_ search: LoggedModelSearch) async throws -> Page<LoggedModel> {
        let keys = try search.experimentIDs.map(Self.experimentKey)
        guard !keys.isEmpty else { return Page(items: [], nextPageToken: nil) }
        var q = SQLBuilder()
        var wheres = ["m.experiment_id = ANY(\(q.bind(keys))::bigint[])", "m.lifecycle_stage = 'active'"]
        for clause in search.filter {
            switch clause.key.type {
            case .tag:
                wheres.append(try PGPredicate.keyValueExists(table: "logged_model_tags", owner: "t.model_id = m.model_id", clause: clause, &q))
            case .param:
                wheres.append(try PGPredicate.keyValueExists(table: "logged_model_params", owner: "t.model_id = m.model_id", clause: clause, &q))
            case .metric:
                // A model's metric is its latest point (max step, then timestamp) logged with its id,
                // among the points logged against the requested datasets when there are any.
                let key = q.bind(clause.key.name)
                var datasetFilter = ""
                if !search.datasets.isEmpty {
                    var alternatives: [String] = []
                    for d in search.datasets {
                        let name = q.bind(d.name)
                        if let digest = d.digest {
                            alternatives.append("(dataset_name = \(name) AND dataset_digest = \(q.bind(digest)))")
                        } else {
                            alternatives.append("dataset_name = \(name)")
                        }
                    }
                    datasetFilter = " AND (" + alternatives.joined(separator: " OR ") + ")"
                }
                let predicate = try PGPredicate.compare("mm.value", clause: clause, &q)
                wheres.append(
                    """
                    EXISTS (SELECT 1 FROM (SELECT value, is_nan FROM logged_model_metrics WHERE model_id = m.model_id AND key = \(key)\(datasetFilter)
                        ORDER BY step DESC, timestamp DESC LIMIT 1) mm WHERE NOT mm.is_nan AND \(predicate))
                    """)
            case .attribute:
                wheres.append(try PGPredicate.compare("m.\(clause.key.name)", clause: clause, &q))
            case .dataset:
                throw EnsembleError.invalid("Logged models cannot be filtered by datasets yet.")
            }
        }
        var order: [String] = []
        for o in search.orderBy {
            guard o.key.type == .attribute else {
                throw EnsembleError.invalid(
                    "Logged models can be ordered by name, model_id, model_type, status, source_run_id, creation_timestamp or last_updated_timestamp.")
            }
            order.append("m.\(o.key.name) \(o.ascending ? "ASC" : "DESC")")
        }
        order += ["m.creation_timestamp DESC", "m.model_id ASC"]
        let page = "LIMIT \(q.bind(Int64(search.maxResults + 1))) OFFSET \(q.bind(Int64(search.offset)))"
        q.append("SELECT m.model_id FROM logged_models m WHERE \(wheres.joined(separator: " AND ")) ORDER BY \(order.joined(separator: ", ")) \(page)")
        let query = q.query
        return try await read { [logger] db in
            let ids = try await db.column(query, String.self, logger: logger)
            let page = PageToken.page(ids, offset: search.offset, limit: search.maxResults)
            return Page(items: try await Self.fetchLoggedModels(db, ids: page.items, logger: logger), nextPageToken: page.nextPageToken)
        }
    }

    // MARK: Helpers

    static func requireActiveModel(_ db: PostgresConnection, _ id: String, logger: Logger) async throws {
        guard let stage = try await db.value("SELECT lifecycle_stage FROM logged_models WHERE model_id = \(id)", String.self, logger: logger),
            stage == LifecycleStage.active.rawValue
        else { throw EnsembleError.notFound("Logged model with ID '\(id)' not found.") }
    }

    /// Whole logged models (tags, params, metrics) for ids, in the order given.
    static func fetchLoggedModels(_ db: PostgresConnection, ids: [String], logger: Logger) async throws -> [LoggedModel] {
        guard !ids.isEmpty else { return [] }
        var models: [String: LoggedModel] = [:]
        for row in try await db.rows(
            """
            SELECT model_id, experiment_id, name, artifact_uri, status, status_message, model_type, source_run_id,
                   creation_timestamp, last_updated_timestamp, lifecycle_stage
            FROM logged_models WHERE model_id = ANY(\(ids)::text[])
            """, (String, Int64, String, String, String, String?, String?, String?, Int64, Int64, String).self, logger: logger)
        {
            models[row.0] = LoggedModel(
                modelID: row.0, experimentID: String(row.1), name: row.2, artifactURI: row.3, status: LoggedModel.Status(rawValue: row.4) ?? .pending,
                statusMessage: row.5, modelType: row.6, sourceRunID: row.7, creationTimestamp: row.8, lastUpdatedTimestamp: row.9,
                lifecycleStage: LifecycleStage(rawValue: row.10) ?? .active)
        }
        for (id, key, value) in try await db.rows(
            "SELECT model_id, key, value FROM logged_model_tags WHERE model_id = ANY(\(ids)::text[]) ORDER BY key", (String, String, String).self, logger: logger)
        {
            models[id]?.tags.append(KeyValue(key: key, value: value))
        }
        for (id, key, value) in try await db.rows(
            "SELECT model_id, key, value FROM logged_model_params WHERE model_id = ANY(\(ids)::text[]) ORDER BY key", (String, String, String).self, logger: logger)
        {
            models[id]?.params.append(KeyValue(key: key, value: value))
        }
        for row in try await db.rows(
            """
            SELECT m.model_id, m.key, m.value, m.is_nan, m.timestamp, m.step, r.run_uuid, m.dataset_name, m.dataset_digest
            FROM logged_model_metrics m JOIN runs r ON r.id = m.run_id
            WHERE m.model_id = ANY(\(ids)::text[]) ORDER BY m.key, m.step, m.timestamp
            """, (String, String, Double, Bool, Int64, Int64, String, String?, String?).self, logger: logger)
        {
            models[row.0]?.metrics.append(
                Metric(
                    key: row.1, value: row.3 ? .nan : row.2, timestamp: row.4, step: row.5, modelID: row.0, datasetName: row.7, datasetDigest: row.8,
                    runID: row.6))
        }
        return ids.compactMap { models[$0] }
    }
}
