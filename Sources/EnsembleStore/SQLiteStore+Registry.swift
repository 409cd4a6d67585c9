import EnsembleCore
import Foundation
import GRDB

extension SQLiteStore: RegistryStore {
    // MARK: Registered models

    public func createRegisteredModel(name: String, description: String?, tags: [KeyValue]) async throws -> RegisteredModel {
        try await pool.write { db in
            if try Self.modelExists(db, name) {
                throw EnsembleError.alreadyExists("Registered Model (name=\(name)) already exists.")
            }
            let now = Self.now()
            try db.execute(
                sql: "INSERT INTO registered_models (name, creation_timestamp, last_updated_timestamp, description) VALUES (?, ?, ?, ?)",
                arguments: [name, now, now, description]
            )
            for tag in tags { try Self.setTag(db, table: "registered_model_tags", owner: ["name": name], tag) }
            return try Self.fetchRegisteredModels(db, names: [name])[0]
        }
    }

    public func registeredModel(name: String) async throws -> RegisteredModel {
        try await pool.read { db in
            guard let model = try Self.fetchRegisteredModels(db, names: [name]).first else { throw Self.modelNotFound(name) }
            return model
        }
    }

    public func renameRegisteredModel(name: String, newName: String) async throws -> RegisteredModel {
        try await pool.write { db in
            try Self.requireModel(db, name)
            if name != newName, try Self.modelExists(db, newName) {
                throw EnsembleError.alreadyExists("Registered Model (name=\(newName)) already exists.")
            }
            // Versions, tags and aliases follow through ON UPDATE CASCADE; the history follows too.
            try db.execute(
                sql: "UPDATE registered_models SET name = ?, last_updated_timestamp = ? WHERE name = ?",
                arguments: [newName, Self.now(), name]
            )
            try db.execute(sql: "UPDATE registry_events SET name = ? WHERE name = ?", arguments: [newName, name])
            return try Self.fetchRegisteredModels(db, names: [newName])[0]
        }
    }

    public func updateRegisteredModel(name: String, description: String?) async throws -> RegisteredModel {
        try await pool.write { db in
            try Self.requireModel(db, name)
            try db.execute(
                sql: "UPDATE registered_models SET description = ?, last_updated_timestamp = ? WHERE name = ?",
                arguments: [description, Self.now(), name]
            )
            return try Self.fetchRegisteredModels(db, names: [name])[0]
        }
    }

    public func deleteRegisteredModel(name: String) async throws {
        try await pool.write { db in
            try Self.requireModel(db, name)
            try db.execute(sql: "DELETE FROM registered_models WHERE name = ?", arguments: [name])
        }
    }

    public func setRegisteredModelTag(name: String, tag: KeyValue) async throws {
        try await pool.write { db in
            try Self.requireModel(db, name)
            try Self.setTag(db, table: "registered_model_tags", owner: ["name": name], tag)
        }
    }

    public func deleteRegisteredModelTag(name: String, key: String) async throws {
        try await pool.write { db in
            try Self.requireModel(db, name)
            try db.execute(sql: "DELETE FROM registered_model_tags WHERE name = ? AND key = ?", arguments: [name, key])
        }
    }

