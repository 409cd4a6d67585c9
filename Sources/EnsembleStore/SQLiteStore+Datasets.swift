import EnsembleCore
import GRDB

extension SQLiteStore: DatasetCatalog {
    public func datasetNames() async throws -> [(name: String, versions: Int)] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT name, COUNT(DISTINCT digest) FROM datasets GROUP BY name ORDER BY name").map { ($0[0], $0[1]) }
        }
    }

    public func datasetVersions(name: String) async throws -> [DatasetVersionUsage] {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT id, experiment_id, name, digest, source_type, source, schema, profile FROM datasets WHERE name = ? ORDER BY id DESC",
                arguments: [name]
            )
            guard !rows.isEmpty else { throw EnsembleError.notFound("No dataset named '\(name)' was logged by any run.") }
            return try rows.map { row in
                let uses = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT r.run_uuid, r.name, t.value FROM run_dataset_inputs i
                        JOIN runs r ON r.id = i.run_id
                        LEFT JOIN input_tags t ON t.run_id = i.run_id AND t.dataset_id = i.dataset_id AND t.key = 'mlflow.data.context'
                        WHERE i.dataset_id = ? ORDER BY r.start_time DESC, r.run_uuid
                        """,
                    arguments: [row[0] as Int64]
                ).map { DatasetVersionUsage.Use(runID: $0[0], runName: $0[1], context: $0[2]) }
                let dataset = Dataset(name: row[2], digest: row[3], sourceType: row[4], source: row[5], schema: row[6], profile: row[7])
                return DatasetVersionUsage(experimentID: String(row[1] as Int64), dataset: dataset, usedBy: uses)
            }
        }
    }
}
