import EnsembleCore
import PostgresNIO

extension PostgresStore: HandoffStore {
    public func createHandoff(_ handoff: Handoff) async throws -> Handoff {
        try handoff.validate()
        let now = Self.now()
        return try await transaction { [logger] db in
            var h = handoff
            h.status = .draft
            h.revision = 1
            h.createdAt = now
            h.updatedAt = now
            if h.events.isEmpty { h.events = [HandoffEvent(kind: "created", by: h.sender, at: now)] }
            guard
                let id = try await db.value(
                    """
                    INSERT INTO handoffs (project, model, sender, receiver, status, doc, updated_at)
                    VALUES (\(h.project), \(h.model), \(h.sender), \(h.receiver), \(h.status.rawValue), '', \(now)) RETURNING id
                    """, Int64.self, logger: logger)
            else { throw EnsembleError(.internalError, "The handoff got no id.") }
            h.id = id
            try await db.run("UPDATE handoffs SET doc = \(try Self.encode(h)) WHERE id = \(id)", logger: logger)
            if let project = h.project {
                try await Self.event(
                    db, project: project, kind: "handoff_created", summary: "handoff #\(h.id) '\(h.title)' drafted for \(h.receiver)", actor: h.sender, at: now,
                    logger: logger)
            }
            return h
        }
    }

    public func handoff(id: Int64) async throws -> Handoff {
        try await read { [logger] db in try await Self.loadHandoff(db, id, logger: logger) }
    }

    static func loadHandoff(_ db: PostgresConnection, _ id: Int64, lock: Bool = false, logger: Logger) async throws -> Handoff {
        let doc =
            lock
            ? try await db.value("SELECT doc FROM handoffs WHERE id = \(id) FOR UPDATE", String.self, logger: logger)
            : try await db.value("SELECT doc FROM handoffs WHERE id = \(id)", String.self, logger: logger)
        guard let doc else { throw EnsembleError.notFound("No handoff #\(id).") }
        return try decode(Handoff.self, doc)
    }

    public func handoffs(_ query: HandoffQuery) async throws -> [Handoff] {
        var q = SQLBuilder()
        var conditions = ["true"]
        if let v = query.receiver { conditions.append("receiver = \(q.bind(v))") }
        if let v = query.sender { conditions.append("sender = \(q.bind(v))") }
        if let v = query.project { conditions.append("project = \(q.bind(v))") }
        if let v = query.status { conditions.append("status = \(q.bind(v.rawValue))") }
        if let v = query.model { conditions.append("model = \(q.bind(v))") }
        let limit = q.bind(Int64(max(1, min(query.limit, 10_000))))
        q.append("SELECT doc FROM handoffs WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT \(limit)")
        let statement = q.query
        return try await read { [logger] db in try await Self.docs(db, statement, as: Handoff.self, logger: logger) }
    }

    public func updateHandoff(id: Int64, _ change: @Sendable (inout Handoff) throws -> Void) async throws -> Handoff {
        let now = Self.now()
        return try await transaction { [logger] db in
            // The row stays locked to the commit: two reviewers' changes apply one after the other.
            let before = try await Self.loadHandoff(db, id, lock: true, logger: logger)
            var h = before
            try change(&h)
            try h.validate()
            h.id = before.id
            h.createdAt = before.createdAt
            h.revision = before.revision + 1
            h.updatedAt = now
            try await db.run(
                """
                UPDATE handoffs SET project = \(h.project), model = \(h.model), sender = \(h.sender), receiver = \(h.receiver), status = \(h.status.rawValue),
                    doc = \(try Self.encode(h)), updated_at = \(now)
                WHERE id = \(id)
                """, logger: logger)
            if let project = h.project, before.status != h.status {
                try await Self.event(
                    db, project: project, kind: "handoff_\(h.status.rawValue)", summary: "handoff #\(h.id) '\(h.title)' \(h.status.rawValue)",
                    actor: h.events.last?.by, at: now, logger: logger)
            }
            if before.status != .accepted, h.status == .accepted, case .version(let name, let version) = try Handoff.parseModel(h.model),
                try await db.value("SELECT 1::bigint FROM model_versions WHERE name = \(name) AND version = \(version)", Int64.self, logger: logger) != nil
            {
                try await Self.recordEvent(
                    db, name: name, version: version, kind: .handoffAccepted, detail: "handoff #\(h.id) from \(h.sender) accepted by \(h.receiver)",
                    actor: h.events.last?.by, timestamp: now, logger: logger)
            }
            return h
        }
    }

