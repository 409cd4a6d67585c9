import EnsembleCore
import Foundation
import PostgresNIO

extension PostgresStore: DatasetCatalog {
    public func datasetNames() async throws -> [(name: String, versions: Int)] {
        try await read { [logger] db in
            try await db.rows("SELECT name, COUNT(DISTINCT digest) FROM datasets GROUP BY name ORDER BY name", (String, Int64).self, logger: logger)
                .map { ($0.0, Int($0.1)) }
        }
    }

    public func datasetVersions(name: String) async throws -> [DatasetVersionUsage] {
        try await read { [logger] db in
            let rows = try await db.rows(
                "SELECT id, experiment_id, name, digest, source_type, source, schema, profile FROM datasets WHERE name = \(name) ORDER BY id DESC",
                (Int64, Int64, String, String, String, String, String?, String?).self, logger: logger)
            guard !rows.isEmpty else { throw EnsembleError.notFound("No dataset named '\(name)' was logged by any run.") }
            var out: [DatasetVersionUsage] = []
            for row in rows {
                let uses = try await db.rows(
                    """
                    SELECT r.run_uuid, r.name, t.value FROM run_dataset_inputs i
                    JOIN runs r ON r.id = i.run_id
                    LEFT JOIN input_tags t ON t.run_id = i.run_id AND t.dataset_id = i.dataset_id AND t.key = 'mlflow.data.context'
                    WHERE i.dataset_id = \(row.0) ORDER BY r.start_time DESC, r.run_uuid
                    """, (String, String, String?).self, logger: logger
                ).map { DatasetVersionUsage.Use(runID: $0.0, runName: $0.1, context: $0.2) }
                let dataset = Dataset(name: row.2, digest: row.3, sourceType: row.4, source: row.5, schema: row.6, profile: row.7)
                out.append(DatasetVersionUsage(experimentID: String(row.1), dataset: dataset, usedBy: uses))
            }
            return out
        }
    }
}

