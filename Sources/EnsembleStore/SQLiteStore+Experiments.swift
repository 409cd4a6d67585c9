import EnsembleCore
import GRDB

extension SQLiteStore {
    public func createExperiment(name: String, artifactLocation: String?, tags: [KeyValue]) async throws -> String {
        try await pool.write { db in
            if let existing = try Row.fetchOne(db, sql: "SELECT lifecycle_stage FROM experiments WHERE name = ?", arguments: [name]) {
                let stage: String = existing[0]
                if stage == LifecycleStage.deleted.rawValue {
                    throw EnsembleError.alreadyExists(
                        "Experiment(name=\(name)) already exists in deleted state. Restore it, or choose another name."
                    )
                }
                throw EnsembleError.alreadyExists("Experiment(name=\(name)) already exists. Choose another name, or use the existing experiment.")
            }
            let now = Self.now()
            try db.execute(
                sql: "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, '', 'active', ?, ?)",
                arguments: [name, now, now]
            )
            let id = db.lastInsertedRowID
            let location = artifactLocation ?? (self.artifactRootURI + String(id))
            try db.execute(sql: "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?", arguments: [location, id])
            for tag in tags {
                try db.execute(
                    sql: "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value",
                    arguments: [id, tag.key, tag.value]
                )
            }
            return String(id)
        }
    }

    public func experiment(id: String) async throws -> Experiment {
        let key = try Self.experimentKey(id)
        return try await pool.read { db in
            guard let e = try Self.fetchExperiments(db, where: "experiment_id = ?", arguments: [key]).first else {
                throw EnsembleError.experimentNotFound(id)
            }
            return e
        }
    }

    public func experiment(named name: String) async throws -> Experiment? {
        try await pool.read { db in
            try Self.fetchExperiments(db, where: "name = ?", arguments: [name]).first
        }
    }

    public func renameExperiment(id: String, newName: String) async throws {
        let key = try Self.experimentKey(id)
        try await pool.write { db in
            let stage = try Self.experimentStage(db, key: key, id: id)
            guard stage == .active else {
                throw EnsembleError.invalid("Cannot rename a non-active experiment (id=\(id)). Restore it first.")
            }
            if let other = try Int64.fetchOne(db, sql: "SELECT experiment_id FROM experiments WHERE name = ?", arguments: [newName]), other != key {
                throw EnsembleError.alreadyExists("Experiment(name=\(newName)) already exists. Choose another name.")
            }
            try db.execute(
                sql: "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?",
                arguments: [newName, Self.now(), key]
            )
        }
    }

    public func deleteExperiment(id: String) async throws {
        let key = try Self.experimentKey(id)
        try await pool.write { db in
            _ = try Self.experimentStage(db, key: key, id: id)
            let now = Self.now()
            try db.execute(
                sql: "UPDATE experiments SET lifecycle_stage = 'deleted', last_update_time = ? WHERE experiment_id = ?",
                arguments: [now, key]
            )
            try db.execute(
                sql: "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? WHERE experiment_id = ? AND lifecycle_stage = 'active'",
                arguments: [now, key]
            )
        }
    }

    public func restoreExperiment(id: String) async throws {
        let key = try Self.experimentKey(id)
        try await pool.write { db in
            _ = try Self.experimentStage(db, key: key, id: id)
            try db.execute(
                sql: "UPDATE experiments SET lifecycle_stage = 'active', last_update_time = ? WHERE experiment_id = ?",
                arguments: [Self.now(), key]
            )
            try db.execute(
                sql: "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE experiment_id = ? AND lifecycle_stage = 'deleted'",
                arguments: [key]
            )
        }
    }

    public func setExperimentTag(id: String, tag: KeyValue) async throws {
        let key = try Self.experimentKey(id)
        try await pool.write { db in
            guard try Self.experimentStage(db, key: key, id: id) == .active else {
                throw EnsembleError.invalid("The experiment \(id) must be in the 'active' state. Current state is deleted.")
            }
            try db.execute(
                sql: "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value",
                arguments: [key, tag.key, tag.value]
            )
        }
    }

    public func deleteExperimentTag(id: String, key tagKey: String) async throws {
        let key = try Self.experimentKey(id)
        try await pool.write { db in
            guard try Self.experimentStage(db, key: key, id: id) == .active else {
                throw EnsembleError.invalid("The experiment \(id) must be in the 'active' state. Current state is deleted.")
            }
            try db.execute(sql: "DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?", arguments: [key, tagKey])
            if db.changesCount == 0 {
                throw EnsembleError.notFound("No tag with name: \(tagKey) in experiment with id \(id)")
            }
        }
    }

