import EnsembleCore
import PostgresNIO

extension PostgresStore {
    public func createExperiment(name: String, artifactLocation: String?, tags: [KeyValue]) async throws -> String {
        try await transaction { [logger, artifactRootURI] db in
            if let stage = try await db.value("SELECT lifecycle_stage FROM experiments WHERE name = \(name)", String.self, logger: logger) {
                if stage == LifecycleStage.deleted.rawValue {
                    throw EnsembleError.alreadyExists("Experiment(name=\(name)) already exists in deleted state. Restore it, or choose another name.")
                }
                throw EnsembleError.alreadyExists("Experiment(name=\(name)) already exists. Choose another name, or use the existing experiment.")
            }
            let now = Self.now()
            // Two servers creating one name at once: the loser inserts nothing and is told it exists.
            guard
                let id = try await db.value(
                    """
                    INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time)
                    VALUES (\(name), '', 'active', \(now), \(now)) ON CONFLICT (name) DO NOTHING RETURNING experiment_id
                    """, Int64.self, logger: logger)
            else {
                throw EnsembleError.alreadyExists("Experiment(name=\(name)) already exists. Choose another name, or use the existing experiment.")
            }
            let location = artifactLocation ?? (artifactRootURI + String(id))
            try await db.run("UPDATE experiments SET artifact_location = \(location) WHERE experiment_id = \(id)", logger: logger)
            try await Self.upsertKeyValues(db, table: "experiment_tags", owner: "experiment_id", id, tags, logger: logger)
            return String(id)
        }
    }

    public func experiment(id: String) async throws -> Experiment {
        let key = try Self.experimentKey(id)
        return try await read { [logger] db in
            guard let e = try await Self.fetchExperiments(db, ids: [key], logger: logger).first else { throw EnsembleError.experimentNotFound(id) }
            return e
        }
    }

    public func experiment(named name: String) async throws -> Experiment? {
        try await read { [logger] db in
            let ids = try await db.column(
                "SELECT experiment_id FROM experiments WHERE name = \(name) ORDER BY lifecycle_stage = 'deleted' LIMIT 1", Int64.self, logger: logger)
            return try await Self.fetchExperiments(db, ids: ids, logger: logger).first
        }
    }

    public func renameExperiment(id: String, newName: String) async throws {
        let key = try Self.experimentKey(id)
        try await transaction { [logger] db in
            guard try await Self.experimentStage(db, key: key, id: id, logger: logger) == .active else {
                throw EnsembleError.invalid("Cannot rename a non-active experiment (id=\(id)). Restore it first.")
            }
            if let other = try await db.value("SELECT experiment_id FROM experiments WHERE name = \(newName)", Int64.self, logger: logger), other != key {
                throw EnsembleError.alreadyExists("Experiment(name=\(newName)) already exists. Choose another name.")
            }
            try await db.run("UPDATE experiments SET name = \(newName), last_update_time = \(Self.now()) WHERE experiment_id = \(key)", logger: logger)
        }
    }

    public func deleteExperiment(id: String) async throws {
        let key = try Self.experimentKey(id)
        try await transaction { [logger] db in
            _ = try await Self.experimentStage(db, key: key, id: id, logger: logger)
            let now = Self.now()
            try await db.run("UPDATE experiments SET lifecycle_stage = 'deleted', last_update_time = \(now) WHERE experiment_id = \(key)", logger: logger)
            try await db.run(
                "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = \(now) WHERE experiment_id = \(key) AND lifecycle_stage = 'active'", logger: logger)
        }
    }

    public func restoreExperiment(id: String) async throws {
        let key = try Self.experimentKey(id)
        try await transaction { [logger] db in
            _ = try await Self.experimentStage(db, key: key, id: id, logger: logger)
            try await db.run("UPDATE experiments SET lifecycle_stage = 'active', last_update_time = \(Self.now()) WHERE experiment_id = \(key)", logger: logger)
            try await db.run(
                "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE experiment_id = \(key) AND lifecycle_stage = 'deleted'", logger: logger)
        }
    }