    public func recordGate(_ record: GateRecord, promote: String?) async throws -> GateRecord {
        try record.validate(promote: promote)
        let now = Self.now()
        return try await transaction { [logger] db in
            try await Self.requireVersion(db, record.name, record.version, logger: logger)
            var r = record
            r.at = now
            r.promoted = promote
            guard
                let id = try await db.value(
                    """
                    INSERT INTO gate_results (name, version, decision, commit_sha, actor, at, result, report, promoted)
                    VALUES (\(r.name), \(r.version), \(r.decision), \(r.commit), \(r.actor), \(now), \(r.result), \(r.report), \(promote)) RETURNING id
                    """, Int64.self, logger: logger)
            else { throw EnsembleError(.internalError, "The gate result got no id.") }
            r.id = id
            let commit = r.commit.map { " at \($0.prefix(12))" } ?? ""
            try await Self.recordEvent(
                db, name: r.name, version: r.version, kind: .gateRecorded, detail: "release gate: \(r.decision)\(commit)", actor: r.actor, timestamp: now,
                logger: logger)
            if let promote {
                let previous = try await db.value(
                    "SELECT version FROM registered_model_aliases WHERE name = \(r.name) AND alias = \(promote) FOR UPDATE", Int64.self, logger: logger)
                try await db.run(
                    """
                    INSERT INTO registered_model_aliases (name, alias, version) VALUES (\(r.name), \(promote), \(r.version))
                    ON CONFLICT (name, alias) DO UPDATE SET version = EXCLUDED.version
                    """, logger: logger)
                let detail = (previous.map { "\(promote): \($0) -> \(r.version)" } ?? "\(promote) -> \(r.version)") + " (gate passed)"
                try await Self.recordEvent(db, name: r.name, version: r.version, kind: .aliasSet, detail: detail, actor: r.actor, timestamp: now, logger: logger)
            }
            return r
        }
    }

    public func gateRecords(name: String, version: Int64?) async throws -> [GateRecord] {
        try await read { [logger] db in
            typealias Row = (Int64, String, Int64, String, String?, String?, Int64, String, String, String?)
            let columns = "id, name, version, decision, commit_sha, actor, at, result, report, promoted"
            let rows =
                if let version {
                    try await db.rows(
                        "SELECT \(unescaped: columns) FROM gate_results WHERE name = \(name) AND version = \(version) ORDER BY id DESC", Row.self, logger: logger)
                } else {
                    try await db.rows("SELECT \(unescaped: columns) FROM gate_results WHERE name = \(name) ORDER BY id DESC", Row.self, logger: logger)
                }
            return rows.map { row in
                var r = GateRecord(
                    name: row.1, version: row.2, decision: row.3, commit: row.4, actor: row.5, result: row.7, report: row.8, promoted: row.9)
                r.id = row.0
                r.at = row.6
                return r
            }
        }
    }
}

extension PostgresStore: DeploymentStore {
    public func environments() async throws -> [DeploymentEnvironment] {
        try await read { [logger] db in try await Self.docs(db, "SELECT doc FROM environments ORDER BY name", as: DeploymentEnvironment.self, logger: logger) }
    }

    public func saveEnvironment(_ environment: DeploymentEnvironment) async throws {
        try environment.validate()
        let doc = try Self.encode(environment), name = environment.name
        try await transaction { [logger] db in
            try await db.run("INSERT INTO environments (name, doc) VALUES (\(name), \(doc)) ON CONFLICT (name) DO UPDATE SET doc = EXCLUDED.doc", logger: logger)
        }
    }