    public func searchRegisteredModels(_ search: RegistrySearch) async throws -> Page<RegisteredModel> {
        var args: [DatabaseValue] = []
        var wheres: [String] = ["1"]
        for clause in search.filter {
            wheres.append(try Self.registryPredicate(clause, owner: "t.name = m.name", tagTable: "registered_model_tags", columnPrefix: "m.", args: &args))
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
        args += [(search.maxResults + 1).databaseValue, search.offset.databaseValue]
        let sql = "SELECT m.name FROM registered_models m WHERE \(wheres.joined(separator: " AND ")) ORDER BY \(order.joined(separator: ", ")) LIMIT ? OFFSET ?"
        let finalArgs = args
        return try await pool.read { db in
            let names = try String.fetchAll(db, sql: sql, arguments: StatementArguments(finalArgs))
            let page = PageToken.page(names, offset: search.offset, limit: search.maxResults)
            return Page(items: try Self.fetchRegisteredModels(db, names: page.items), nextPageToken: page.nextPageToken)
        }
    }

    public func latestVersions(name: String, stages: [ModelStage]) async throws -> [ModelVersion] {
        try await pool.read { db in
            try Self.requireModel(db, name)
            let wanted = stages.isEmpty ? ModelStage.allCases : stages
            return try Self.latestVersions(db, name: name).filter { wanted.contains($0.currentStage) }
        }
    }

    // MARK: Versions

    public func createModelVersion(_ new: NewModelVersion, actor: String?) async throws -> ModelVersion {
        return try await pool.write { db in
            guard let next = try Int64.fetchOne(db, sql: "SELECT next_version FROM registered_models WHERE name = ?", arguments: [new.name]) else {
                throw Self.modelNotFound(new.name)
            }
            let now = Self.now()
            try db.execute(
                sql: """
                    INSERT INTO model_versions (name, version, creation_timestamp, last_updated_timestamp, current_stage, description, source, storage_location, run_id, run_link, model_id)
                    VALUES (?, ?, ?, ?, 'None', ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [new.name, next, now, now, new.description, new.source, new.storageLocation, new.runID, new.runLink, new.modelID]
            )
            try db.execute(
                sql: "UPDATE registered_models SET next_version = ?, last_updated_timestamp = ? WHERE name = ?",
                arguments: [next + 1, now, new.name]
            )
            for tag in new.tags {
                try Self.setTag(db, table: "model_version_tags", owner: ["name": new.name, "version": next], tag)
            }
            if let modelID = new.modelID {
                try Self.recordRegistration(db, modelID: modelID, name: new.name, version: next)
            }
            try Self.recordEvent(db, name: new.name, version: next, kind: .versionCreated, detail: new.source, actor: actor, timestamp: now)
            return try Self.fetchVersion(db, new.name, next)
        }
    }

    public func modelVersion(name: String, version: Int64) async throws -> ModelVersion {
        try await pool.read { db in try Self.fetchVersion(db, name, version) }
    }

    public func updateModelVersion(name: String, version: Int64, description: String?) async throws -> ModelVersion {
        try await pool.write { db in
            _ = try Self.fetchVersion(db, name, version)
            // A description edit bumps the version's timestamp only, not the registered model's.
            try db.execute(
                sql: "UPDATE model_versions SET description = ?, last_updated_timestamp = ? WHERE name = ? AND version = ?",
                arguments: [description, Self.now(), name, version]
            )
            return try Self.fetchVersion(db, name, version)
        }
    }

    public func transitionStage(name: String, version: Int64, stage: ModelStage, archiveExisting: Bool, actor: String?) async throws -> ModelVersion {
        return try await pool.write { db in
            let before = try Self.fetchVersion(db, name, version)
            let now = Self.now()
            if archiveExisting, stage == .staging || stage == .production {
                let others = try Int64.fetchAll(
                    db, sql: "SELECT version FROM model_versions WHERE name = ? AND current_stage = ? AND version != ?",
                    arguments: [name, stage.rawValue, version]
                )
                for other in others {
                    try db.execute(
                        sql: "UPDATE model_versions SET current_stage = 'Archived', last_updated_timestamp = ? WHERE name = ? AND version = ?",
                        arguments: [now, name, other]
                    )
                    try Self.recordEvent(db, name: name, version: other, kind: .stageChanged, detail: "\(stage.rawValue) -> Archived", actor: actor, timestamp: now)
                }
            }
            try db.execute(
                sql: "UPDATE model_versions SET current_stage = ?, last_updated_timestamp = ? WHERE name = ? AND version = ?",
                arguments: [stage.rawValue, now, name, version]
            )
            try db.execute(sql: "UPDATE registered_models SET last_updated_timestamp = ? WHERE name = ?", arguments: [now, name])
            try Self.recordEvent(db, name: name, version: version, kind: .stageChanged, detail: "\(before.currentStage.rawValue) -> \(stage.rawValue)", actor: actor, timestamp: now)
            return try Self.fetchVersion(db, name, version)
        }
    }

    public func deleteModelVersion(name: String, version: Int64, actor: String?) async throws {
        try await pool.write { db in
            _ = try Self.fetchVersion(db, name, version)
            let now = Self.now()
            // Aliases of the version go with it (ON DELETE CASCADE).
            try db.execute(sql: "DELETE FROM model_versions WHERE name = ? AND version = ?", arguments: [name, version])
            try db.execute(sql: "UPDATE registered_models SET last_updated_timestamp = ? WHERE name = ?", arguments: [now, name])
            try Self.recordEvent(db, name: name, version: version, kind: .versionDeleted, detail: "", actor: actor, timestamp: now)
        }
    }

    public func setModelVersionTag(name: String, version: Int64, tag: KeyValue) async throws {
        try await pool.write { db in
            _ = try Self.fetchVersion(db, name, version)
            try Self.setTag(db, table: "model_version_tags", owner: ["name": name, "version": version], tag)
        }
    }

    public func deleteModelVersionTag(name: String, version: Int64, key: String) async throws {
        try await pool.write { db in
            _ = try Self.fetchVersion(db, name, version)
            try db.execute(sql: "DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?", arguments: [name, version, key])
        }
    }

    public func searchModelVersions(_ search: RegistrySearch) async throws -> Page<ModelVersion> {
        var args: [DatabaseValue] = []
        var wheres: [String] = ["1"]
        for clause in search.filter {
            wheres.append(
                try Self.registryPredicate(clause, owner: "t.name = v.name AND t.version = v.version", tagTable: "model_version_tags", columnPrefix: "v.", args: &args)
            )
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
                throw EnsembleError.invalid("Invalid order_by key '\(o.key.name)' for model versions. Use name, version_number, creation_timestamp or last_updated_timestamp.")
            }
        }
        order += ["v.name ASC", "v.version DESC"]
        args += [(search.maxResults + 1).databaseValue, search.offset.databaseValue]
        let sql = "SELECT v.name, v.version FROM model_versions v WHERE \(wheres.joined(separator: " AND ")) ORDER BY \(order.joined(separator: ", ")) LIMIT ? OFFSET ?"
        let finalArgs = args
        return try await pool.read { db in
            let keys = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(finalArgs)).map { ($0[0] as String, $0[1] as Int64) }
            let page = PageToken.page(keys, offset: search.offset, limit: search.maxResults)
            return Page(items: try page.items.map { try Self.fetchVersion(db, $0.0, $0.1) }, nextPageToken: page.nextPageToken)
        }
    }

    // MARK: Aliases and history

    public func setAlias(name: String, alias: String, version: Int64, actor: String?) async throws {
        try await pool.write { db in
            _ = try Self.fetchVersion(db, name, version)
            let previous = try Int64.fetchOne(db, sql: "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", arguments: [name, alias])
            try db.execute(
                sql: "INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET version = excluded.version",
                arguments: [name, alias, version]
            )
            let detail = previous.map { "\(alias): \($0) -> \(version)" } ?? "\(alias) -> \(version)"
            try Self.recordEvent(db, name: name, version: version, kind: .aliasSet, detail: detail, actor: actor, timestamp: Self.now())
        }
    }

    public func deleteAlias(name: String, alias: String, actor: String?) async throws {
        try await pool.write { db in
            try Self.requireModel(db, name)
            let previous = try Int64.fetchOne(db, sql: "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", arguments: [name, alias])
            try db.execute(sql: "DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?", arguments: [name, alias])
            if let previous {
                try Self.recordEvent(db, name: name, version: previous, kind: .aliasDeleted, detail: alias, actor: actor, timestamp: Self.now())
            }
        }
    }

    public func versionByAlias(name: String, alias: String) async throws -> ModelVersion {
        try await pool.read { db in
            try Self.requireModel(db, name)
            guard let version = try Int64.fetchOne(db, sql: "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", arguments: [name, alias]) else {
                throw EnsembleError.invalid("Registered model alias \(alias) not found.")
            }
            return try Self.fetchVersion(db, name, version)
        }
    }

    public func registryEvents(name: String) async throws -> [RegistryEvent] {
        try await pool.read { db in
            try RegistryEventRecord.filter(RegistryEventRecord.Columns.name == name).order(RegistryEventRecord.Columns.id).fetchAll(db).map(\.event)
        }
    }

    // MARK: Helpers

    static func modelNotFound(_ name: String) -> EnsembleError { .notFound("Registered Model with name=\(name) not found") }

    static func modelExists(_ db: Database, _ name: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM registered_models WHERE name = ?)", arguments: [name]) ?? false
    }

    static func requireModel(_ db: Database, _ name: String) throws {
        guard try modelExists(db, name) else { throw modelNotFound(name) }
    }

    static func setTag(_ db: Database, table: String, owner: KeyValuePairs<String, any DatabaseValueConvertible & Sendable>, _ tag: KeyValue) throws {
        let columns = owner.map(\.key) + ["key", "value"]
        let values: [any DatabaseValueConvertible] = owner.map(\.value) + [tag.key, tag.value]
        try db.execute(
            sql: "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", "))) ON CONFLICT DO UPDATE SET value = excluded.value",
            arguments: StatementArguments(values)
        )
    }

    static func recordEvent(_ db: Database, name: String, version: Int64?, kind: RegistryEvent.Kind, detail: String, actor: String?, timestamp: Int64) throws {
        try RegistryEventRecord(RegistryEvent(name: name, version: version, kind: kind, detail: detail, actor: actor, timestamp: timestamp)).insert(db)
    }

    /// Adds `{name, version}` to the logged model's `mlflow.modelVersions` tag (``ModelVersionsTag``).
    static func recordRegistration(_ db: Database, modelID: String, name: String, version: Int64) throws {
        guard try String.fetchOne(db, sql: "SELECT model_id FROM logged_models WHERE model_id = ?", arguments: [modelID]) != nil else { return }
        let existing = try String.fetchOne(db, sql: "SELECT value FROM logged_model_tags WHERE model_id = ? AND key = ?", arguments: [modelID, ModelVersionsTag.key])
        try upsert(db, table: "logged_model_tags", modelID: modelID, [KeyValue(key: ModelVersionsTag.key, value: ModelVersionsTag.adding(name: name, version: version, to: existing))])
    }

    /// A registry filter clause: attributes on the model/version row, tags through the tag table.
    /// The MLflow client's prompt guard ``tag.`mlflow.prompt.is_prompt` != 'true'`` means "not a
    /// prompt", so models without the tag match it.
    static func registryPredicate(_ clause: SearchClause, owner: String, tagTable: String, columnPrefix: String, args: inout [DatabaseValue]) throws -> String {
        switch clause.key.type {
        case .tag:
            if clause.key.name == "mlflow.prompt.is_prompt", clause.comparator == .notEqual, case .string(let value) = clause.value {
                args += [clause.key.name.databaseValue, value.databaseValue]
                return "NOT EXISTS (SELECT 1 FROM \(tagTable) t WHERE \(owner) AND t.key = ? AND t.value = ?)"
            }
            return try SQLPredicate.keyValueExists(table: tagTable, owner: owner, clause: clause, args: &args)
        case .attribute:
            let column: String
            switch clause.key.name {
            case "version_number": column = "version"
            case "source_path": column = "source"
            default: column = clause.key.name
            }
            return try SQLPredicate.compare(columnPrefix + column, clause: clause, args: &args)
        default:
            throw EnsembleError.invalid("The registry can be searched by name, tags and version attributes only.")
        }
    }

    static func fetchRegisteredModels(_ db: Database, names: [String]) throws -> [RegisteredModel] {
        var result: [RegisteredModel] = []
        for name in names {
            guard let row = try Row.fetchOne(db, sql: "SELECT name, creation_timestamp, last_updated_timestamp, description FROM registered_models WHERE name = ?", arguments: [name]) else {
                continue
            }
            var model = RegisteredModel(name: row[0], creationTimestamp: row[1], lastUpdatedTimestamp: row[2], description: row[3])
            model.tags = try Row.fetchAll(db, sql: "SELECT key, value FROM registered_model_tags WHERE name = ? ORDER BY key", arguments: [name]).map {
                KeyValue(key: $0[0], value: $0[1])
            }
            model.aliases = try Row.fetchAll(db, sql: "SELECT alias, version FROM registered_model_aliases WHERE name = ? ORDER BY alias", arguments: [name]).map {
                KeyValue(key: $0[0], value: String($0[1] as Int64))
            }
            model.latestVersions = try latestVersions(db, name: name)
            result.append(model)
        }
        return result
    }

    /// The highest version in each stage that has one, ordered by stage.
    static func latestVersions(_ db: Database, name: String) throws -> [ModelVersion] {
        let rows = try Row.fetchAll(
            db, sql: "SELECT current_stage, MAX(version) FROM model_versions WHERE name = ? GROUP BY current_stage", arguments: [name]
        )
        let byStage = Dictionary(uniqueKeysWithValues: rows.map { ($0[0] as String, $0[1] as Int64) })
        return try ModelStage.allCases.compactMap { stage in try byStage[stage.rawValue].map { try fetchVersion(db, name, $0) } }
    }

    static func fetchVersion(_ db: Database, _ name: String, _ version: Int64) throws -> ModelVersion {
        guard
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT creation_timestamp, last_updated_timestamp, current_stage, description, source, storage_location, run_id, run_link, model_id
                    FROM model_versions WHERE name = ? AND version = ?
                    """,
                arguments: [name, version]
            )
        else {
            throw EnsembleError.notFound("Model Version (name=\(name), version=\(version)) not found")
        }
        var v = ModelVersion(
            name: name, version: version, creationTimestamp: row[0], lastUpdatedTimestamp: row[1],
            currentStage: ModelStage(rawValue: row[2]) ?? .none, description: row[3], source: row[4], runID: row[6], runLink: row[7],
            modelID: row[8], storageLocation: row[5]
        )
        v.tags = try Row.fetchAll(db, sql: "SELECT key, value FROM model_version_tags WHERE name = ? AND version = ? ORDER BY key", arguments: [name, version]).map {
            KeyValue(key: $0[0], value: $0[1])
        }
        v.aliases = try String.fetchAll(db, sql: "SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ? ORDER BY alias", arguments: [name, version])
        return v
    }
}