extension PostgresStore: TeamStore {
    static func encode<T: Encodable>(_ value: T) throws -> String { try StoredDocument.encode(value) }
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try StoredDocument.decode(type, text) }

    /// Documents of one table, decoded.
    static func docs<T: Decodable>(_ db: PostgresConnection, _ query: PostgresQuery, as type: T.Type, logger: Logger) async throws -> [T] {
        try await db.column(query, String.self, logger: logger).map { try decode(T.self, $0) }
    }

    // MARK: Roles

    public func roles() async throws -> [Role] {
        try await read { [logger] db in try await Self.roles(db, logger: logger) }
    }

    static func roles(_ db: PostgresConnection, logger: Logger) async throws -> [Role] {
        RoleCatalog.merged(stored: try await docs(db, "SELECT doc FROM team_roles", as: Role.self, logger: logger))
    }

    public func saveRole(_ role: Role) async throws {
        let role = try RoleCatalog.checked(role)
        let doc = try Self.encode(role), id = role.id
        try await transaction { [logger] db in
            try await Self.lockTeam(db, logger: logger)
            let existing = try await db.value("SELECT 1::bigint FROM team_roles WHERE id = \(id)", Int64.self, logger: logger) != nil
            try RoleCatalog.checkID(id, existing: existing)
            try await db.run("INSERT INTO team_roles (id, doc) VALUES (\(id), \(doc)) ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc", logger: logger)
        }
    }

    public func deleteRole(id: String) async throws {
        let builtIn = RoleCatalog.builtIn.contains { $0.id == id }
        try await transaction { [logger] db in
            try await Self.lockTeam(db, logger: logger)
            let holders = try await Self.docs(db, "SELECT doc FROM team_people ORDER BY id", as: Person.self, logger: logger).filter { $0.roles.contains(id) }
            if !builtIn && !holders.isEmpty {
                throw EnsembleError.invalid(
                    "The role '\(id)' is held by \(holders.count) person(s) (\(holders.prefix(3).map(\.id).joined(separator: ", "))); remove it from them first.")
            }
            let deleted = try await db.run("DELETE FROM team_roles WHERE id = \(id)", logger: logger)
            if !builtIn && deleted == 0 { throw EnsembleError.notFound("No role '\(id)'.") }
        }
    }

    /// Role and people changes take turns across servers, so a role is never deleted while a person
    /// who holds it is being saved.
    static func lockTeam(_ db: PostgresConnection, logger: Logger) async throws {
        try await db.run("SELECT pg_advisory_xact_lock(\(teamLock))", logger: logger)
    }

    static let teamLock: Int64 = 0x7465_616D  // "team"

    // MARK: People

    public func people() async throws -> [Person] {
        try await read { [logger] db in try await Self.docs(db, "SELECT doc FROM team_people ORDER BY id", as: Person.self, logger: logger) }
    }

    public func person(id: String) async throws -> Person {
        try await read { [logger] db in
            guard let doc = try await db.value("SELECT doc FROM team_people WHERE id = \(id)", String.self, logger: logger) else {
                throw EnsembleError.notFound("No person '\(id)' on the team.")
            }
            return try Self.decode(Person.self, doc)
        }
    }

    public func savePerson(_ person: Person, create: Bool) async throws {
        let doc = try Self.encode(person)
        try await transaction { [logger] db in
            try await Self.lockTeam(db, logger: logger)
            try person.validate(knownRoles: Set(try await Self.roles(db, logger: logger).map(\.id)), existing: !create)
            if let other = try await db.value(
                "SELECT id FROM team_people WHERE email = \(person.email) AND id != \(person.id)", String.self, logger: logger)
            {
                throw EnsembleError.alreadyExists("email: '\(person.email)' already belongs to '\(other)'.")
            }
            if create {
                let inserted = try await db.run(
                    "INSERT INTO team_people (id, email, doc) VALUES (\(person.id), \(person.email), \(doc)) ON CONFLICT (id) DO NOTHING", logger: logger)
                if inserted == 0 { throw EnsembleError.alreadyExists("id: a person '\(person.id)' already exists; update it instead.") }
            } else if try await db.run("UPDATE team_people SET email = \(person.email), doc = \(doc) WHERE id = \(person.id)", logger: logger) == 0 {
                throw EnsembleError.notFound("No person '\(person.id)' on the team.")
            }
        }
    }

    public func savePeople(_ people: [Person]) async throws {
        let docs = try people.map { ($0, try Self.encode($0)) }
        try await transaction { [logger] db in
            try await Self.lockTeam(db, logger: logger)
            let known = Set(try await Self.roles(db, logger: logger).map(\.id))
            for p in people { try p.validate(knownRoles: known) }
            for (p, doc) in docs {
                try await db.run("DELETE FROM team_people WHERE email = \(p.email) AND id != \(p.id)", logger: logger)
                try await db.run(
                    """
                    INSERT INTO team_people (id, email, doc) VALUES (\(p.id), \(p.email), \(doc))
                    ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, doc = EXCLUDED.doc
                    """, logger: logger)
            }
        }
    }

    public func deletePerson(id: String) async throws {
        try await transaction { [logger] db in
            if try await db.run("DELETE FROM team_people WHERE id = \(id)", logger: logger) == 0 { throw EnsembleError.notFound("No person '\(id)' on the team.") }
        }
    }

    // MARK: Projects

    public func projects() async throws -> [Project] {
        try await read { [logger] db in try await Self.docs(db, "SELECT doc FROM team_projects ORDER BY id", as: Project.self, logger: logger) }
    }

    public func project(id: String) async throws -> Project {
        try await read { [logger] db in try await Self.loadProject(db, id, logger: logger) }
    }

    /// A project; `lock` holds its row to the end of the transaction (read-modify-write).
    static func loadProject(_ db: PostgresConnection, _ id: String, lock: Bool = false, logger: Logger) async throws -> Project {
        let doc =
            lock
            ? try await db.value("SELECT doc FROM team_projects WHERE id = \(id) FOR UPDATE", String.self, logger: logger)
            : try await db.value("SELECT doc FROM team_projects WHERE id = \(id)", String.self, logger: logger)
        guard let doc else { throw EnsembleError.notFound("No project '\(id)'.") }
        return try decode(Project.self, doc)
    }

    public func saveProject(_ project: Project, create: Bool, actor: String?) async throws {
        try project.validate(existing: !create)
        let now = Self.now()
        try await transaction { [logger] db in
            var project = project
            if create {
                project.history = []
                let inserted = try await db.run(
                    "INSERT INTO team_projects (id, doc, updated_at) VALUES (\(project.id), \(try Self.encode(project)), \(now)) ON CONFLICT (id) DO NOTHING",
                    logger: logger)
                if inserted == 0 { throw EnsembleError.alreadyExists("id: a project '\(project.id)' already exists; update it instead.") }
                try await Self.event(
                    db, project: project.id, kind: "project_created", summary: "\(project.name) created in \(project.stage.rawValue)", actor: actor, at: now,
                    logger: logger)
            } else {
                // Stage and history change only through moves.
                let stored = try await Self.loadProject(db, project.id, lock: true, logger: logger)
                project.stage = stored.stage
                project.history = stored.history
                try await db.run(
                    "UPDATE team_projects SET doc = \(try Self.encode(project)), updated_at = \(now) WHERE id = \(project.id)", logger: logger)
            }
        }
    }

    public func deleteProject(id: String) async throws {
        try await transaction { [logger] db in
            if try await db.run("DELETE FROM team_projects WHERE id = \(id)", logger: logger) == 0 { throw EnsembleError.notFound("No project '\(id)'.") }
        }
    }

    public func moveProject(id: String, to stage: ProjectStage, why: String, actor: String?, check: @Sendable (Project) throws -> Void) async throws -> Project {
        let now = Self.now()
        return try await transaction { [logger] db in
            var project = try await Self.loadProject(db, id, lock: true, logger: logger)
            try check(project)
            let from = project.stage
            project.stage = stage
            project.history.append(StageChange(from: from, to: stage, by: actor, at: now, why: why))
            try await db.run("UPDATE team_projects SET doc = \(try Self.encode(project)), updated_at = \(now) WHERE id = \(id)", logger: logger)
            try await Self.event(
                db, project: id, kind: "stage_changed", summary: "\(from.rawValue) -> \(stage.rawValue)" + (why.isEmpty ? "" : ": \(why)"), actor: actor,
                at: now, logger: logger)
            return project
        }
    }

    static func event(_ db: PostgresConnection, project: String?, kind: String, summary: String, actor: String?, at: Int64, logger: Logger) async throws {
        try await db.run(
            "INSERT INTO team_events (project, kind, summary, actor, at) VALUES (\(project), \(kind), \(summary), \(actor), \(at))", logger: logger)
    }

    // MARK: Updates and activity

    public func addUpdate(_ update: ProjectUpdate) async throws -> ProjectUpdate {
        var update = update
        try update.validate()
        update.at = Self.now()
        let stored = update
        return try await transaction { [logger] db in
            _ = try await Self.loadProject(db, stored.project, logger: logger)
            guard
                let id = try await db.value(
                    """
                    INSERT INTO team_updates (project, author, done, next, blocked, at)
                    VALUES (\(stored.project), \(stored.author), \(stored.done), \(stored.next), \(stored.blocked), \(stored.at)) RETURNING id
                    """, Int64.self, logger: logger)
            else { throw EnsembleError(.internalError, "The update got no id.") }
            var saved = stored
            saved.id = id
            return saved
        }
    }

    public func activity(project: String?, limit: Int) async throws -> [ActivityItem] {
        let limit = Int64(max(0, limit))
        return try await read { [logger] db in
            var items: [ActivityItem] = []
            typealias UpdateRow = (String, String, String, String, String, Int64)
            let updates: [UpdateRow]
            typealias EventRow = (String?, String, String, String?, Int64)
            let events: [EventRow]
            if let project {
                updates = try await db.rows(
                    "SELECT project, author, done, next, blocked, at FROM team_updates WHERE project = \(project) ORDER BY at DESC, id DESC LIMIT \(limit)",
                    UpdateRow.self, logger: logger)
                events = try await db.rows(
                    "SELECT project, kind, summary, actor, at FROM team_events WHERE project = \(project) ORDER BY at DESC, id DESC LIMIT \(limit)",
                    EventRow.self, logger: logger)
            } else {
                updates = try await db.rows(
                    "SELECT project, author, done, next, blocked, at FROM team_updates ORDER BY at DESC, id DESC LIMIT \(limit)", UpdateRow.self, logger: logger)
                events = try await db.rows(
                    "SELECT project, kind, summary, actor, at FROM team_events ORDER BY at DESC, id DESC LIMIT \(limit)", EventRow.self, logger: logger)
            }
            for u in updates {
                items.append(ProjectUpdate(project: u.0, author: u.1, done: u.2, next: u.3, blocked: u.4, at: u.5).activity)
            }
            for e in events { items.append(ActivityItem(at: e.4, project: e.0, kind: e.1, summary: e.2, actor: e.3)) }
            // Tracking and registry events for the linked experiments and models.
            let linked =
                if let project { [try await Self.loadProject(db, project, logger: logger)] } else {
                    try await Self.docs(db, "SELECT doc FROM team_projects", as: Project.self, logger: logger)
                }
            for p in linked {
                for name in p.experiments {
                    for (start, runName, user) in try await db.rows(
                        """
                        SELECT r.start_time, r.name, r.user_id FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id
                        WHERE e.name = \(name) ORDER BY r.start_time DESC LIMIT \(limit)
                        """, (Int64, String, String).self, logger: logger)
                    {
                        items.append(ActivityItem(at: start, project: p.id, kind: "run_created", summary: "run \(runName) in \(name)", actor: user.isEmpty ? nil : user))
                    }
                }
                for model in p.models {
                    for (at, kind, version, detail, actor) in try await db.rows(
                        "SELECT timestamp, kind, version, detail, actor FROM registry_events WHERE name = \(model) ORDER BY id DESC LIMIT \(limit)",
                        (Int64, String, Int64?, String, String?).self, logger: logger)
                    {
                        items.append(
                            ActivityItem(at: at, project: p.id, kind: kind, summary: "\(model)\(version.map { " v\($0)" } ?? ""): \(detail)", actor: actor))
                    }
                }
            }
            items.sort { $0.at > $1.at }
            return Array(items.prefix(Int(limit)))
        }
    }

    public func runsPerWeek(experiments: [String]) async throws -> [(week: String, runs: Int)] {
        guard !experiments.isEmpty else { return [] }
        return try await read { [logger] db in
            // 1970-01-05 was a Monday: weeks are counted from there.
            try await db.rows(
                """
                SELECT to_char(to_timestamp((((r.start_time / 1000) - 345600) / 604800) * 604800 + 345600) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS week, COUNT(*)
                FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id
                WHERE e.name = ANY(\(experiments)::text[]) AND r.lifecycle_stage = 'active'
                GROUP BY week ORDER BY week
                """, (String, Int64).self, logger: logger
            ).map { ($0.0, Int($0.1)) }
        }
    }
}
