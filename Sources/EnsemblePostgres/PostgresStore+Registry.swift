import EnsembleCore
import PostgresNIO

extension PostgresStore: RegistryStore {
    // MARK: Registered models

    public func createRegisteredModel(name: String, description: String?, tags: [KeyValue]) async throws -> RegisteredModel {
        try await transaction { [logger] db in
            let now = Self.now()
            // Two servers creating one name at once: the loser inserts nothing and is told it exists.
            let inserted = try await db.run(
                """
                INSERT INTO registered_models (name, creation_timestamp, last_updated_timestamp, description) VALUES (\(name), \(now), \(now), \(description))
                ON CONFLICT (name) DO NOTHING
                """, logger: logger)
            guard inserted == 1 else { throw EnsembleError.alreadyExists("Registered Model (name=\(name)) already exists.") }
            try await Self.upsertKeyValues(db, table: "registered_model_tags", owner: "name", name, tags, logger: logger)
            return try await Self.fetchRegisteredModels(db, names: [name], logger: logger)[0]
        }
    }

    public func registeredModel(name: String) async throws -> RegisteredModel {
        try await read { [logger] db in
            guard let model = try await Self.fetchRegisteredModels(db, names: [name], logger: logger).first else { throw Self.modelNotFound(name) }
            return model
        }
    }

    public func renameRegisteredModel(name: String, newName: String) async throws -> RegisteredModel {
        try await transaction { [logger] db in
            try await Self.requireModel(db, name, lock: true, logger: logger)
            if name != newName, try await Self.modelExists(db, newName, logger: logger) {
                throw EnsembleError.alreadyExists("Registered Model (name=\(newName)) already exists.")
            }
            // Versions, tags and aliases follow through ON UPDATE CASCADE; the history follows too.
            try await db.run("UPDATE registered_models SET name = \(newName), last_updated_timestamp = \(Self.now()) WHERE name = \(name)", logger: logger)
            try await db.run("UPDATE registry_events SET name = \(newName) WHERE name = \(name)", logger: logger)
            return try await Self.fetchRegisteredModels(db, names: [newName], logger: logger)[0]
        }
    }

    public func updateRegisteredModel(name: String, description: String?) async throws -> RegisteredModel {
        try await transaction { [logger] db in
            if try await db.run(
                "UPDATE registered_models SET description = \(description), last_updated_timestamp = \(Self.now()) WHERE name = \(name)", logger: logger) == 0
            {
                throw Self.modelNotFound(name)
            }
            return try await Self.fetchRegisteredModels(db, names: [name], logger: logger)[0]
        }
    }

    public func deleteRegisteredModel(name: String) async throws {
        try await transaction { [logger] db in
            if try await db.run("DELETE FROM registered_models WHERE name = \(name)", logger: logger) == 0 { throw Self.modelNotFound(name) }
        }
    }

    public func setRegisteredModelTag(name: String, tag: KeyValue) async throws {
        try await transaction { [logger] db in
            try await Self.requireModel(db, name, logger: logger)
            try await Self.upsertKeyValues(db, table: "registered_model_tags", owner: "name", name, [tag], logger: logger)
        }
    }

    public func deleteRegisteredModelTag(name: String, key: String) async throws {
        try await transaction { [logger] db in
            try await Self.requireModel(db, name, logger: logger)
            try await db.run("DELETE FROM registered_model_tags WHERE name = \(name) AND key = \(key)", logger: logger)
        }
    }

    public func searchRegisteredModels(_ search: RegistrySearch) async throws -> Page<RegisteredModel> {
        var q = SQLBuilder()
        var wheres = ["true"]
        for clause in search.filter {
            wheres.append(try Self.registryPredicate(clause, owner: "t.name = m.name", tagTable: "registered_model_tags", columnPrefix: "m.", &q))
        }
        var order: [String] = []
        for o in search.orderBy {
            let dir = o.ascending ? "ASC" : "DESC"
            switch o.key.name {
            case "name": order.append("m.name \(dir)")
            case "last_updated_timestamp": order.append("m.last_updated_timestamp \(dir)")
            case "creation_timestamp": order.append("m.creation_timestamp \(dir)")
            default: throw EnsembleError.invalid("Invalid order_by key '\(o.key.name)' for registered models. Use name or last_updated_timestamp.")
            }
        }
        order.append("m.name ASC")
        let page = "LIMIT \(q.bind(Int64(search.maxResults + 1))) OFFSET \(q.bind(Int64(search.offset)))"
        q.append("SELECT m.name FROM registered_models m WHERE \(wheres.joined(separator: " AND ")) ORDER BY \(order.joined(separator: ", ")) \(page)")
        let query = q.query
        return try await read { [logger] db in
            let names = try await db.column(query, String.self, logger: logger)
            let page = PageToken.page(names, offset: search.offset, limit: search.maxResults)
            return Page(items: try await Self.fetchRegisteredModels(db, names: page.items, logger: logger), nextPageToken: page.nextPageToken)
        }
    }

