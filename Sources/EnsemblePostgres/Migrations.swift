import EnsembleCore
import PostgresNIO

/// The PostgreSQL schema, as migrations under stable identifiers (the SQLite store's names where the
/// tables are the same). Each runs once, in its own transaction, recorded in `ensemble_migrations`.
extension PostgresStore {
    static let migrations: [(id: String, sql: [PostgresQuery])] = [
        (
            "2026-11-25-stored-datasets-v1",
            [
                """
                CREATE TABLE stored_dataset_versions (
                    id BIGSERIAL PRIMARY KEY,
                    name TEXT NOT NULL,
                    version BIGINT NOT NULL,
                    digest TEXT NOT NULL,
                    description TEXT,
                    file_count BIGINT NOT NULL,
                    total_size BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    created_by TEXT,
                    UNIQUE (name, version)
                )
                """,
                "CREATE INDEX stored_dataset_versions_by_digest ON stored_dataset_versions (name, digest)",
                """
                CREATE TABLE stored_dataset_files (
                    version_id BIGINT NOT NULL REFERENCES stored_dataset_versions (id) ON DELETE CASCADE,
                    path TEXT NOT NULL,
                    size BIGINT NOT NULL,
                    sha256 TEXT NOT NULL,
                    PRIMARY KEY (version_id, path)
                )
                """,
                "CREATE INDEX stored_dataset_files_by_content ON stored_dataset_files (sha256)",
            ]
        ),
        (
            "2026-12-02-expiring-values-v1",
            [
                "CREATE TABLE expiring_values (key TEXT PRIMARY KEY, value BYTEA NOT NULL, expires_at BIGINT)",
                "CREATE INDEX expiring_values_by_expiry ON expiring_values (expires_at)",
            ]
        ),
        (
            "2026-11-25-tracking-v1",
            [
                // Text is compared and sorted byte by byte (COLLATE "C"), as SQLite does, whatever the
                // database's locale: search and paging give the same order on both backends.
                """
                CREATE TABLE experiments (
                    experiment_id BIGSERIAL PRIMARY KEY,
                    name TEXT COLLATE "C" NOT NULL UNIQUE,
                    artifact_location TEXT COLLATE "C" NOT NULL,
                    lifecycle_stage TEXT NOT NULL CHECK (lifecycle_stage IN ('active', 'deleted')),
                    creation_time BIGINT NOT NULL,
                    last_update_time BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE experiment_tags (
                    experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
                    key TEXT COLLATE "C" NOT NULL,
                    value TEXT COLLATE "C" NOT NULL,
                    PRIMARY KEY (experiment_id, key)
                )
                """,
                """
                CREATE TABLE runs (
                    id BIGSERIAL PRIMARY KEY,
                    run_uuid TEXT COLLATE "C" NOT NULL UNIQUE,
                    experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id),
                    name TEXT COLLATE "C" NOT NULL,
                    user_id TEXT COLLATE "C" NOT NULL,
                    status TEXT COLLATE "C" NOT NULL CHECK (status IN ('RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED')),
                    start_time BIGINT NOT NULL,
                    end_time BIGINT,
                    artifact_uri TEXT COLLATE "C" NOT NULL,
                    lifecycle_stage TEXT NOT NULL CHECK (lifecycle_stage IN ('active', 'deleted')),
                    deleted_time BIGINT
                )
                """,
                "CREATE INDEX runs_by_experiment ON runs (experiment_id, lifecycle_stage, start_time DESC, run_uuid)",
                """
                CREATE TABLE params (
                    run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                    key TEXT COLLATE "C" NOT NULL,
                    value TEXT COLLATE "C" NOT NULL,
                    PRIMARY KEY (run_id, key)
                )
                """,
                "CREATE INDEX params_by_key ON params (key, value)",
                """
                CREATE TABLE tags (
                    run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                    key TEXT COLLATE "C" NOT NULL,
                    value TEXT COLLATE "C" NOT NULL,
                    PRIMARY KEY (run_id, key)
                )
                """,
                "CREATE INDEX tags_by_key ON tags (key, value)",
                // One row per point; the primary key is the history index and de-duplicates identical points.
                """
                CREATE TABLE metrics (
                    run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                    key TEXT COLLATE "C" NOT NULL,
                    step BIGINT NOT NULL,
                    timestamp BIGINT NOT NULL,
                    value DOUBLE PRECISION NOT NULL,
                    is_nan BOOLEAN NOT NULL,
                    model_id TEXT COLLATE "C",
                    dataset_name TEXT COLLATE "C",
                    dataset_digest TEXT COLLATE "C",
                    PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)
                )
                """,
                """
                CREATE TABLE latest_metrics (
                    run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                    key TEXT COLLATE "C" NOT NULL,
                    step BIGINT NOT NULL,
                    timestamp BIGINT NOT NULL,
                    value DOUBLE PRECISION NOT NULL,
                    is_nan BOOLEAN NOT NULL,
                    PRIMARY KEY (run_id, key)
                )
                """,
                "CREATE INDEX latest_metrics_by_key ON latest_metrics (key, value)",
                """
                CREATE TABLE datasets (
                    id BIGSERIAL PRIMARY KEY,
                    experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id),
                    name TEXT COLLATE "C" NOT NULL,
                    digest TEXT COLLATE "C" NOT NULL,
                    source_type TEXT NOT NULL,
                    source TEXT NOT NULL,
                    schema TEXT,
                    profile TEXT,
                    UNIQUE (experiment_id, name, digest)
                )
                """,
                """
                CREATE TABLE run_dataset_inputs (
                    run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                    dataset_id BIGINT NOT NULL REFERENCES datasets (id),
                    position BIGINT NOT NULL,
                    PRIMARY KEY (run_id, dataset_id)
                )
                """,
                "CREATE INDEX run_dataset_inputs_by_dataset ON run_dataset_inputs (dataset_id)",
                """
                CREATE TABLE input_tags (
                    run_id BIGINT NOT NULL,
                    dataset_id BIGINT NOT NULL,
                    key TEXT COLLATE "C" NOT NULL,
                    value TEXT COLLATE "C" NOT NULL,
                    PRIMARY KEY (run_id, dataset_id, key),
                    FOREIGN KEY (run_id, dataset_id) REFERENCES run_dataset_inputs (run_id, dataset_id) ON DELETE CASCADE
                )
                """,
                """
                CREATE TABLE run_model_inputs (
                    run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                    model_id TEXT COLLATE "C" NOT NULL,
                    PRIMARY KEY (run_id, model_id)
                )
                """,
                """
                CREATE TABLE run_model_outputs (
                    run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                    model_id TEXT COLLATE "C" NOT NULL,
                    step BIGINT NOT NULL,
                    PRIMARY KEY (run_id, model_id)
                )
                """,
                // The Default experiment is id 0; the sequence gives the others 1, 2, …
                """
                INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
                VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active', (extract(epoch from now()) * 1000)::bigint, (extract(epoch from now()) * 1000)::bigint)
                """,
            ]
        ),
        (
            "2026-11-25-logged-models-v1",
            [
                """
                CREATE TABLE logged_models (
                    model_id TEXT COLLATE "C" PRIMARY KEY,
                    experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id),
                    name TEXT COLLATE "C" NOT NULL,
                    model_type TEXT COLLATE "C",
                    source_run_id TEXT COLLATE "C",
                    status TEXT COLLATE "C" NOT NULL CHECK (status IN ('LOGGED_MODEL_PENDING', 'LOGGED_MODEL_READY', 'LOGGED_MODEL_UPLOAD_FAILED')),
                    status_message TEXT,
                    artifact_uri TEXT COLLATE "C" NOT NULL,
                    lifecycle_stage TEXT NOT NULL CHECK (lifecycle_stage IN ('active', 'deleted')),
                    creation_timestamp BIGINT NOT NULL,
                    last_updated_timestamp BIGINT NOT NULL
                )
                """,
                "CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, lifecycle_stage, creation_timestamp DESC)",
                "CREATE INDEX logged_models_by_run ON logged_models (source_run_id)",
                """
                CREATE TABLE logged_model_tags (
                    model_id TEXT COLLATE "C" NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
                    key TEXT COLLATE "C" NOT NULL,
                    value TEXT COLLATE "C" NOT NULL,
                    PRIMARY KEY (model_id, key)
                )
                """,
                """
                CREATE TABLE logged_model_params (
                    model_id TEXT COLLATE "C" NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
                    key TEXT COLLATE "C" NOT NULL,
                    value TEXT COLLATE "C" NOT NULL,
                    PRIMARY KEY (model_id, key)
                )
                """,
                """
                CREATE TABLE logged_model_metrics (
                    model_id TEXT COLLATE "C" NOT NULL,
                    key TEXT COLLATE "C" NOT NULL,
                    step BIGINT NOT NULL,
                    timestamp BIGINT NOT NULL,
                    value DOUBLE PRECISION NOT NULL,
                    is_nan BOOLEAN NOT NULL,
                    run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                    dataset_name TEXT COLLATE "C",
                    dataset_digest TEXT COLLATE "C",
                    PRIMARY KEY (model_id, key, step, timestamp, value, is_nan)
                )
                """,
            ]
        ),
        (
            "2026-11-25-registry-v1",
            [
                """
                CREATE TABLE registered_models (
                    name TEXT COLLATE "C" PRIMARY KEY,
                    creation_timestamp BIGINT NOT NULL,
                    last_updated_timestamp BIGINT NOT NULL,
                    description TEXT,
                    next_version BIGINT NOT NULL DEFAULT 1
                )
                """,
                """
                CREATE TABLE registered_model_tags (
                    name TEXT COLLATE "C" NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE ON UPDATE CASCADE,
                    key TEXT COLLATE "C" NOT NULL,
                    value TEXT COLLATE "C" NOT NULL,
                    PRIMARY KEY (name, key)
                )
                """,
                """
                CREATE TABLE model_versions (
                    name TEXT COLLATE "C" NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE ON UPDATE CASCADE,
                    version BIGINT NOT NULL,
                    creation_timestamp BIGINT NOT NULL,
                    last_updated_timestamp BIGINT NOT NULL,
                    current_stage TEXT COLLATE "C" NOT NULL CHECK (current_stage IN ('None', 'Staging', 'Production', 'Archived')),
                    description TEXT,
                    source TEXT COLLATE "C" NOT NULL,
                    storage_location TEXT NOT NULL,
                    run_id TEXT COLLATE "C",
                    run_link TEXT,
                    model_id TEXT COLLATE "C",
                    PRIMARY KEY (name, version)
                )
                """,
                "CREATE INDEX model_versions_by_run ON model_versions (run_id)",
                """
                CREATE TABLE model_version_tags (
                    name TEXT COLLATE "C" NOT NULL,
                    version BIGINT NOT NULL,
                    key TEXT COLLATE "C" NOT NULL,
                    value TEXT COLLATE "C" NOT NULL,
                    PRIMARY KEY (name, version, key),
                    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE ON UPDATE CASCADE
                )
                """,
                """
                CREATE TABLE registered_model_aliases (
                    name TEXT COLLATE "C" NOT NULL,
                    alias TEXT COLLATE "C" NOT NULL,
                    version BIGINT NOT NULL,
                    PRIMARY KEY (name, alias),
                    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE ON UPDATE CASCADE
                )
                """,
                """
                CREATE TABLE registry_events (
                    id BIGSERIAL PRIMARY KEY,
                    name TEXT COLLATE "C" NOT NULL,
                    version BIGINT,
                    kind TEXT NOT NULL,
                    detail TEXT NOT NULL,
                    actor TEXT,
                    timestamp BIGINT NOT NULL
                )
                """,
                "CREATE INDEX registry_events_by_name ON registry_events (name, id)",
            ]
        ),
        (
            "2026-11-25-team-v1",
            [
                "CREATE TABLE team_roles (id TEXT COLLATE \"C\" PRIMARY KEY, doc TEXT NOT NULL)",
                "CREATE TABLE team_people (id TEXT COLLATE \"C\" PRIMARY KEY, email TEXT COLLATE \"C\" NOT NULL UNIQUE, doc TEXT NOT NULL)",
                "CREATE TABLE team_projects (id TEXT COLLATE \"C\" PRIMARY KEY, doc TEXT NOT NULL, updated_at BIGINT NOT NULL)",
                """
                CREATE TABLE team_updates (
                    id BIGSERIAL PRIMARY KEY, project TEXT COLLATE "C" NOT NULL, author TEXT NOT NULL,
                    done TEXT NOT NULL, next TEXT NOT NULL, blocked TEXT NOT NULL, at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX team_updates_by_project ON team_updates (project, at)",
                "CREATE TABLE team_events (id BIGSERIAL PRIMARY KEY, project TEXT COLLATE \"C\", kind TEXT NOT NULL, summary TEXT NOT NULL, actor TEXT, at BIGINT NOT NULL)",
                "CREATE INDEX team_events_by_project ON team_events (project, at)",
            ]
        ),
        (
            "2026-12-02-identity-v1",
            [
                """
                CREATE TABLE users (
                    name TEXT COLLATE "C" PRIMARY KEY,
                    display_name TEXT NOT NULL,
                    email TEXT NOT NULL,
                    role TEXT NOT NULL,
                    disabled BOOLEAN NOT NULL DEFAULT false,
                    service_account BOOLEAN NOT NULL DEFAULT false,
                    person_id TEXT,
                    password_hash TEXT,
                    created_at BIGINT NOT NULL,
                    password_changed_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE api_tokens (
                    id BIGSERIAL PRIMARY KEY,
                    user_name TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE ON UPDATE CASCADE,
                    label TEXT NOT NULL,
                    hint TEXT NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT,
                    last_used_at BIGINT,
                    revoked_at BIGINT
                )
                """,
                "CREATE INDEX api_tokens_by_user ON api_tokens (user_name)",
                """
                CREATE TABLE audit_log (
                    id BIGSERIAL PRIMARY KEY,
                    at BIGINT NOT NULL,
                    actor TEXT COLLATE "C",
                    action TEXT COLLATE "C" NOT NULL,
                    target TEXT NOT NULL,
                    status BIGINT NOT NULL,
                    request_id TEXT,
                    client TEXT,
                    detail TEXT NOT NULL
                )
                """,
                "CREATE INDEX audit_log_by_actor ON audit_log (actor, id)",
                "CREATE INDEX audit_log_by_time ON audit_log (at)",
            ]
        ),
        (
            "2026-12-02-grants-v1",
            [
                """
                CREATE TABLE grants (
                    kind TEXT COLLATE "C" NOT NULL,
                    resource TEXT COLLATE "C" NOT NULL,
                    user_name TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE ON UPDATE CASCADE,
                    permission TEXT NOT NULL,
                    PRIMARY KEY (kind, resource, user_name)
                )
                """,
                "CREATE INDEX grants_by_user ON grants (user_name)",
            ]
        ),
        (
            "2026-12-02-handoffs-v1",
            [
                """
                CREATE TABLE handoffs (
                    id BIGSERIAL PRIMARY KEY,
                    project TEXT COLLATE "C",
                    model TEXT COLLATE "C" NOT NULL,
                    sender TEXT COLLATE "C" NOT NULL,
                    receiver TEXT COLLATE "C" NOT NULL,
                    status TEXT COLLATE "C" NOT NULL,
                    doc TEXT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX handoffs_by_receiver ON handoffs (receiver, id)",
                "CREATE INDEX handoffs_by_project ON handoffs (project, id)",
                "CREATE INDEX handoffs_by_model ON handoffs (model, id)",
                """
                CREATE TABLE gate_results (
                    id BIGSERIAL PRIMARY KEY,
                    name TEXT COLLATE "C" NOT NULL,
                    version BIGINT NOT NULL,
                    decision TEXT NOT NULL,
                    commit_sha TEXT,
                    actor TEXT,
                    at BIGINT NOT NULL,
                    result TEXT NOT NULL,
                    report TEXT NOT NULL,
                    promoted TEXT,
                    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE ON UPDATE CASCADE
                )
                """,
                "CREATE INDEX gate_results_by_version ON gate_results (name, version, id)",
            ]
        ),
        (
            "2026-12-02-deployments-v1",
            [
                "CREATE TABLE environments (name TEXT COLLATE \"C\" PRIMARY KEY, doc TEXT NOT NULL)",
                """
                CREATE TABLE deployments (
                    id BIGSERIAL PRIMARY KEY,
                    name TEXT COLLATE "C" NOT NULL,
                    version BIGINT NOT NULL,
                    environment TEXT COLLATE "C" NOT NULL REFERENCES environments (name),
                    status TEXT COLLATE "C" NOT NULL,
                    project TEXT COLLATE "C",
                    doc TEXT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX deployments_by_environment ON deployments (environment, status)",
                "CREATE INDEX deployments_by_version ON deployments (name, version)",
                "CREATE INDEX deployments_by_project ON deployments (project)",
            ]
        ),
        (
            "2026-12-02-ab-results-v1",
            [
                """
                CREATE TABLE ab_results (
                    id BIGSERIAL PRIMARY KEY,
                    project TEXT COLLATE "C" NOT NULL,
                    control_model TEXT COLLATE "C",
                    treatment_model TEXT COLLATE "C",
                    doc TEXT NOT NULL,
                    at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX ab_results_by_project ON ab_results (project, id)",
            ]
        ),
        (
            "2026-12-02-drift-windows-v1",
            [
                """
                CREATE TABLE drift_windows (
                    id BIGSERIAL PRIMARY KEY,
                    deployment BIGINT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
                    doc TEXT NOT NULL,
                    at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX drift_windows_by_deployment ON drift_windows (deployment, id)",
            ]
        ),
        (
            // Metric points are written only by the group statement, which joins every point to an
            // active run, and runs are never deleted from the table (deleting is a lifecycle stage),
            // so the foreign key only cost a trigger per point: log-batch of 1,000 points went from
            // 102,000 to 139,000 points/s without it (durable PostgreSQL, bench machine, same binary).
            "2026-12-03-metrics-without-run-trigger",
            ["ALTER TABLE metrics DROP CONSTRAINT IF EXISTS metrics_run_id_fkey"]
        ),
        (
            // Metric points are stored in chunks: one row per run, key and logging context holds up
            // to 1,000 points as three arrays (steps, timestamps, values; NaN as itself), sorted and
            // without repeats, with its first and last step and its count (to page without reading).
            // A row and an index entry per point made PostgreSQL's per-tuple work (heap, index, WAL,
            // the speculative insertion of ON CONFLICT) the whole cost of log-batch: 1,000-point
            // inserts ran at ~150 per second in pgbench on the bench machine, against ~2,300 per
            // second as one chunk with lz4 compression, and a point takes ~11 bytes instead of ~190.
            // Identical points (MLflow keeps one) are removed when read. `metrics` stays as a view,
            // a row per point, for migrate-store's checksums and for anyone reading with SQL.
            "2026-12-03-metric-chunks",
            [
                """
                CREATE TABLE metric_chunks (
                    run_id BIGINT NOT NULL,
                    key TEXT COLLATE "C" NOT NULL,
                    first_step BIGINT NOT NULL,
                    last_step BIGINT NOT NULL,
                    points INTEGER NOT NULL,
                    steps BIGINT[] NOT NULL,
                    timestamps BIGINT[] NOT NULL,
                    vals DOUBLE PRECISION[] NOT NULL,
                    model_id TEXT COLLATE "C",
                    dataset_name TEXT COLLATE "C",
                    dataset_digest TEXT COLLATE "C"
                )
                """,
                "CREATE INDEX metric_chunks_by_run_key ON metric_chunks (run_id, key, first_step)",
                // The small chunks that single-point logging leaves, for their compaction.
                "CREATE INDEX metric_chunks_small ON metric_chunks (run_id, key) WHERE points < 100",
                // lz4 where the server was built with it (Debian's and the managed services' are);
                // otherwise PostgreSQL's default compression.
                """
                DO $$ BEGIN
                    ALTER TABLE metric_chunks ALTER COLUMN steps SET COMPRESSION lz4, ALTER COLUMN timestamps SET COMPRESSION lz4,
                        ALTER COLUMN vals SET COMPRESSION lz4;
                EXCEPTION WHEN feature_not_supported THEN NULL;
                END $$
                """,
                """
                INSERT INTO metric_chunks (run_id, key, first_step, last_step, points, steps, timestamps, vals, model_id, dataset_name, dataset_digest)
                SELECT run_id, key, min(step), max(step), count(*),
                    array_agg(step ORDER BY step, timestamp, value, is_nan),
                    array_agg(timestamp ORDER BY step, timestamp, value, is_nan),
                    array_agg(CASE WHEN is_nan THEN 'NaN'::float8 ELSE value END ORDER BY step, timestamp, value, is_nan),
                    model_id, dataset_name, dataset_digest
                FROM (SELECT m.*, (row_number() OVER (PARTITION BY run_id, key, model_id, dataset_name, dataset_digest
                                                      ORDER BY step, timestamp, value, is_nan) - 1) / 1000 AS chunk
                      FROM metrics m) p
                GROUP BY run_id, key, model_id, dataset_name, dataset_digest, chunk
                """,
                "DROP TABLE metrics",
                """
                CREATE VIEW metrics AS
                SELECT c.run_id, c.key, u.step, u.timestamp, CASE WHEN u.value = 'NaN' THEN 0 ELSE u.value END AS value,
                    u.value = 'NaN' AS is_nan, c.model_id, c.dataset_name, c.dataset_digest
                FROM metric_chunks c, unnest(c.steps, c.timestamps, c.vals) AS u(step, timestamp, value)
                """,
            ]
        ),
        (
            // A page of runs and everything attached to them (``RunPartsStatement``), as a function so
            // that its plan is generic and made once per connection: as a prepared statement it was
            // planned anew for its first five runs on every connection, at 3.8 ms each.
            "2026-12-03-run-page-function",
            [
                """
                CREATE FUNCTION ensemble_run_page(page_ids bigint[])
                RETURNS TABLE (part_kind bigint, part_runs bigint[], part_a text[], part_b text[], part_c text[], part_d text[], part_e text[],
                               part_f text[], part_i bigint[], part_j bigint[], part_k bigint[], part_v float8[], part_flags boolean[])
                LANGUAGE plpgsql STABLE
                SET plan_cache_mode = force_generic_plan
                AS $fn$
                BEGIN
                    RETURN QUERY
                    SELECT 7::bigint, array_agg(id), array_agg(run_uuid), array_agg(name), array_agg(user_id), array_agg(status), array_agg(artifact_uri),
                            array_agg(lifecycle_stage), array_agg(experiment_id), array_agg(start_time), array_agg(coalesce(end_time, 0)), NULL::float8[],
                            array_agg(end_time IS NOT NULL)
                        FROM runs WHERE id = ANY(page_ids)
                    UNION ALL SELECT 0, array_agg(run_id), array_agg(key), array_agg(value), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
                        FROM params WHERE run_id = ANY(page_ids)
                    UNION ALL SELECT 1, array_agg(run_id), array_agg(key), array_agg(value), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
                        FROM tags WHERE run_id = ANY(page_ids)
                    UNION ALL SELECT 2, array_agg(run_id), array_agg(key), NULL, NULL, NULL, NULL, NULL, array_agg(step), array_agg(timestamp), NULL,
                            array_agg(value), array_agg(is_nan)
                        FROM latest_metrics WHERE run_id = ANY(page_ids)
                    UNION ALL SELECT 3, array_agg(run_id), array_agg(key), array_agg(value), NULL, NULL, NULL, NULL, array_agg(dataset_id), NULL, NULL, NULL, NULL
                        FROM input_tags WHERE run_id = ANY(page_ids)
                    UNION ALL SELECT 4, array_agg(i.run_id), array_agg(d.name), array_agg(d.digest), array_agg(d.source_type), array_agg(d.source),
                            array_agg(coalesce(d.schema, '')), array_agg(coalesce(d.profile, '')), array_agg(i.dataset_id), array_agg(i.position),
                            array_agg((CASE WHEN d.schema IS NULL THEN 0 ELSE 1 END + CASE WHEN d.profile IS NULL THEN 0 ELSE 2 END)::int8), NULL, NULL
                        FROM run_dataset_inputs i JOIN datasets d ON d.id = i.dataset_id WHERE i.run_id = ANY(page_ids)
                    UNION ALL SELECT 5, array_agg(run_id), array_agg(model_id), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
                        FROM run_model_inputs WHERE run_id = ANY(page_ids)
                    UNION ALL SELECT 6, array_agg(run_id), array_agg(model_id), NULL, NULL, NULL, NULL, NULL, array_agg(step), NULL, NULL, NULL, NULL
                        FROM run_model_outputs WHERE run_id = ANY(page_ids);
                END
                $fn$
                """,
            ]
        ),
    ]

    /// Applies the migrations not yet applied. An advisory lock (held to the end of each transaction)
    /// makes servers that start together take turns; each checks again under the lock.
    func migrate() async throws {
        // Under the lock too: CREATE TABLE IF NOT EXISTS races with itself across connections.
        try await client.withTransaction(logger: logger) { connection in
            _ = try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
            _ = try await connection.query("CREATE TABLE IF NOT EXISTS ensemble_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)", logger: logger)
        }
        for migration in Self.migrations {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
                let done = try await connection.query("SELECT 1 FROM ensemble_migrations WHERE id = \(migration.id)", logger: logger)
                for try await _ in done { return }
                for statement in migration.sql { try await connection.query(statement, logger: logger) }
                try await connection.query("INSERT INTO ensemble_migrations (id, applied_at) VALUES (\(migration.id), \(Self.now()))", logger: logger)
            }
        }
    }

    /// The advisory lock key migrations take ("ensemble" in ASCII).
    static let migrationLock: Int64 = 0x656E_7365_6D62_6C65
}