    public func recordDeployment(_ report: DeploymentReport, actor: String?) async throws -> Deployment {
        try report.validate()
        let now = Self.now()
        return try await transaction { [logger] db in
            try await Self.requireVersion(db, report.name, report.version, logger: logger)
            // The environment's row is locked: reports for one environment take turns, so two servers
            // cannot both hand out the last of its traffic.
            guard try await db.value("SELECT name FROM environments WHERE name = \(report.environment) FOR UPDATE", String.self, logger: logger) != nil
            else {
                let known = try await db.column("SELECT name FROM environments ORDER BY name", String.self, logger: logger)
                throw EnsembleError.invalid(
                    "environment: there is no environment '\(report.environment)'"
                        + (known.isEmpty
                            ? "; add one with `ensemble deploy env add NAME --kind online`." : "; the environments are \(known.joined(separator: ", "))."))
            }
            if let project = report.project { _ = try await Self.loadProject(db, project, logger: logger) }
            let active = try await Self.docs(
                db, "SELECT doc FROM deployments WHERE environment = \(report.environment) AND status IN ('deploying', 'live')", as: Deployment.self,
                logger: logger)
            var deployment = try Deployment.next(for: report, active: active, actor: actor, now: now)
            if deployment.id == 0 {
                deployment.createdAt = now
                guard
                    let id = try await db.value(
                        """
                        INSERT INTO deployments (name, version, environment, status, project, doc, updated_at)
                        VALUES (\(deployment.name), \(deployment.version), \(deployment.environment), \(deployment.status.rawValue), \(deployment.project), '', \(now))
                        RETURNING id
                        """, Int64.self, logger: logger)
                else { throw EnsembleError(.internalError, "The deployment got no id.") }
                deployment.id = id
            }
            try await db.run(
                """
                UPDATE deployments SET status = \(deployment.status.rawValue), project = \(deployment.project), doc = \(try Self.encode(deployment)), updated_at = \(now)
                WHERE id = \(deployment.id)
                """, logger: logger)
            let share = deployment.trafficShare
            try await Self.recordEvent(
                db, name: deployment.name, version: deployment.version, kind: .deployment,
                detail: "\(deployment.environment): \(deployment.status.rawValue)\(share)" + (report.commit.map { " (\($0.prefix(12)))" } ?? ""), actor: actor,
                timestamp: now, logger: logger)
            if let projectID = deployment.project {
                try await Self.event(
                    db, project: projectID, kind: "deployment_\(deployment.status.rawValue)",
                    summary: "\(deployment.model) \(deployment.status.rawValue) in \(deployment.environment)\(share)", actor: actor, at: now, logger: logger)
                if deployment.status == .live {
                    var project = try await Self.loadProject(db, projectID, lock: true, logger: logger)
                    project.markLiveDeployment()
                    try await db.run("UPDATE team_projects SET doc = \(try Self.encode(project)), updated_at = \(now) WHERE id = \(projectID)", logger: logger)
                }
            }
            return deployment
        }
    }

    public func deployment(id: Int64) async throws -> Deployment {
        try await read { [logger] db in
            guard let doc = try await db.value("SELECT doc FROM deployments WHERE id = \(id)", String.self, logger: logger) else {
                throw EnsembleError.notFound("No deployment #\(id).")
            }
            return try Self.decode(Deployment.self, doc)
        }
    }

    public func deployments(_ query: DeploymentQuery) async throws -> [Deployment] {
        var q = SQLBuilder()
        var conditions = ["true"]
        if let v = query.environment { conditions.append("environment = \(q.bind(v))") }
        if let v = query.name { conditions.append("name = \(q.bind(v))") }
        if let v = query.version { conditions.append("version = \(q.bind(v))") }
        if let v = query.project { conditions.append("project = \(q.bind(v))") }
        if query.activeOnly { conditions.append("status IN ('deploying', 'live')") }
        q.append("SELECT doc FROM deployments WHERE \(conditions.joined(separator: " AND ")) ORDER BY updated_at DESC, id DESC LIMIT 1000")
        let statement = q.query
        return try await read { [logger] db in try await Self.docs(db, statement, as: Deployment.self, logger: logger) }
    }

    // MARK: A/B results