    public func latestVersions(name: String, stages: [ModelStage]) async throws -> [ModelVersion] {
        try await read { [logger] db in
            try await Self.requireModel(db, name, logger: logger)
            let wanted = stages.isEmpty ? ModelStage.allCases : stages
            return try await Self.latestVersions(db, name: name, logger: logger).filter { wanted.contains($0.currentStage) }
        }
    }

    // MARK: Versions

    public func createModelVersion(_ new: NewModelVersion, actor: String?) async throws -> ModelVersion {
        try await transaction { [logger] db in
            // The row lock makes concurrent creations on several servers take numbers in turn.
            guard
                let next = try await db.value(
                    "UPDATE registered_models SET next_version = next_version + 1, last_updated_timestamp = \(Self.now()) WHERE name = \(new.name) RETURNING next_version - 1",
                    Int64.self, logger: logger)
            else { throw Self.modelNotFound(new.name) }
            let now = Self.now()
            try await db.run(
                """
                INSERT INTO model_versions (name, version, creation_timestamp, last_updated_timestamp, current_stage, description, source, storage_location, run_id, run_link, model_id)
                VALUES (\(new.name), \(next), \(now), \(now), 'None', \(new.description), \(new.source), \(new.storageLocation), \(new.runID), \(new.runLink), \(new.modelID))
                """, logger: logger)
            if !new.tags.isEmpty {
                let tags = Self.lastPerKey(new.tags)
                try await db.run(
                    """
                    INSERT INTO model_version_tags (name, version, key, value)
                    SELECT \(new.name), \(next), k, v FROM unnest(\(tags.map(\.key))::text[], \(tags.map(\.value))::text[]) AS u(k, v)
                    """, logger: logger)
            }
            if let modelID = new.modelID {
                try await Self.recordRegistration(db, modelID: modelID, name: new.name, version: next, logger: logger)
            }
            try await Self.recordEvent(db, name: new.name, version: next, kind: .versionCreated, detail: new.source, actor: actor, timestamp: now, logger: logger)
            return try await Self.fetchVersion(db, new.name, next, logger: logger)
        }
    }

    public func modelVersion(name: String, version: Int64) async throws -> ModelVersion {
        try await read { [logger] db in try await Self.fetchVersion(db, name, version, logger: logger) }
    }

    public func updateModelVersion(name: String, version: Int64, description: String?) async throws -> ModelVersion {
        try await transaction { [logger] db in
            // A description edit bumps the version's timestamp only, not the registered model's.
            if try await db.run(
                "UPDATE model_versions SET description = \(description), last_updated_timestamp = \(Self.now()) WHERE name = \(name) AND version = \(version)",
                logger: logger) == 0
            {
                throw Self.versionNotFound(name, version)
            }
            return try await Self.fetchVersion(db, name, version, logger: logger)
        }
    }

    public func transitionStage(name: String, version: Int64, stage: ModelStage, archiveExisting: Bool, actor: String?) async throws -> ModelVersion {
        try await transaction { [logger] db in
            // The model's row is locked first, so two transitions of one model take turns.
            try await Self.requireModel(db, name, lock: true, logger: logger)
            let before = try await Self.fetchVersion(db, name, version, logger: logger)
            let now = Self.now()
            if archiveExisting, stage == .staging || stage == .production {
                let others = try await db.column(
                    "SELECT version FROM model_versions WHERE name = \(name) AND current_stage = \(stage.rawValue) AND version != \(version) ORDER BY version",
                    Int64.self, logger: logger)
                for other in others {
                    try await db.run(
                        "UPDATE model_versions SET current_stage = 'Archived', last_updated_timestamp = \(now) WHERE name = \(name) AND version = \(other)",
                        logger: logger)
                    try await Self.recordEvent(
                        db, name: name, version: other, kind: .stageChanged, detail: "\(stage.rawValue) -> Archived", actor: actor, timestamp: now, logger: logger)
                }
            }
            try await db.run(
                "UPDATE model_versions SET current_stage = \(stage.rawValue), last_updated_timestamp = \(now) WHERE name = \(name) AND version = \(version)",
                logger: logger)
            try await db.run("UPDATE registered_models SET last_updated_timestamp = \(now) WHERE name = \(name)", logger: logger)
            try await Self.recordEvent(
                db, name: name, version: version, kind: .stageChanged, detail: "\(before.currentStage.rawValue) -> \(stage.rawValue)", actor: actor,
                timestamp: now, logger: logger)
            return try await Self.fetchVersion(db, name, version, logger: logger)
        }
    }

