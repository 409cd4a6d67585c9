import EnsembleCore
import GRDB

extension SQLiteStore {
    /// Runs matching a search, in SQL: filters become `EXISTS` predicates on the latest-metric,
    /// param, tag and input tables (all indexed), ordering becomes `LEFT JOIN`s, and only the page's
    /// runs are loaded in full.
    public func searchRuns(_ search: RunSearch) async throws -> Page<Run> {
        guard !search.experimentIDs.isEmpty else { return Page(items: [], nextPageToken: nil) }
        var joinArgs: [DatabaseValue] = []
        var whereArgs: [DatabaseValue] = []
        var joins: [String] = []
        let wheres = try Self.runConditions(search, args: &whereArgs)
        var order: [String] = []
        var orderedByStart = false
        var orderedByID = false
        for (k, o) in search.orderBy.enumerated() {
            let dir = o.ascending ? "ASC" : "DESC"
            let alias = "o\(k)"
            switch o.key.type {
            case .metric:
                joins.append("LEFT JOIN latest_metrics \(alias) ON \(alias).run_id = r.id AND \(alias).key = ?")
                joinArgs.append(o.key.name.databaseValue)
                // Runs without the metric sort last, NaN after numbers, whatever the direction.
                order.append("\(alias).run_id IS NULL, \(alias).is_nan, \(alias).value \(dir)")
            case .param, .tag:
                let table = o.key.type == .param ? "params" : "tags"
                joins.append("LEFT JOIN \(table) \(alias) ON \(alias).run_id = r.id AND \(alias).key = ?")
                joinArgs.append(o.key.name.databaseValue)
                order.append("\(alias).value IS NULL, \(alias).value \(dir)")
            case .attribute:
                let column = Self.runColumn(o.key.name)
                if o.key.name == "start_time" { orderedByStart = true }
                if o.key.name == "run_id" { orderedByID = true }
                order.append(o.key.name == "end_time" ? "r.end_time IS NULL, r.end_time \(dir)" : "\(column) \(dir)")
            case .dataset:
                throw EnsembleError.invalid("datasets cannot be used for ordering runs")
            }
        }
        if !orderedByStart { order.append("r.start_time DESC") }
        if !orderedByID { order.append("r.run_uuid ASC") }
        let sql = """
            SELECT r.id FROM runs r \(joins.joined(separator: " "))
            WHERE \(wheres.joined(separator: " AND "))
            ORDER BY \(order.joined(separator: ", "))
            LIMIT ? OFFSET ?
            """
        let args = StatementArguments(joinArgs + whereArgs + [(search.maxResults + 1).databaseValue, search.offset.databaseValue])
        return try await pool.read { db in
            let ids = try Int64.fetchAll(db, sql: sql, arguments: args)
            let page = PageToken.page(ids, offset: search.offset, limit: search.maxResults)
            return Page(items: try Self.loadRuns(db, ids: page.items), nextPageToken: page.nextPageToken)
        }
    }

    /// The WHERE conditions of a run search: its experiments, view type and filter.
    static func runConditions(_ search: RunSearch, args: inout [DatabaseValue]) throws -> [String] {
        let experimentKeys = try search.experimentIDs.map(Self.experimentKey)
        args += experimentKeys.map(\.databaseValue)
        var wheres = [
            "r.experiment_id IN (\(Array(repeating: "?", count: experimentKeys.count).joined(separator: ",")))",
            "r.lifecycle_stage IN (\(search.viewType.stages.map { "'\($0.rawValue)'" }.joined(separator: ", ")))",
        ]
        for clause in search.filter {
            wheres.append(try Self.runPredicate(clause, args: &args))
        }
        return wheres
    }