    public func saveABResult(_ result: ABResult) async throws -> ABResult {
        try result.validateTitle()
        let now = Self.now()
        return try await transaction { [logger] db in
            _ = try await Self.loadProject(db, result.project, logger: logger)
            for uri in [result.controlModel, result.treatmentModel].compactMap({ $0 }) {
                guard case .version(let name, let version) = try Handoff.parseModel(uri) else {
                    throw EnsembleError.invalid("'\(uri)': an A/B result links registered versions, models:/NAME/VERSION.")
                }
                try await Self.requireVersion(db, name, version, logger: logger)
            }
            var r = result
            r.at = now
            guard
                let id = try await db.value(
                    """
                    INSERT INTO ab_results (project, control_model, treatment_model, doc, at)
                    VALUES (\(r.project), \(r.controlModel), \(r.treatmentModel), '', \(now)) RETURNING id
                    """, Int64.self, logger: logger)
            else { throw EnsembleError(.internalError, "The A/B result got no id.") }
            r.id = id
            try await db.run("UPDATE ab_results SET doc = \(try Self.encode(r)) WHERE id = \(id)", logger: logger)
            try await Self.event(db, project: r.project, kind: "ab_result", summary: "A/B test '\(r.title)': \(r.summary)", actor: r.actor, at: now, logger: logger)
            return r
        }
    }

    public func abResults(project: String?, model: String?) async throws -> [ABResult] {
        try await read { [logger] db in
            if let model {
                return try await Self.docs(
                    db, "SELECT doc FROM ab_results WHERE control_model = \(model) OR treatment_model = \(model) ORDER BY id DESC", as: ABResult.self,
                    logger: logger)
            } else if let project {
                return try await Self.docs(db, "SELECT doc FROM ab_results WHERE project = \(project) ORDER BY id DESC", as: ABResult.self, logger: logger)
            }
            return try await Self.docs(db, "SELECT doc FROM ab_results ORDER BY id DESC LIMIT 500", as: ABResult.self, logger: logger)
        }
    }

    public func abResult(id: Int64) async throws -> ABResult {
        try await read { [logger] db in
            guard let doc = try await db.value("SELECT doc FROM ab_results WHERE id = \(id)", String.self, logger: logger) else {
                throw EnsembleError.notFound("No A/B result #\(id).")
            }
            return try Self.decode(ABResult.self, doc)
        }
    }

    // MARK: Drift windows

    public func saveDriftWindow(_ window: DriftWindow) async throws -> DriftWindow {
        try window.validate()
        let now = Self.now()
        return try await transaction { [logger] db in
            guard let doc = try await db.value("SELECT doc FROM deployments WHERE id = \(window.deployment)", String.self, logger: logger) else {
                throw EnsembleError.notFound("No deployment #\(window.deployment).")
            }
            let deployment = try Self.decode(Deployment.self, doc)
            var w = window
            w.at = now
            guard
                let id = try await db.value(
                    "INSERT INTO drift_windows (deployment, doc, at) VALUES (\(w.deployment), '', \(now)) RETURNING id", Int64.self, logger: logger)
            else { throw EnsembleError(.internalError, "The drift window got no id.") }
            w.id = id
            try await db.run("UPDATE drift_windows SET doc = \(try Self.encode(w)) WHERE id = \(id)", logger: logger)
            if w.drifted, let project = deployment.project {
                let columns = w.columns.filter(\.drifted).map(\.column)
                try await Self.event(
                    db, project: project, kind: "drift_detected",
                    summary:
                        "\(deployment.model) in \(deployment.environment), window \(w.label): \(columns.count) of \(w.columns.count) columns drifted (\(columns.prefix(5).joined(separator: ", ")))",
                    actor: w.actor, at: now, logger: logger)
            }
            return w
        }
    }

    public func driftWindows(deployment: Int64) async throws -> [DriftWindow] {
        try await read { [logger] db in
            try await Self.docs(db, "SELECT doc FROM drift_windows WHERE deployment = \(deployment) ORDER BY id", as: DriftWindow.self, logger: logger)
        }
    }
}