    public func deleteModelVersion(name: String, version: Int64, actor: String?) async throws {
        try await transaction { [logger] db in
            // Aliases of the version go with it (ON DELETE CASCADE).
            if try await db.run("DELETE FROM model_versions WHERE name = \(name) AND version = \(version)", logger: logger) == 0 {
                throw Self.versionNotFound(name, version)
            }
            let now = Self.now()
            try await db.run("UPDATE registered_models SET last_updated_timestamp = \(now) WHERE name = \(name)", logger: logger)
            try await Self.recordEvent(db, name: name, version: version, kind: .versionDeleted, detail: "", actor: actor, timestamp: now, logger: logger)
        }
    }

    public func setModelVersionTag(name: String, version: Int64, tag: KeyValue) async throws {
        try await transaction { [logger] db in
            try await Self.requireVersion(db, name, version, logger: logger)
            try await db.run(
                """
                INSERT INTO model_version_tags (name, version, key, value) VALUES (\(name), \(version), \(tag.key), \(tag.value))
                ON CONFLICT (name, version, key) DO UPDATE SET value = EXCLUDED.value
                """, logger: logger)
        }
    }

    public func deleteModelVersionTag(name: String, version: Int64, key: String) async throws {
        try await transaction { [logger] db in
            try await Self.requireVersion(db, name, version, logger: logger)
            try await db.run("DELETE FROM model_version_tags WHERE name = \(name) AND version = \(version) AND key = \(key)", logger: logger)
        }
    }

    public func searchModelVersions(_ search: RegistrySearch) async throws -> Page<ModelVersion> {
        var q = SQLBuilder()
        var wheres = ["true"]
        for clause in search.filter {
            wheres.append(
                try Self.registryPredicate(clause, owner: "t.name = v.name AND t.version = v.version", tagTable: "model_version_tags", columnPrefix: "v.", &q))
        }
        var order: [String] = []
        for o in search.orderBy {
            let dir = o.ascending ? "ASC" : "DESC"
            switch o.key.name {
            case "name": order.append("v.name \(dir)")
            case "version_number": order.append("v.version \(dir)")
            case "creation_timestamp": order.append("v.creation_timestamp \(dir)")
            case "last_updated_timestamp": order.append("v.last_updated_timestamp \(dir)")
            default:
                throw EnsembleError.invalid(
                    "Invalid order_by key '\(o.key.name)' for model versions. Use name, version_number, creation_timestamp or last_updated_timestamp.")
            }
        }
        order += ["v.name ASC", "v.version DESC"]
        let page = "LIMIT \(q.bind(Int64(search.maxResults + 1))) OFFSET \(q.bind(Int64(search.offset)))"
        q.append("SELECT v.name, v.version FROM model_versions v WHERE \(wheres.joined(separator: " AND ")) ORDER BY \(order.joined(separator: ", ")) \(page)")
        let query = q.query
        return try await read { [logger] db in
            let keys = try await db.rows(query, (String, Int64).self, logger: logger)
            let page = PageToken.page(keys, offset: search.offset, limit: search.maxResults)
            var versions: [ModelVersion] = []
            for (name, version) in page.items { versions.append(try await Self.fetchVersion(db, name, version, logger: logger)) }
            return Page(items: versions, nextPageToken: page.nextPageToken)
        }
    }

    // MARK: Aliases and history

    public func setAlias(name: String, alias: String, version: Int64, actor: String?) async throws {
        try await transaction { [logger] db in
            try await Self.requireVersion(db, name, version, logger: logger)
            let previous = try await db.value(
                "SELECT version FROM registered_model_aliases WHERE name = \(name) AND alias = \(alias) FOR UPDATE", Int64.self, logger: logger)
            try await db.run(
                """
                INSERT INTO registered_model_aliases (name, alias, version) VALUES (\(name), \(alias), \(version))
                ON CONFLICT (name, alias) DO UPDATE SET version = EXCLUDED.version
                """, logger: logger)
            let detail = previous.map { "\(alias): \($0) -> \(version)" } ?? "\(alias) -> \(version)"
            try await Self.recordEvent(db, name: name, version: version, kind: .aliasSet, detail: detail, actor: actor, timestamp: Self.now(), logger: logger)
        }
    }