    public func searchExperiments(_ search: ExperimentSearch) async throws -> Page<Experiment> {
        var wheres = ["lifecycle_stage IN (\(search.viewType.stages.map { "'\($0.rawValue)'" }.joined(separator: ", ")))"]
        var args: [DatabaseValue] = []
        for clause in search.filter {
            switch clause.key.type {
            case .tag:
                wheres.append(
                    try SQLPredicate.keyValueExists(
                        table: "experiment_tags", owner: "t.experiment_id = e.experiment_id", clause: clause, args: &args
                    )
                )
            default:
                let column = "e." + clause.key.name
                if clause.key.name == "experiment_id" {
                    // Ids are integers in storage, strings on the wire.
                    switch clause.value {
                    case .string(let s):
                        wheres.append("CAST(\(column) AS TEXT) \(clause.comparator == .equal ? "=" : "!=") ?")
                        args.append(s.databaseValue)
                    case .list(let items):
                        wheres.append("CAST(\(column) AS TEXT) \(clause.comparator == .in ? "IN" : "NOT IN") (\(Array(repeating: "?", count: max(items.count, 1)).joined(separator: ", ")))")
                        args.append(contentsOf: (items.isEmpty ? [""] : items).map(\.databaseValue))
                    default:
                        throw EnsembleError.invalid("experiment_id must be compared with quoted strings")
                    }
                } else {
                    wheres.append(try SQLPredicate.compare(column, clause: clause, args: &args))
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
            default: throw EnsembleError.invalid("Invalid order_by key '\(o.key.name)' for experiments. Use name, experiment_id, creation_time or last_update_time.")
            }
        }
        if search.orderBy.isEmpty { order.append("e.creation_time DESC") }
        if !hasID { order.append("e.experiment_id ASC") }
        let sql = "SELECT e.experiment_id FROM experiments e WHERE \(wheres.joined(separator: " AND ")) ORDER BY \(order.joined(separator: ", ")) LIMIT ? OFFSET ?"
        args.append((search.maxResults + 1).databaseValue)
        args.append(search.offset.databaseValue)
        let finalArgs = args
        return try await pool.read { db in
            let ids = try Int64.fetchAll(db, sql: sql, arguments: StatementArguments(finalArgs))
            let page = PageToken.page(ids, offset: search.offset, limit: search.maxResults)
            var byID: [String: Experiment] = [:]
            for chunk in page.items.chunked(500) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                for e in try Self.fetchExperiments(db, where: "experiment_id IN (\(marks))", arguments: StatementArguments(chunk)) {
                    byID[e.id] = e
                }
            }
            return Page(items: page.items.compactMap { byID[String($0)] }, nextPageToken: page.nextPageToken)
        }
    }

    // MARK: Helpers

    static func experimentKey(_ id: String) throws -> Int64 {
        guard let key = Int64(id), key >= 0 else {
            throw EnsembleError.invalid("Experiment ID must be a valid integer, got '\(id)'")
        }
        return key
    }

    static func experimentStage(_ db: Database, key: Int64, id: String) throws -> LifecycleStage {
        guard let raw = try String.fetchOne(db, sql: "SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?", arguments: [key]) else {
            throw EnsembleError.experimentNotFound(id)
        }
        return LifecycleStage(rawValue: raw) ?? .active
    }

    static func fetchExperiments(_ db: Database, where condition: String, arguments: StatementArguments) throws -> [Experiment] {
        let rows = try Row.fetchAll(
            db,
            sql: "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time FROM experiments WHERE \(condition) ORDER BY lifecycle_stage = 'deleted'",
            arguments: arguments
        )
        guard !rows.isEmpty else { return [] }
        var experiments = rows.map { row in
            Experiment(
                id: String(row[0] as Int64), name: row[1], artifactLocation: row[2],
                lifecycleStage: LifecycleStage(rawValue: row[3]) ?? .active, creationTime: row[4], lastUpdateTime: row[5]
            )
        }
        let ids = experiments.map { Int64($0.id)! }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ",")
        var tagsByID: [Int64: [KeyValue]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN (\(marks)) ORDER BY key", arguments: StatementArguments(ids)) {
            tagsByID[row[0], default: []].append(KeyValue(key: row[1], value: row[2]))
        }
        for i in experiments.indices {
            experiments[i].tags = tagsByID[Int64(experiments[i].id)!] ?? []
        }
        return experiments
    }
}

extension Array {
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
