import EnsembleCore
import Foundation
import GRDB

extension SQLiteStore: TeamStore {
    static func encode<T: Encodable>(_ value: T) throws -> String { try StoredDocument.encode(value) }
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try StoredDocument.decode(type, text) }

    // MARK: Roles

    public func roles() async throws -> [Role] {
        try await pool.read { db in try Self.roles(db) }
    }

    /// The role catalog as seen inside a transaction: built-in roles as edited, then custom ones.
    static func roles(_ db: Database) throws -> [Role] {
        RoleCatalog.merged(stored: try Row.fetchAll(db, sql: "SELECT doc FROM team_roles").map { try Self.decode(Role.self, $0[0]) })
    }

    public func saveRole(_ role: Role) async throws {
        let role = try RoleCatalog.checked(role)
        let doc = try Self.encode(role), id = role.id
        try await pool.write { db in
            let existing = try Bool.fetchOne(db, sql: "SELECT 1 FROM team_roles WHERE id = ?", arguments: [id]) == true
            try RoleCatalog.checkID(id, existing: existing)
            try db.execute(sql: "INSERT INTO team_roles (id, doc) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc", arguments: [id, doc])
        }
    }

    public func deleteRole(id: String) async throws {
        let builtIn = RoleCatalog.builtIn.contains { $0.id == id }
        try await pool.write { db in
            let holders = try Row.fetchAll(db, sql: "SELECT id, doc FROM team_people").filter { row in
                ((try? Self.decode(Person.self, row[1]))?.roles ?? []).contains(id)
            }
            if !builtIn && !holders.isEmpty {
                throw EnsembleError.invalid("The role '\(id)' is held by \(holders.count) person(s) (\(holders.prefix(3).map { $0[0] as String }.joined(separator: ", "))); remove it from them first.")
            }
            try db.execute(sql: "DELETE FROM team_roles WHERE id = ?", arguments: [id])
            if !builtIn && db.changesCount == 0 { throw EnsembleError.notFound("No role '\(id)'.") }
        }
    }

    // MARK: People

    public func people() async throws -> [Person] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT doc FROM team_people ORDER BY id").map { try Self.decode(Person.self, $0[0]) }
        }
    }

    public func person(id: String) async throws -> Person {
        try await pool.read { db in
            guard let doc = try String.fetchOne(db, sql: "SELECT doc FROM team_people WHERE id = ?", arguments: [id]) else {
                throw EnsembleError.notFound("No person '\(id)' on the team.")
            }
            return try Self.decode(Person.self, doc)
        }
    }

    /// Checks the person against the role catalog and writes them in one transaction, so a role
    /// deleted at the same moment can never be left referenced.
    public func savePerson(_ person: Person, create: Bool) async throws {
        let doc = try Self.encode(person)
        try await pool.write { db in
            try person.validate(knownRoles: Set(try Self.roles(db).map(\.id)), existing: !create)
            if let other = try String.fetchOne(db, sql: "SELECT id FROM team_people WHERE email = ? AND id != ?", arguments: [person.email, person.id]) {
                throw EnsembleError.alreadyExists("email: '\(person.email)' already belongs to '\(other)'.")
            }
            if create {
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM team_people WHERE id = ?", arguments: [person.id]) == true {
                    throw EnsembleError.alreadyExists("id: a person '\(person.id)' already exists; update it instead.")
                }
                try db.execute(sql: "INSERT INTO team_people (id, email, doc) VALUES (?, ?, ?)", arguments: [person.id, person.email, doc])
            } else {
                try db.execute(sql: "UPDATE team_people SET email = ?, doc = ? WHERE id = ?", arguments: [person.email, doc, person.id])
                if db.changesCount == 0 { throw EnsembleError.notFound("No person '\(person.id)' on the team.") }
            }
        }
    }

    public func savePeople(_ people: [Person]) async throws {
        let docs = try people.map { ($0, try Self.encode($0)) }
        try await pool.write { db in
            let known = Set(try Self.roles(db).map(\.id))
            for p in people { try p.validate(knownRoles: known) }
            for (p, doc) in docs {
                try db.execute(sql: "DELETE FROM team_people WHERE email = ? AND id != ?", arguments: [p.email, p.id])
                try db.execute(
                    sql: "INSERT INTO team_people (id, email, doc) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET email = excluded.email, doc = excluded.doc",
                    arguments: [p.id, p.email, doc])
            }
        }
    }

    public func deletePerson(id: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM team_people WHERE id = ?", arguments: [id])
            if db.changesCount == 0 { throw EnsembleError.notFound("No person '\(id)' on the team.") }
        }
    }

    // MARK: Projects

    public func projects() async throws -> [Project] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT doc FROM team_projects ORDER BY id").map { try Self.decode(Project.self, $0[0]) }
        }
    }

    public func project(id: String) async throws -> Project {
        try await pool.read { db in try Self.loadProject(db, id) }
    }

    static func loadProject(_ db: Database, _ id: String) throws -> Project {
        guard let doc = try String.fetchOne(db, sql: "SELECT doc FROM team_projects WHERE id = ?", arguments: [id]) else {
            throw EnsembleError.notFound("No project '\(id)'.")
        }
        return try decode(Project.self, doc)
    }

    public func saveProject(_ project: Project, create: Bool, actor: String?) async throws {
        try project.validate(existing: !create)
        let now = Self.now()
        try await pool.write { db in
            var project = project
            if create {
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM team_projects WHERE id = ?", arguments: [project.id]) == true {
                    throw EnsembleError.alreadyExists("id: a project '\(project.id)' already exists; update it instead.")
                }
                project.history = []
                try db.execute(sql: "INSERT INTO team_projects (id, doc, updated_at) VALUES (?, ?, ?)", arguments: [project.id, try Self.encode(project), now])
                try Self.event(db, project: project.id, kind: "project_created", summary: "\(project.name) created in \(project.stage.rawValue)", actor: actor, at: now)
            } else {
                // Stage and history change only through moves.
                let stored = try Self.loadProject(db, project.id)
                project.stage = stored.stage
                project.history = stored.history
                try db.execute(sql: "UPDATE team_projects SET doc = ?, updated_at = ? WHERE id = ?", arguments: [try Self.encode(project), now, project.id])
            }
        }
    }

    public func deleteProject(id: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM team_projects WHERE id = ?", arguments: [id])
            if db.changesCount == 0 { throw EnsembleError.notFound("No project '\(id)'.") }
        }
    }

    public func moveProject(id: String, to stage: ProjectStage, why: String, actor: String?, check: @Sendable (Project) throws -> Void) async throws -> Project {
        let now = Self.now()
        return try await pool.write { db in
            var project = try Self.loadProject(db, id)
            try check(project)
            let from = project.stage
            project.stage = stage
            project.history.append(StageChange(from: from, to: stage, by: actor, at: now, why: why))
            try db.execute(sql: "UPDATE team_projects SET doc = ?, updated_at = ? WHERE id = ?", arguments: [try Self.encode(project), now, id])
            try Self.event(db, project: id, kind: "stage_changed", summary: "\(from.rawValue) -> \(stage.rawValue)" + (why.isEmpty ? "" : ": \(why)"), actor: actor, at: now)
            return project
        }
    }

    static func event(_ db: Database, project: String?, kind: String, summary: String, actor: String?, at: Int64) throws {
        try TeamEventRecord(project: project, kind: kind, summary: summary, actor: actor, at: at).insert(db)
    }

    // MARK: Updates and activity

    public func addUpdate(_ update: ProjectUpdate) async throws -> ProjectUpdate {
        var update = update
        try update.validate()
        update.at = Self.now()
        let stored = update
        return try await pool.write { db in
            _ = try Self.loadProject(db, stored.project)
            var record = TeamUpdateRecord(stored)
            try record.insert(db)
            var saved = stored
            saved.id = record.id ?? 0
            return saved
        }
    }

    public func activity(project: String?, limit: Int) async throws -> [ActivityItem] {
        try await pool.read { db in
            typealias Updates = TeamUpdateRecord.Columns
            typealias Events = TeamEventRecord.Columns
            let updates = project.map { TeamUpdateRecord.filter(Updates.project == $0) } ?? TeamUpdateRecord.all()
            let events = project.map { TeamEventRecord.filter(Events.project == $0) } ?? TeamEventRecord.all()
            var items = try updates.order(Updates.at.desc, Updates.id.desc).limit(limit).fetchAll(db).map(\.activity)
            items += try events.order(Events.at.desc, Events.id.desc).limit(limit).fetchAll(db).map(\.activity)
            // Tracking and registry events for the linked experiments and models.
            let linked = try (project.map { [try Self.loadProject(db, $0)] } ?? Row.fetchAll(db, sql: "SELECT doc FROM team_projects").map { try Self.decode(Project.self, $0[0]) })
            for p in linked {
                for name in p.experiments {
                    for row in try Row.fetchAll(
                        db,
                        sql: "SELECT r.start_time, r.name, r.user_id FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id WHERE e.name = ? ORDER BY r.start_time DESC LIMIT ?",
                        arguments: [name, limit])
                    {
                        let user: String = row[2]
                        items.append(ActivityItem(at: row[0], project: p.id, kind: "run_created", summary: "run \(row[1] as String) in \(name)", actor: user.isEmpty ? nil : user))
                    }
                }
                for model in p.models {
                    for row in try Row.fetchAll(
                        db, sql: "SELECT timestamp, kind, version, detail, actor FROM registry_events WHERE name = ? ORDER BY id DESC LIMIT ?", arguments: [model, limit])
                    {
                        let version: Int64? = row[2]
                        items.append(ActivityItem(
                            at: row[0], project: p.id, kind: row[1], summary: "\(model)\(version.map { " v\($0)" } ?? ""): \(row[3] as String)", actor: row[4]))
                    }
                }
            }
            items.sort { $0.at > $1.at }
            return Array(items.prefix(limit))
        }
    }

    /// Runs started per ISO week (Monday, `yyyy-mm-dd`) in the given experiments, oldest first:
    /// progress measured by inputs.
    public func runsPerWeek(experiments: [String]) async throws -> [(week: String, runs: Int)] {
        guard !experiments.isEmpty else { return [] }
        return try await pool.read { db in
            let marks = Array(repeating: "?", count: experiments.count).joined(separator: ", ")
            // 1970-01-05 was a Monday: weeks are counted from there.
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT date((((r.start_time / 1000) - 345600) / 604800) * 604800 + 345600, 'unixepoch') AS week, COUNT(*)
                    FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id
                    WHERE e.name IN (\(marks)) AND r.lifecycle_stage = 'active'
                    GROUP BY week ORDER BY week
                    """,
                arguments: StatementArguments(experiments))
            return rows.map { ($0[0], $0[1]) }
        }
    }
}