    /// One aggregate query: the group key and each metric are `LEFT JOIN`s on their (run, key) primary
    /// keys, so every run counts once and a run without the key falls into the NULL group.
    public func groupRuns(_ search: RunSearch, by key: SearchKey, metrics: [String], limit: Int) async throws -> [RunGroup] {
        guard !search.experimentIDs.isEmpty else { return [] }
        guard metrics.count <= 50 else { throw EnsembleError.invalid("Summarise at most 50 metrics at a time, got \(metrics.count).") }
        var joinArgs: [DatabaseValue] = []
        var joins: [String] = []
        let group: String
        switch key.type {
        case .param, .tag:
            joins.append("LEFT JOIN \(key.type == .param ? "params" : "tags") g ON g.run_id = r.id AND g.key = ?")
            joinArgs.append(key.name.databaseValue)
            group = "g.value"
        case .attribute where ["status", "user_id", "run_name"].contains(key.name):
            group = Self.runColumn(key.name)
        default:
            throw EnsembleError.invalid("Group runs by a param, a tag, or the status, user_id or run_name attribute; got '\(key.type.rawValue).\(key.name)'.")
        }
        var columns = [group, "COUNT(*) AS n"]
        for (i, metric) in metrics.enumerated() {
            joins.append("LEFT JOIN latest_metrics m\(i) ON m\(i).run_id = r.id AND m\(i).key = ? AND m\(i).is_nan = 0")
            joinArgs.append(metric.databaseValue)
            columns += ["COUNT(m\(i).value)", "AVG(m\(i).value)", "MIN(m\(i).value)", "MAX(m\(i).value)"]
        }
        var whereArgs: [DatabaseValue] = []
        let wheres = try Self.runConditions(search, args: &whereArgs)
        let sql = """
            SELECT \(columns.joined(separator: ", ")) FROM runs r \(joins.joined(separator: " "))
            WHERE \(wheres.joined(separator: " AND "))
            GROUP BY \(group) ORDER BY n DESC, \(group) LIMIT ?
            """
        let args = StatementArguments(joinArgs + whereArgs + [max(1, limit).databaseValue])
        return try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: args).map { row in
                var summaries: [String: RunGroup.Summary] = [:]
                for (i, metric) in metrics.enumerated() {
                    let base = 2 + i * 4
                    let count: Int = row[base]
                    if count > 0 { summaries[metric] = .init(count: count, mean: row[base + 1], min: row[base + 2], max: row[base + 3]) }
                }
                return RunGroup(value: row[0], runs: row[1], metrics: summaries)
            }
        }
    }

    static func runColumn(_ attribute: String) -> String {
        switch attribute {
        case "run_id": "r.run_uuid"
        case "run_name": "r.name"
        case "status": "r.status"
        case "user_id": "r.user_id"
        case "artifact_uri": "r.artifact_uri"
        case "start_time": "r.start_time"
        case "end_time": "r.end_time"
        default: "r.run_uuid"
        }
    }

    static func runPredicate(_ clause: SearchClause, args: inout [DatabaseValue]) throws -> String {
        switch clause.key.type {
        case .metric:
            args.append(clause.key.name.databaseValue)
            let predicate = try SQLPredicate.compare("m.value", clause: clause, args: &args)
            return "EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_id = r.id AND m.key = ? AND m.is_nan = 0 AND \(predicate))"
        case .param:
            return try SQLPredicate.keyValueExists(table: "params", owner: "t.run_id = r.id", clause: clause, args: &args)
        case .tag:
            return try SQLPredicate.keyValueExists(table: "tags", owner: "t.run_id = r.id", clause: clause, args: &args)
        case .attribute:
            return try SQLPredicate.compare(runColumn(clause.key.name), clause: clause, args: &args)
        case .dataset:
            if clause.key.name == "context" {
                let predicate = try SQLPredicate.compare("t.value", clause: clause, args: &args)
                return "EXISTS (SELECT 1 FROM input_tags t WHERE t.run_id = r.id AND t.key = 'mlflow.data.context' AND \(predicate))"
            }
            let predicate = try SQLPredicate.compare("d.\(clause.key.name == "digest" ? "digest" : "name")", clause: clause, args: &args)
            return "EXISTS (SELECT 1 FROM run_dataset_inputs i JOIN datasets d ON d.id = i.dataset_id WHERE i.run_id = r.id AND \(predicate))"
        }
    }

    public func metricHistory(runID: String, key: String, limit: Int?, offset: Int) async throws -> Page<Metric> {
        try await pool.read { db in
            guard let run = try Int64.fetchOne(db, sql: "SELECT id FROM runs WHERE run_uuid = ?", arguments: [runID]) else {
                throw EnsembleError.runNotFound(runID)
            }
            var sql = """
                SELECT step, timestamp, value, is_nan, model_id, dataset_name, dataset_digest FROM metrics
                WHERE run_id = ? AND key = ? ORDER BY step, timestamp, value, is_nan
                """
            if limit != nil { sql += " LIMIT ? OFFSET ?" }
            let statement = try db.cachedStatement(sql: sql)
            let raw = RawStatement(statement, db)
            defer { raw.finish() }
            raw.bind(1, run)
            raw.bind(2, key)
            if let limit {
                raw.bind(3, Int64(limit + 1))
                raw.bind(4, Int64(offset))
            }
            var points: [Metric] = []
            while try raw.next() {
                let isNaN = raw.int64(3) != 0
                points.append(
                    Metric(
                        key: key, value: isNaN ? .nan : raw.double(2), timestamp: raw.int64(1), step: raw.int64(0),
                        modelID: raw.string(4), datasetName: raw.string(5), datasetDigest: raw.string(6)
                    )
                )
            }
            guard let limit else { return Page(items: points, nextPageToken: nil) }
            return PageToken.page(points, offset: offset, limit: limit)
        }
    }

    public func metricHistoryBulkInterval(runIDs: [String], key: String, startStep: Int64?, endStep: Int64?, maxResults: Int) async throws -> [Metric] {
        try await pool.read { db in
            var result: [Metric] = []
            // Steps are chosen over all runs together (as MLflow does), then read run by run.
            var runs: [(id: String, row: Int64)] = []
            var runSteps: [[Int64]] = []
            for runID in runIDs {
                guard let run = try Int64.fetchOne(db, sql: "SELECT id FROM runs WHERE run_uuid = ?", arguments: [runID]) else {
                    throw EnsembleError.runNotFound(runID)
                }
                runs.append((runID, run))
                runSteps.append(try Int64.fetchAll(db, sql: "SELECT DISTINCT step FROM metrics WHERE run_id = ? AND key = ? ORDER BY step", arguments: [run, key]))
            }
            let chosen = MetricSampling.sampleSteps(runSteps: runSteps, start: startStep, end: endStep, maxResults: maxResults)
            for (runID, run) in runs {
                for chunk in chosen.chunked(500) {
                    let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                    let rows = try Row.fetchAll(
                        db,
                        sql: "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_id = ? AND key = ? AND step IN (\(marks)) ORDER BY step, timestamp, value",
                        arguments: StatementArguments([run.databaseValue, key.databaseValue] + chunk.map(\.databaseValue))
                    )
                    for row in rows {
                        let isNaN: Bool = row[3]
                        result.append(Metric(key: key, value: isNaN ? .nan : row[2], timestamp: row[1], step: row[0], runID: runID))
                    }
                }
            }
            return result
        }
    }
}