    public func deleteAlias(name: String, alias: String, actor: String?) async throws {
        try await transaction { [logger] db in
            try await Self.requireModel(db, name, logger: logger)
            let previous = try await db.value(
                "DELETE FROM registered_model_aliases WHERE name = \(name) AND alias = \(alias) RETURNING version", Int64.self, logger: logger)
            if let previous {
                try await Self.recordEvent(db, name: name, version: previous, kind: .aliasDeleted, detail: alias, actor: actor, timestamp: Self.now(), logger: logger)
            }
        }
    }

    public func versionByAlias(name: String, alias: String) async throws -> ModelVersion {
        try await read { [logger] db in
            try await Self.requireModel(db, name, logger: logger)
            guard
                let version = try await db.value(
                    "SELECT version FROM registered_model_aliases WHERE name = \(name) AND alias = \(alias)", Int64.self, logger: logger)
            else { throw EnsembleError.invalid("Registered model alias \(alias) not found.") }
            return try await Self.fetchVersion(db, name, version, logger: logger)
        }
    }

    public func registryEvents(name: String) async throws -> [RegistryEvent] {
        try await read { [logger] db in
            try await db.rows(
                "SELECT name, version, kind, detail, actor, timestamp FROM registry_events WHERE name = \(name) ORDER BY id",
                (String, Int64?, String, String, String?, Int64).self, logger: logger
            ).map {
                // An unknown kind (written by a newer Ensemble) reads as a stage change.
                RegistryEvent(name: $0.0, version: $0.1, kind: RegistryEvent.Kind(rawValue: $0.2) ?? .stageChanged, detail: $0.3, actor: $0.4, timestamp: $0.5)
            }
        }
    }

    // MARK: Helpers

    static func modelNotFound(_ name: String) -> EnsembleError { .notFound("Registered Model with name=\(name) not found") }
    static func versionNotFound(_ name: String, _ version: Int64) -> EnsembleError {
        .notFound("Model Version (name=\(name), version=\(version)) not found")
    }

    static func modelExists(_ db: PostgresConnection, _ name: String, logger: Logger) async throws -> Bool {
        try await db.value("SELECT 1::bigint FROM registered_models WHERE name = \(name)", Int64.self, logger: logger) != nil
    }

    /// Throws not-found for a missing model; `lock` holds its row to the end of the transaction.
    static func requireModel(_ db: PostgresConnection, _ name: String, lock: Bool = false, logger: Logger) async throws {
        let found =
            lock
            ? try await db.value("SELECT 1::bigint FROM registered_models WHERE name = \(name) FOR UPDATE", Int64.self, logger: logger)
            : try await db.value("SELECT 1::bigint FROM registered_models WHERE name = \(name)", Int64.self, logger: logger)
        guard found != nil else { throw modelNotFound(name) }
    }

    static func requireVersion(_ db: PostgresConnection, _ name: String, _ version: Int64, logger: Logger) async throws {
        guard try await db.value("SELECT 1::bigint FROM model_versions WHERE name = \(name) AND version = \(version)", Int64.self, logger: logger) != nil else {
            throw versionNotFound(name, version)
        }
    }

    static func recordEvent(
        _ db: PostgresConnection, name: String, version: Int64?, kind: RegistryEvent.Kind, detail: String, actor: String?, timestamp: Int64, logger: Logger
    ) async throws {
        try await db.run(
            "INSERT INTO registry_events (name, version, kind, detail, actor, timestamp) VALUES (\(name), \(version), \(kind.rawValue), \(detail), \(actor), \(timestamp))",
            logger: logger)
    }

    /// Adds `{name, version}` to the logged model's `mlflow.modelVersions` tag (``ModelVersionsTag``).
    static func recordRegistration(_ db: PostgresConnection, modelID: String, name: String, version: Int64, logger: Logger) async throws {
        // The model's row is locked, so two registrations of one model do not lose each other's entry.
        guard try await db.value("SELECT model_id FROM logged_models WHERE model_id = \(modelID) FOR UPDATE", String.self, logger: logger) != nil else { return }
        let existing = try await db.value(
            "SELECT value FROM logged_model_tags WHERE model_id = \(modelID) AND key = \(ModelVersionsTag.key)", String.self, logger: logger)
        let value = ModelVersionsTag.adding(name: name, version: version, to: existing)
        try await upsertKeyValues(db, table: "logged_model_tags", owner: "model_id", modelID, [KeyValue(key: ModelVersionsTag.key, value: value)], logger: logger)
    }