    public func setExperimentTag(id: String, tag: KeyValue) async throws {
        let key = try Self.experimentKey(id)
        try await transaction { [logger] db in
            guard try await Self.experimentStage(db, key: key, id: id, logger: logger) == .active else {
                throw EnsembleError.invalid("The experiment \(id) must be in the 'active' state. Current state is deleted.")
            }
            try await Self.upsertKeyValues(db, table: "experiment_tags", owner: "experiment_id", key, [tag], logger: logger)
        }
    }

    public func deleteExperimentTag(id: String, key tagKey: String) async throws {
        let key = try Self.experimentKey(id)
        try await transaction { [logger] db in
            guard try await Self.experimentStage(db, key: key, id: id, logger: logger) == .active else {
                throw EnsembleError.invalid("The experiment \(id) must be in the 'active' state. Current state is deleted.")
            }
            if try await db.run("DELETE FROM experiment_tags WHERE experiment_id = \(key) AND key = \(tagKey)", logger: logger) == 0 {
                throw EnsembleError.notFound("No tag with name: \(tagKey) in experiment with id \(id)")
            }
        }
    }

    public func searchExperiments(_ search: ExperimentSearch) async throws -> Page<Experiment> {
        var q = SQLBuilder()
        var wheres = ["e.lifecycle_stage = ANY(\(q.bind(search.viewType.stages.map(\.rawValue)))::text[])"]
        for clause in search.filter {
            switch clause.key.type {
            case .tag:
                wheres.append(try PGPredicate.keyValueExists(table: "experiment_tags", owner: "t.experiment_id = e.experiment_id", clause: clause, &q))
            default:
                let column = "e." + clause.key.name
                if clause.key.name == "experiment_id" {
                    // Ids are integers in storage, strings on the wire.
                    switch clause.value {
                    case .string(let s):
                        wheres.append("CAST(\(column) AS TEXT) \(clause.comparator == .equal ? "=" : "!=") \(q.bind(s))")
                    case .list(let items):
                        let any = "CAST(\(column) AS TEXT) = ANY(\(q.bind(items))::text[])"
                        wheres.append(clause.comparator == .in ? any : "NOT (\(any))")
                    default:
                        throw EnsembleError.invalid("experiment_id must be compared with quoted strings")
                    }
                } else {
                    wheres.append(try PGPredicate.compare(column, clause: clause, &q))
                }
            }
        }
        var order: [String] = []
        var hasID = false
        for o in search.orderBy {
            let dir = o.ascending ? "ASC" : "DESC"
            switch o.key.name {
            case "name": order.append("e.name \(dir)")
            case "experiment_id":
                order.append("e.experiment_id \(dir)")
                hasID = true
            case "creation_time": order.append("e.creation_time \(dir)")
            case "last_update_time": order.append("e.last_update_time \(dir)")
            default:
                throw EnsembleError.invalid("Invalid order_by key '\(o.key.name)' for experiments. Use name, experiment_id, creation_time or last_update_time.")
            }
        }
        if search.orderBy.isEmpty { order.append("e.creation_time DESC") }
        if !hasID { order.append("e.experiment_id ASC") }
        let page = "LIMIT \(q.bind(Int64(search.maxResults + 1))) OFFSET \(q.bind(Int64(search.offset)))"
        q.append("SELECT e.experiment_id FROM experiments e WHERE \(wheres.joined(separator: " AND ")) ORDER BY \(order.joined(separator: ", ")) \(page)")
        let query = q.query
        return try await read { [logger] db in
            let ids = try await db.column(query, Int64.self, logger: logger)
            let page = PageToken.page(ids, offset: search.offset, limit: search.maxResults)
            return Page(items: try await Self.fetchExperiments(db, ids: page.items, logger: logger), nextPageToken: page.nextPageToken)
        }
    }

