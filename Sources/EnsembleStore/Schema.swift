import GRDB

extension SQLiteStore {
    /// Schema migrations, applied in order on every start. Identifiers are stable forever: add new
    /// migrations, never edit a shipped one.
    static func migrator(artifactRootURI: String) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("2026-11-25-tracking-v1") { db in
            try db.execute(sql: """
                CREATE TABLE experiments (
                    experiment_id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE,
                    artifact_location TEXT NOT NULL,
                    lifecycle_stage TEXT NOT NULL CHECK (lifecycle_stage IN ('active', 'deleted')),
                    creation_time INTEGER NOT NULL,
                    last_update_time INTEGER NOT NULL
                );
                CREATE TABLE experiment_tags (
                    experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id) ON DELETE CASCADE,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (experiment_id, key)
                ) WITHOUT ROWID;
                CREATE TABLE runs (
                    id INTEGER PRIMARY KEY,
                    run_uuid TEXT NOT NULL UNIQUE,
                    experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
                    name TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED')),
                    start_time INTEGER NOT NULL,
                    end_time INTEGER,
                    artifact_uri TEXT NOT NULL,
                    lifecycle_stage TEXT NOT NULL CHECK (lifecycle_stage IN ('active', 'deleted')),
                    deleted_time INTEGER
                );
                CREATE INDEX runs_by_experiment ON runs(experiment_id, lifecycle_stage, start_time DESC, run_uuid);
                CREATE TABLE params (
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (run_id, key)
                ) WITHOUT ROWID;
                CREATE INDEX params_by_key ON params(key, value);
                CREATE TABLE tags (
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (run_id, key)
                ) WITHOUT ROWID;
                CREATE INDEX tags_by_key ON tags(key, value);
                -- One row per point. The primary key is also the history index (run, key, step, ...)
                -- and de-duplicates identical points, as MLflow does.
                CREATE TABLE metrics (
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    key TEXT NOT NULL,
                    step INTEGER NOT NULL,
                    timestamp INTEGER NOT NULL,
                    value REAL NOT NULL,
                    is_nan INTEGER NOT NULL CHECK (is_nan IN (0, 1)),
                    model_id TEXT,
                    dataset_name TEXT,
                    dataset_digest TEXT,
                    PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)
                ) WITHOUT ROWID;
                -- The latest point per (run, key), maintained on write: max of (step, timestamp, value).
                CREATE TABLE latest_metrics (
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    key TEXT NOT NULL,
                    step INTEGER NOT NULL,
                    timestamp INTEGER NOT NULL,
                    value REAL NOT NULL,
                    is_nan INTEGER NOT NULL CHECK (is_nan IN (0, 1)),
                    PRIMARY KEY (run_id, key)
                ) WITHOUT ROWID;
                CREATE INDEX latest_metrics_by_key ON latest_metrics(key, value);
                CREATE TABLE datasets (
                    id INTEGER PRIMARY KEY,
                    experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
                    name TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    source_type TEXT NOT NULL,
                    source TEXT NOT NULL,
                    schema TEXT,
                    profile TEXT,
                    UNIQUE (experiment_id, name, digest)
                );
                CREATE TABLE run_dataset_inputs (
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
                    position INTEGER NOT NULL,
                    PRIMARY KEY (run_id, dataset_id)
                ) WITHOUT ROWID;
                CREATE INDEX run_dataset_inputs_by_dataset ON run_dataset_inputs(dataset_id);
                CREATE TABLE input_tags (
                    run_id INTEGER NOT NULL,
                    dataset_id INTEGER NOT NULL,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (run_id, dataset_id, key),
                    FOREIGN KEY (run_id, dataset_id) REFERENCES run_dataset_inputs(run_id, dataset_id) ON DELETE CASCADE
                ) WITHOUT ROWID;
                CREATE TABLE run_model_inputs (
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    model_id TEXT NOT NULL,
                    PRIMARY KEY (run_id, model_id)
                ) WITHOUT ROWID;
                CREATE TABLE run_model_outputs (
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    model_id TEXT NOT NULL,
                    step INTEGER NOT NULL,
                    PRIMARY KEY (run_id, model_id)
                ) WITHOUT ROWID;
                """)
            let now = SQLiteStore.now()
            try db.execute(
                sql: "INSERT INTO experiments VALUES (0, 'Default', ?, 'active', ?, ?)",
                arguments: [artifactRootURI + "0", now, now]
            )
        }
        migrator.registerMigration("2026-11-25-logged-models-v1") { db in
            try db.execute(sql: """
                CREATE TABLE logged_models (
                    model_id TEXT PRIMARY KEY,
                    experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
                    name TEXT NOT NULL,
                    model_type TEXT,
                    source_run_id TEXT,
                    status TEXT NOT NULL CHECK (status IN ('LOGGED_MODEL_PENDING', 'LOGGED_MODEL_READY', 'LOGGED_MODEL_UPLOAD_FAILED')),
                    status_message TEXT,
                    artifact_uri TEXT NOT NULL,
                    lifecycle_stage TEXT NOT NULL CHECK (lifecycle_stage IN ('active', 'deleted')),
                    creation_timestamp INTEGER NOT NULL,
                    last_updated_timestamp INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX logged_models_by_experiment ON logged_models(experiment_id, lifecycle_stage, creation_timestamp DESC);
                CREATE INDEX logged_models_by_run ON logged_models(source_run_id);
                CREATE TABLE logged_model_tags (
                    model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (model_id, key)
                ) WITHOUT ROWID;
                CREATE TABLE logged_model_params (
                    model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (model_id, key)
                ) WITHOUT ROWID;
                -- Points logged with a model id, per model. The run's own history keeps one row per
                -- point; a point re-logged for a model (as log_model does) is linked here, so one point
                -- can belong to several models of the same run.
                CREATE TABLE logged_model_metrics (
                    model_id TEXT NOT NULL,
                    key TEXT NOT NULL,
                    step INTEGER NOT NULL,
                    timestamp INTEGER NOT NULL,
                    value REAL NOT NULL,
                    is_nan INTEGER NOT NULL CHECK (is_nan IN (0, 1)),
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    dataset_name TEXT,
                    dataset_digest TEXT,
                    PRIMARY KEY (model_id, key, step, timestamp, value, is_nan)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("2026-11-25-registry-v1") { db in
            try db.execute(sql: """
                CREATE TABLE registered_models (
                    name TEXT PRIMARY KEY,
                    creation_timestamp INTEGER NOT NULL,
                    last_updated_timestamp INTEGER NOT NULL,
                    description TEXT,
                    -- Version numbers are never reused: the next one is kept here, not derived.
                    next_version INTEGER NOT NULL DEFAULT 1
                ) WITHOUT ROWID;
                CREATE TABLE registered_model_tags (
                    name TEXT NOT NULL REFERENCES registered_models(name) ON DELETE CASCADE ON UPDATE CASCADE,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (name, key)
                ) WITHOUT ROWID;
                CREATE TABLE model_versions (
                    name TEXT NOT NULL REFERENCES registered_models(name) ON DELETE CASCADE ON UPDATE CASCADE,
                    version INTEGER NOT NULL,
                    creation_timestamp INTEGER NOT NULL,
                    last_updated_timestamp INTEGER NOT NULL,
                    current_stage TEXT NOT NULL CHECK (current_stage IN ('None', 'Staging', 'Production', 'Archived')),
                    description TEXT,
                    source TEXT NOT NULL,
                    storage_location TEXT NOT NULL,
                    run_id TEXT,
                    run_link TEXT,
                    model_id TEXT,
                    PRIMARY KEY (name, version)
                ) WITHOUT ROWID;
                CREATE INDEX model_versions_by_run ON model_versions(run_id);
                CREATE TABLE model_version_tags (
                    name TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (name, version, key),
                    FOREIGN KEY (name, version) REFERENCES model_versions(name, version) ON DELETE CASCADE ON UPDATE CASCADE
                ) WITHOUT ROWID;
                CREATE TABLE registered_model_aliases (
                    name TEXT NOT NULL,
                    alias TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    PRIMARY KEY (name, alias),
                    FOREIGN KEY (name, version) REFERENCES model_versions(name, version) ON DELETE CASCADE ON UPDATE CASCADE
                ) WITHOUT ROWID;
                -- Append-only: alias and stage changes, version creation and deletion, per model name.
                CREATE TABLE registry_events (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    version INTEGER,
                    kind TEXT NOT NULL,
                    detail TEXT NOT NULL,
                    actor TEXT,
                    timestamp INTEGER NOT NULL
                );
                CREATE INDEX registry_events_by_name ON registry_events(name, id);
                """)
        }
        migrator.registerMigration("2026-11-25-stored-datasets-v1") { db in
            try db.execute(sql: """
                -- Content-addressed datasets kept by Ensemble (ensemble dataset add). Versions are
                -- immutable; the file bytes live in the content store under their SHA-256.
                CREATE TABLE stored_dataset_versions (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    digest TEXT NOT NULL,
                    description TEXT,
                    file_count INTEGER NOT NULL,
                    total_size INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    created_by TEXT,
                    UNIQUE (name, version)
                );
                CREATE INDEX stored_dataset_versions_by_digest ON stored_dataset_versions(name, digest);
                CREATE TABLE stored_dataset_files (
                    version_id INTEGER NOT NULL REFERENCES stored_dataset_versions(id) ON DELETE CASCADE,
                    path TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    sha256 TEXT NOT NULL,
                    PRIMARY KEY (version_id, path)
                ) WITHOUT ROWID;
                CREATE INDEX stored_dataset_files_by_content ON stored_dataset_files(sha256);
                """)
        }
        migrator.registerMigration("2026-11-25-team-v1") { db in
            try db.execute(sql: """
                -- The team and its projects, as JSON documents (their shape evolves with the product);
                -- updates and events are rows, append-only.
                CREATE TABLE team_roles (id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;
                CREATE TABLE team_people (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, doc TEXT NOT NULL) WITHOUT ROWID;
                CREATE TABLE team_projects (id TEXT PRIMARY KEY, doc TEXT NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE team_updates (
                    id INTEGER PRIMARY KEY, project TEXT NOT NULL, author TEXT NOT NULL,
                    done TEXT NOT NULL, next TEXT NOT NULL, blocked TEXT NOT NULL, at INTEGER NOT NULL
                );
                CREATE INDEX team_updates_by_project ON team_updates(project, at);
                CREATE TABLE team_events (id INTEGER PRIMARY KEY, project TEXT, kind TEXT NOT NULL, summary TEXT NOT NULL, actor TEXT, at INTEGER NOT NULL);
                CREATE INDEX team_events_by_project ON team_events(project, at);
                """)
        }
        migrator.registerMigration("2026-12-02-identity-v1") { db in
            try db.execute(sql: """
                -- Accounts. password_hash is bcrypt; NULL for service accounts (tokens only).
                CREATE TABLE users (
                    name TEXT PRIMARY KEY,
                    display_name TEXT NOT NULL,
                    email TEXT NOT NULL,
                    role TEXT NOT NULL,
                    disabled INTEGER NOT NULL DEFAULT 0,
                    service_account INTEGER NOT NULL DEFAULT 0,
                    person_id TEXT,
                    password_hash TEXT,
                    created_at INTEGER NOT NULL,
                    password_changed_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                -- API tokens by their SHA-256; the token itself is never stored.
                CREATE TABLE api_tokens (
                    id INTEGER PRIMARY KEY,
                    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                    label TEXT NOT NULL,
                    hint TEXT NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    created_at INTEGER NOT NULL,
                    expires_at INTEGER,
                    last_used_at INTEGER,
                    revoked_at INTEGER
                );
                CREATE INDEX api_tokens_by_user ON api_tokens(user_name);
                -- Append-only: every write and every security event.
                CREATE TABLE audit_log (
                    id INTEGER PRIMARY KEY,
                    at INTEGER NOT NULL,
                    actor TEXT,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL,
                    status INTEGER NOT NULL,
                    request_id TEXT,
                    client TEXT,
                    detail TEXT NOT NULL
                );
                CREATE INDEX audit_log_by_actor ON audit_log(actor, id);
                CREATE INDEX audit_log_by_time ON audit_log(at);
                """)
        }
        migrator.registerMigration("2026-12-02-grants-v1") { db in
            try db.execute(sql: """
                -- Per-resource permissions: READ, EDIT, MANAGE (the creator of a resource gets MANAGE).
                CREATE TABLE grants (
                    kind TEXT NOT NULL,
                    resource TEXT NOT NULL,
                    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                    permission TEXT NOT NULL,
                    PRIMARY KEY (kind, resource, user_name)
                ) WITHOUT ROWID;
                CREATE INDEX grants_by_user ON grants(user_name);
                """)
        }
        migrator.registerMigration("2026-12-02-expiring-values-v1") { db in
            try db.execute(sql: """
                -- Web sessions and other short-lived values, keyed by a SHA-256 of their id.
                CREATE TABLE expiring_values (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at INTEGER) WITHOUT ROWID;
                CREATE INDEX expiring_values_by_expiry ON expiring_values(expires_at);
                """)
        }
        migrator.registerMigration("2026-12-02-handoffs-v1") { db in
            try db.execute(sql: """
                -- Handoffs from the person who built a model to the person who runs it: the record is a
                -- JSON document (contract, sets, checks, history); the columns are what lists filter on.
                CREATE TABLE handoffs (
                    id INTEGER PRIMARY KEY,
                    project TEXT,
                    model TEXT NOT NULL,
                    sender TEXT NOT NULL,
                    receiver TEXT NOT NULL,
                    status TEXT NOT NULL,
                    doc TEXT NOT NULL,
                    updated_at INTEGER NOT NULL
                );
                CREATE INDEX handoffs_by_receiver ON handoffs(receiver, id);
                CREATE INDEX handoffs_by_project ON handoffs(project, id);
                CREATE INDEX handoffs_by_model ON handoffs(model, id);
                -- Release gate results, kept on the model version they judged.
                CREATE TABLE gate_results (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    decision TEXT NOT NULL,
                    commit_sha TEXT,
                    actor TEXT,
                    at INTEGER NOT NULL,
                    result TEXT NOT NULL,
                    report TEXT NOT NULL,
                    promoted TEXT,
                    FOREIGN KEY (name, version) REFERENCES model_versions(name, version) ON DELETE CASCADE ON UPDATE CASCADE
                );
                CREATE INDEX gate_results_by_version ON gate_results(name, version, id);
                """)
        }
        migrator.registerMigration("2026-12-02-deployments-v1") { db in
            try db.execute(sql: """
                -- Where models run: environments, and deployments of registered versions with their history
                -- (JSON documents; the columns are what lists filter on).
                CREATE TABLE environments (name TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;
                CREATE TABLE deployments (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    environment TEXT NOT NULL REFERENCES environments(name),
                    status TEXT NOT NULL,
                    project TEXT,
                    doc TEXT NOT NULL,
                    updated_at INTEGER NOT NULL
                );
                CREATE INDEX deployments_by_environment ON deployments(environment, status);
                CREATE INDEX deployments_by_version ON deployments(name, version);
                CREATE INDEX deployments_by_project ON deployments(project);
                """)
        }
        migrator.registerMigration("2026-12-02-ab-results-v1") { db in
            try db.execute(sql: """
                -- A/B analyses kept on a project, linked to the two model versions they compared.
                CREATE TABLE ab_results (
                    id INTEGER PRIMARY KEY,
                    project TEXT NOT NULL,
                    control_model TEXT,
                    treatment_model TEXT,
                    doc TEXT NOT NULL,
                    at INTEGER NOT NULL
                );
                CREATE INDEX ab_results_by_project ON ab_results(project, id);
                """)
        }
        migrator.registerMigration("2026-12-02-drift-windows-v1") { db in
            try db.execute(sql: """
                -- Windows of production data compared with a deployment's reference, oldest first.
                CREATE TABLE drift_windows (
                    id INTEGER PRIMARY KEY,
                    deployment INTEGER NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
                    doc TEXT NOT NULL,
                    at INTEGER NOT NULL
                );
                CREATE INDEX drift_windows_by_deployment ON drift_windows(deployment, id);
                """)
        }
        return migrator
    }
}
