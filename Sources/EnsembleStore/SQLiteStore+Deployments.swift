import EnsembleCore
import Foundation
import GRDB

extension SQLiteStore: DeploymentStore {
    public func environments() async throws -> [DeploymentEnvironment] {
        try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT doc FROM environments ORDER BY name").map { try Self.decode(DeploymentEnvironment.self, $0) }
        }
    }

    public func saveEnvironment(_ environment: DeploymentEnvironment) async throws {
        try environment.validate()
        let doc = try Self.encode(environment), name = environment.name
        try await pool.write { db in
            try db.execute(sql: "INSERT INTO environments (name, doc) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET doc = excluded.doc", arguments: [name, doc])
        }
    }

    public func recordDeployment(_ report: DeploymentReport, actor: String?) async throws -> Deployment {
        try report.validate()
        let now = Self.now()
        return try await pool.write { db in
            _ = try Self.fetchVersion(db, report.name, report.version)
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM environments WHERE name = ?", arguments: [report.environment]) == true else {
                let known = try String.fetchAll(db, sql: "SELECT name FROM environments ORDER BY name")
                throw EnsembleError.invalid(
                    "environment: there is no environment '\(report.environment)'"
                        + (known.isEmpty ? "; add one with `ensemble deploy env add NAME --kind online`." : "; the environments are \(known.joined(separator: ", "))."))
            }
            if let project = report.project { _ = try Self.loadProject(db, project) }
            let active = try String.fetchAll(
                db, sql: "SELECT doc FROM deployments WHERE environment = ? AND status IN ('deploying', 'live')", arguments: [report.environment]
            ).map { try Self.decode(Deployment.self, $0) }
            var deployment = try Deployment.next(for: report, active: active, actor: actor, now: now)
            if deployment.id == 0 {
                deployment.createdAt = now
                try db.execute(
                    sql: "INSERT INTO deployments (name, version, environment, status, project, doc, updated_at) VALUES (?, ?, ?, ?, ?, '', ?)",
                    arguments: [deployment.name, deployment.version, deployment.environment, deployment.status.rawValue, deployment.project, now])
                deployment.id = db.lastInsertedRowID
            }
            try db.execute(
                sql: "UPDATE deployments SET status = ?, project = ?, doc = ?, updated_at = ? WHERE id = ?",
                arguments: [deployment.status.rawValue, deployment.project, try Self.encode(deployment), now, deployment.id])
            let share = deployment.trafficShare
            try Self.recordEvent(
                db, name: deployment.name, version: deployment.version, kind: .deployment,
                detail: "\(deployment.environment): \(deployment.status.rawValue)\(share)" + (report.commit.map { " (\($0.prefix(12)))" } ?? ""), actor: actor, timestamp: now)
            if let projectID = deployment.project {
                try Self.event(db, project: projectID, kind: "deployment_\(deployment.status.rawValue)",
                               summary: "\(deployment.model) \(deployment.status.rawValue) in \(deployment.environment)\(share)", actor: actor, at: now)
                if deployment.status == .live {
                    var project = try Self.loadProject(db, projectID)
                    project.markLiveDeployment()
                    try db.execute(sql: "UPDATE team_projects SET doc = ?, updated_at = ? WHERE id = ?", arguments: [try Self.encode(project), now, projectID])
                }
            }
            return deployment
        }
    }

    public func deployment(id: Int64) async throws -> Deployment {
        try await pool.read { db in
            guard let doc = try String.fetchOne(db, sql: "SELECT doc FROM deployments WHERE id = ?", arguments: [id]) else {
                throw EnsembleError.notFound("No deployment #\(id).")
            }
            return try Self.decode(Deployment.self, doc)
        }
    }

    public func deployments(_ query: DeploymentQuery) async throws -> [Deployment] {
        var conditions: [String] = [], args: [(any DatabaseValueConvertible)?] = []
        if let v = query.environment { conditions.append("environment = ?"); args.append(v) }
        if let v = query.name { conditions.append("name = ?"); args.append(v) }
        if let v = query.version { conditions.append("version = ?"); args.append(v) }
        if let v = query.project { conditions.append("project = ?"); args.append(v) }
        if query.activeOnly { conditions.append("status IN ('deploying', 'live')") }
        let sql = "SELECT doc FROM deployments" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")) + " ORDER BY updated_at DESC, id DESC LIMIT 1000"
        let arguments = StatementArguments(args)
        return try await pool.read { db in
            try String.fetchAll(db, sql: sql, arguments: arguments).map { try Self.decode(Deployment.self, $0) }
        }
    }

    // MARK: A/B results

    public func saveABResult(_ result: ABResult) async throws -> ABResult {
        try result.validateTitle()
        let now = Self.now()
        return try await pool.write { db in
            _ = try Self.loadProject(db, result.project)
            for uri in [result.controlModel, result.treatmentModel].compactMap({ $0 }) {
                guard case .version(let name, let version) = try Handoff.parseModel(uri) else {
                    throw EnsembleError.invalid("'\(uri)': an A/B result links registered versions, models:/NAME/VERSION.")
                }
                _ = try Self.fetchVersion(db, name, version)
            }
            var r = result
            r.at = now
            try db.execute(
                sql: "INSERT INTO ab_results (project, control_model, treatment_model, doc, at) VALUES (?, ?, ?, '', ?)",
                arguments: [r.project, r.controlModel, r.treatmentModel, now])
            r.id = db.lastInsertedRowID
            try db.execute(sql: "UPDATE ab_results SET doc = ? WHERE id = ?", arguments: [try Self.encode(r), r.id])
            try Self.event(db, project: r.project, kind: "ab_result", summary: "A/B test '\(r.title)': \(r.summary)", actor: r.actor, at: now)
            return r
        }
    }

    public func abResults(project: String?, model: String?) async throws -> [ABResult] {
        try await pool.read { db in
            let rows: [String]
            if let model {
                rows = try String.fetchAll(db, sql: "SELECT doc FROM ab_results WHERE control_model = ? OR treatment_model = ? ORDER BY id DESC", arguments: [model, model])
            } else if let project {
                rows = try String.fetchAll(db, sql: "SELECT doc FROM ab_results WHERE project = ? ORDER BY id DESC", arguments: [project])
            } else {
                rows = try String.fetchAll(db, sql: "SELECT doc FROM ab_results ORDER BY id DESC LIMIT 500")
            }
            return try rows.map { try Self.decode(ABResult.self, $0) }
        }
    }

    public func abResult(id: Int64) async throws -> ABResult {
        try await pool.read { db in
            guard let doc = try String.fetchOne(db, sql: "SELECT doc FROM ab_results WHERE id = ?", arguments: [id]) else {
                throw EnsembleError.notFound("No A/B result #\(id).")
            }
            return try Self.decode(ABResult.self, doc)
        }
    }

    // MARK: Drift windows

    public func saveDriftWindow(_ window: DriftWindow) async throws -> DriftWindow {
        try window.validate()
        let now = Self.now()
        return try await pool.write { db in
            guard let doc = try String.fetchOne(db, sql: "SELECT doc FROM deployments WHERE id = ?", arguments: [window.deployment]) else {
                throw EnsembleError.notFound("No deployment #\(window.deployment).")
            }
            let deployment = try Self.decode(Deployment.self, doc)
            var w = window
            w.at = now
            try db.execute(sql: "INSERT INTO drift_windows (deployment, doc, at) VALUES (?, '', ?)", arguments: [w.deployment, now])
            w.id = db.lastInsertedRowID
            try db.execute(sql: "UPDATE drift_windows SET doc = ? WHERE id = ?", arguments: [try Self.encode(w), w.id])
            if w.drifted, let project = deployment.project {
                let columns = w.columns.filter(\.drifted).map(\.column)
                try Self.event(
                    db, project: project, kind: "drift_detected",
                    summary: "\(deployment.model) in \(deployment.environment), window \(w.label): \(columns.count) of \(w.columns.count) columns drifted (\(columns.prefix(5).joined(separator: ", ")))",
                    actor: w.actor, at: now)
            }
            return w
        }
    }

    public func driftWindows(deployment: Int64) async throws -> [DriftWindow] {
        try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT doc FROM drift_windows WHERE deployment = ? ORDER BY id", arguments: [deployment]).map { try Self.decode(DriftWindow.self, $0) }
        }
    }
}