    // MARK: Helpers

    static func experimentKey(_ id: String) throws -> Int64 {
        guard let key = Int64(id), key >= 0 else { throw EnsembleError.invalid("Experiment ID must be a valid integer, got '\(id)'") }
        return key
    }

    static func experimentStage(_ db: PostgresConnection, key: Int64, id: String, logger: Logger) async throws -> LifecycleStage {
        guard let raw = try await db.value("SELECT lifecycle_stage FROM experiments WHERE experiment_id = \(key)", String.self, logger: logger) else {
            throw EnsembleError.experimentNotFound(id)
        }
        return LifecycleStage(rawValue: raw) ?? .active
    }

    /// The artifact location of an experiment new runs and models may be created in: not-found when it
    /// does not exist, invalid when it is deleted.
    static func activeExperimentLocation(_ db: PostgresConnection, key: Int64, id: String, logger: Logger) async throws -> String {
        guard
            let (location, stage) = try await db.rows(
                "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = \(key)", (String, String).self, logger: logger
            ).first
        else { throw EnsembleError.experimentNotFound(id) }
        guard stage == LifecycleStage.active.rawValue else {
            throw EnsembleError.invalid("The experiment \(id) must be in the 'active' state. Current state is deleted.")
        }
        return location
    }

    /// Whole experiments (with tags) for ids, in the order given.
    static func fetchExperiments(_ db: PostgresConnection, ids: [Int64], logger: Logger) async throws -> [Experiment] {
        guard !ids.isEmpty else { return [] }
        var byID: [Int64: Experiment] = [:]
        for (id, name, location, stage, created, updated) in try await db.rows(
            """
            SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time
            FROM experiments WHERE experiment_id = ANY(\(ids)::bigint[])
            """, (Int64, String, String, String, Int64, Int64).self, logger: logger)
        {
            byID[id] = Experiment(
                id: String(id), name: name, artifactLocation: location, lifecycleStage: LifecycleStage(rawValue: stage) ?? .active,
                creationTime: created, lastUpdateTime: updated)
        }
        for (id, key, value) in try await db.rows(
            "SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id = ANY(\(ids)::bigint[]) ORDER BY key", (Int64, String, String).self,
            logger: logger)
        {
            byID[id]?.tags.append(KeyValue(key: key, value: value))
        }
        return ids.compactMap { byID[$0] }
    }

    /// The last value of each key (as a batch applying in order would leave it), first-seen order.
    static func lastPerKey(_ items: [KeyValue]) -> [KeyValue] {
        var index: [String: Int] = [:]
        var out: [KeyValue] = []
        for kv in items {
            if let i = index[kv.key] { out[i] = kv } else {
                index[kv.key] = out.count
                out.append(kv)
            }
        }
        return out
    }

    /// Sets key/value rows of one owner in one statement (arrays unnested server-side).
    static func upsertKeyValues<Owner: PostgresDynamicTypeEncodable>(
        _ db: PostgresConnection, table: String, owner column: String, _ owner: Owner, _ items: [KeyValue], logger: Logger
    ) async throws {
        guard !items.isEmpty else { return }
        let rows = lastPerKey(items).sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        var q = SQLBuilder()
        let (o, k, v) = (q.bind(owner), q.bind(rows.map(\.key)), q.bind(rows.map(\.value)))
        q.append(
            """
            INSERT INTO \(table) (\(column), key, value) SELECT \(o), k, v FROM unnest(\(k)::text[], \(v)::text[]) AS u(k, v)
            ON CONFLICT (\(column), key) DO UPDATE SET value = EXCLUDED.value
            """)
        try await db.run(q.query, logger: logger)
    }

    static func appendPath(_ base: String, _ path: String) -> String {
        base.hasSuffix("/") ? base + path : base + "/" + path
    }
}