    /// A registry filter clause: attributes on the model/version row, tags through the tag table.
    /// The MLflow client's prompt guard ``tag.`mlflow.prompt.is_prompt` != 'true'`` means "not a
    /// prompt", so models without the tag match it.
    static func registryPredicate(_ clause: SearchClause, owner: String, tagTable: String, columnPrefix: String, _ q: inout SQLBuilder) throws -> String {
        switch clause.key.type {
        case .tag:
            if clause.key.name == "mlflow.prompt.is_prompt", clause.comparator == .notEqual, case .string(let value) = clause.value {
                return "NOT EXISTS (SELECT 1 FROM \(tagTable) t WHERE \(owner) AND t.key = \(q.bind(clause.key.name)) AND t.value = \(q.bind(value)))"
            }
            return try PGPredicate.keyValueExists(table: tagTable, owner: owner, clause: clause, &q)
        case .attribute:
            let column: String
            switch clause.key.name {
            case "version_number": column = "version"
            case "source_path": column = "source"
            default: column = clause.key.name
            }
            return try PGPredicate.compare(columnPrefix + column, clause: clause, &q)
        default:
            throw EnsembleError.invalid("The registry can be searched by name, tags and version attributes only.")
        }
    }

    static func fetchRegisteredModels(_ db: PostgresConnection, names: [String], logger: Logger) async throws -> [RegisteredModel] {
        var result: [RegisteredModel] = []
        for name in names {
            guard
                let row = try await db.rows(
                    "SELECT name, creation_timestamp, last_updated_timestamp, description FROM registered_models WHERE name = \(name)",
                    (String, Int64, Int64, String?).self, logger: logger
                ).first
            else { continue }
            var model = RegisteredModel(name: row.0, creationTimestamp: row.1, lastUpdatedTimestamp: row.2, description: row.3)
            model.tags = try await db.rows(
                "SELECT key, value FROM registered_model_tags WHERE name = \(name) ORDER BY key", (String, String).self, logger: logger
            ).map { KeyValue(key: $0.0, value: $0.1) }
            model.aliases = try await db.rows(
                "SELECT alias, version FROM registered_model_aliases WHERE name = \(name) ORDER BY alias", (String, Int64).self, logger: logger
            ).map { KeyValue(key: $0.0, value: String($0.1)) }
            model.latestVersions = try await latestVersions(db, name: name, logger: logger)
            result.append(model)
        }
        return result
    }

    /// The highest version in each stage that has one, ordered by stage.
    static func latestVersions(_ db: PostgresConnection, name: String, logger: Logger) async throws -> [ModelVersion] {
        var byStage: [String: Int64] = [:]
        for (stage, version) in try await db.rows(
            "SELECT current_stage, MAX(version) FROM model_versions WHERE name = \(name) GROUP BY current_stage", (String, Int64).self, logger: logger)
        {
            byStage[stage] = version
        }
        var out: [ModelVersion] = []
        for stage in ModelStage.allCases {
            if let version = byStage[stage.rawValue] { out.append(try await fetchVersion(db, name, version, logger: logger)) }
        }
        return out
    }

    static func fetchVersion(_ db: PostgresConnection, _ name: String, _ version: Int64, logger: Logger) async throws -> ModelVersion {
        guard
            let row = try await db.rows(
                """
                SELECT creation_timestamp, last_updated_timestamp, current_stage, description, source, storage_location, run_id, run_link, model_id
                FROM model_versions WHERE name = \(name) AND version = \(version)
                """, (Int64, Int64, String, String?, String, String, String?, String?, String?).self, logger: logger
            ).first
        else { throw versionNotFound(name, version) }
        var v = ModelVersion(
            name: name, version: version, creationTimestamp: row.0, lastUpdatedTimestamp: row.1, currentStage: ModelStage(rawValue: row.2) ?? .none,
            description: row.3, source: row.4, runID: row.6, runLink: row.7, modelID: row.8, storageLocation: row.5)
        v.tags = try await db.rows(
            "SELECT key, value FROM model_version_tags WHERE name = \(name) AND version = \(version) ORDER BY key", (String, String).self, logger: logger
        ).map { KeyValue(key: $0.0, value: $0.1) }
        v.aliases = try await db.column(
            "SELECT alias FROM registered_model_aliases WHERE name = \(name) AND version = \(version) ORDER BY alias", String.self, logger: logger)
        return v
    }
}
