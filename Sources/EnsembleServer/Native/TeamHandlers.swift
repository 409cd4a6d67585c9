import EnsembleCore
import EnsembleJSON
import Foundation
import Hummingbird
import NIOCore

/// JSON answers from Codable values (the team API is small and not a hot path).
enum CodableResponse {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    static func ok<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}

/// A person with the figures derived from their record.
struct PersonView: Encodable {
    let person: Person
    enum Extra: String, CodingKey { case successRate = "success_rate", freeCapacity = "free_capacity", allocated }
    func encode(to encoder: any Encoder) throws {
        try person.encode(to: encoder)
        var c = encoder.container(keyedBy: Extra.self)
        try c.encode(person.successRate, forKey: .successRate)
        try c.encode(person.freeCapacity, forKey: .freeCapacity)
        try c.encode(person.allocated, forKey: .allocated)
    }
}

/// `/api/v1/roles|people|projects|portfolio|coverage|updates` and a project's stage, staffing,
/// forecast, updates and progress.
struct TeamHandlers: Sendable {
    let team: any TeamStore

    // MARK: Roles

    func listRoles(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        struct Answer: Encodable { let roles: [Role] }
        return try CodableResponse.ok(Answer(roles: try await team.roles()))
    }

    func saveRole(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        var role = try await request.decodeJSON(Role.self, context)
        role.id = try context.capture("id")
        try await team.saveRole(role)
        return try CodableResponse.ok(try await team.roles().first { $0.id == role.id })
    }

    func deleteRole(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        try await team.deleteRole(id: try context.capture("id"))
        return JSONResponse.emptyObject
    }

    // MARK: People

    func listPeople(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        struct Answer: Encodable { let people: [PersonView] }
        return try CodableResponse.ok(Answer(people: try await team.people().map(PersonView.init)))
    }

    func getPerson(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        try CodableResponse.ok(PersonView(person: try await team.person(id: try context.capture("id"))))
    }

    func createPerson(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let person = try await request.decodeJSON(Person.self, context)
        try await team.savePerson(person, create: true)
        return try CodableResponse.ok(PersonView(person: person), status: .created)
    }

    func updatePerson(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        var person = try await request.decodeJSON(Person.self, context)
        person.id = try context.capture("id")
        try await team.savePerson(person, create: false)
        return try CodableResponse.ok(PersonView(person: person))
    }

    /// `POST people/import {"people": [...]}`: every person created or replaced in one transaction, or none.
    func importPeople(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        struct Body: Decodable { let people: [Person] }
        let people = try await request.decodeJSON(Body.self, context).people
        guard !people.isEmpty else { throw EnsembleError.invalid("people: the import is empty.") }
        var seen = Set<String>()
        for p in people where !seen.insert(p.id).inserted { throw EnsembleError.invalid("people: '\(p.id)' appears twice.") }
        try await team.savePeople(people)
        struct Answer: Encodable { let imported: Int }
        return try CodableResponse.ok(Answer(imported: people.count))
    }

    func deletePerson(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        try await team.deletePerson(id: try context.capture("id"))
        return JSONResponse.emptyObject
    }

    // MARK: Projects

    func listProjects(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        struct Answer: Encodable { let projects: [Project] }
        var projects = try await team.projects()
        if let stage = try f.string("stage") {
            guard let s = ProjectStage(rawValue: stage) else { throw Self.badStage(stage) }
            projects = projects.filter { $0.stage == s }
        }
        return try CodableResponse.ok(Answer(projects: projects))
    }

    static func badStage(_ s: String) -> EnsembleError {
        .invalid("'\(s)' is not a stage; stages are \(ProjectStage.allCases.map(\.rawValue).joined(separator: ", ")).")
    }

    func getProject(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        try CodableResponse.ok(try await team.project(id: try context.capture("id")))
    }

    func createProject(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let project = try await request.decodeJSON(Project.self, context)
        try await team.saveProject(project, create: true, actor: context.actor)
        try await context.accessControl?.created(.project, project.id, by: context.principal)
        return try CodableResponse.ok(try await team.project(id: project.id), status: .created)
    }

    func updateProject(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        var project = try await request.decodeJSON(Project.self, context)
        project.id = try context.capture("id")
        try await team.saveProject(project, create: false, actor: context.actor)
        return try CodableResponse.ok(try await team.project(id: project.id))
    }

    func deleteProject(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        try await team.deleteProject(id: try context.capture("id"))
        return JSONResponse.emptyObject
    }

    /// `POST projects/{id}/stage {"to": "data", "why": "…", "by": "…"}`: 400 with every gate problem.
    func moveProject(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let raw = try f.requiredString("to")
        guard let target = ProjectStage(rawValue: raw) else { throw Self.badStage(raw) }
        let why = try f.string("why") ?? ""
        let by = try f.string("by")
        let actor = context.actor ?? by
        let people = try await team.people(), roles = try await team.roles()
        let moved = try await team.moveProject(id: try context.capture("id"), to: target, why: why, actor: actor) { project in
            let problems = StageGate.problems(moving: project, to: target, people: people, roles: roles)
            if !problems.isEmpty {
                throw EnsembleError.invalid("Cannot move '\(project.id)' from \(project.stage.rawValue) to \(target.rawValue): " + problems.joined(separator: " "))
            }
        }
        return try CodableResponse.ok(moved)
    }

    // MARK: Planning

    func portfolio(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        var weights = PortfolioWeights()
        if let v = try f.double("impact") { weights.impact = v }
        if let v = try f.double("cost") { weights.cost = v }
        if let v = try f.double("bandwidth") { weights.bandwidth = v }
        if let v = try f.double("urgency") { weights.urgency = v }
        if let v = try f.double("confidence") { weights.confidence = v }
        try weights.validate()
        let people = try await team.people()
        let entries = Portfolio.rank(projects: try await team.projects(), people: people, weights: weights)
        struct Entry: Encodable {
            let project: String, name: String, stage: ProjectStage, score: Double, rank: Int, required_fte: Double, fits: Bool, note: String
        }
        struct Answer: Encodable {
            let weights: [String: Double]
            let free_fte: Double
            let portfolio: [Entry]
        }
        return try CodableResponse.ok(Answer(
            weights: ["impact": weights.impact, "cost": weights.cost, "bandwidth": weights.bandwidth, "urgency": weights.urgency, "confidence": weights.confidence],
            free_fte: people.reduce(0) { $0 + $1.freeCapacity },
            portfolio: entries.map { Entry(project: $0.project, name: $0.name, stage: $0.stage, score: $0.score, rank: $0.rank, required_fte: $0.requiredFTE, fits: $0.fits, note: $0.note) }))
    }

    func staffing(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let project = try await team.project(id: try context.capture("id"))
        let stage: ProjectStage
        if let raw = try f.string("stage") {
            guard let s = ProjectStage(rawValue: raw), ProjectStage.working.contains(s) else { throw Self.badStage(raw) }
            stage = s
        } else {
            stage = ProjectStage.working.contains(project.stage) ? project.stage : .scoping
        }
        let ranked = Staffing.rank(project: project, stage: stage, people: try await team.people(), roles: try await team.roles())
        struct Candidate: Encodable {
            let person: String, name: String, score: Double, skill_fit: Double, free_capacity: Double, track_record: Double?, learning_bonus: Double, reasons: [String]
        }
        struct Answer: Encodable { let project: String, stage: ProjectStage, needed_skills: [String: Int], candidates: [Candidate] }
        return try CodableResponse.ok(Answer(
            project: project.id, stage: stage, needed_skills: project.neededSkills[stage.rawValue] ?? [:],
            candidates: ranked.map {
                Candidate(person: $0.person, name: $0.name, score: $0.score, skill_fit: $0.skillFit, free_capacity: $0.freeCapacity, track_record: $0.trackRecord, learning_bonus: $0.learningBonus, reasons: $0.reasons)
            }))
    }

    func coverage(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let report = Coverage.report(people: try await team.people(), roles: try await team.roles(), projects: try await team.projects())
        struct Gap: Encodable { let subject: String, people: [String], severity: String }
        struct Answer: Encodable { let stages: [Gap], skills: [Gap], missing_roles: [String] }
        return try CodableResponse.ok(Answer(
            stages: report.stages.map { Gap(subject: $0.subject, people: $0.people, severity: $0.severity) },
            skills: report.skills.map { Gap(subject: $0.subject, people: $0.people, severity: $0.severity) }, missing_roles: report.missingRoles))
    }

    func forecast(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let project = try await team.project(id: try context.capture("id"))
        // Bounded below the simulator's own 1,000,000 so that one anonymous request stays cheap
        // (100,000 trials of a 20-task plan: ~0.1 s in a release build).
        let trials = Int(try f.int64("trials", in: 1...100_000) ?? 10_000)
        let seed = UInt64(try f.int64("seed", in: 0...Int64.max) ?? 0)
        let distribution: Forecast.Distribution
        if let raw = try f.string("distribution") {
            guard let d = Forecast.Distribution(rawValue: raw) else { throw EnsembleError.invalid("distribution: use pert or triangular; got '\(raw)'.") }
            distribution = d
        } else {
            distribution = .pert
        }
        let plan = try ForecastPlan(tasks: project.tasks)
        let started = Date()
        let r = try Forecast.simulate(plan, trials: trials, seed: seed, distribution: distribution)
        let seconds = Date().timeIntervalSince(started)
        struct Bin: Encodable { let from: Double, to: Double, count: Int }
        struct Critical: Encodable { let task: String, share: Double }
        struct Answer: Encodable {
            let project: String, trials: Int, seed: UInt64, distribution: String, tasks: Int
            let p50_days: Double, p80_days: Double, p95_days: Double, mean_days: Double
            let start_date: String?, p50_date: String?, p80_date: String?, p95_date: String?
            let histogram: [Bin], criticality: [Critical], seconds: Double
        }
        let start = project.startDate
        return try CodableResponse.ok(Answer(
            project: project.id, trials: r.trials, seed: r.seed, distribution: r.distribution.rawValue, tasks: plan.tasks.count,
            p50_days: r.p50, p80_days: r.p80, p95_days: r.p95, mean_days: r.mean, start_date: start,
            p50_date: start.flatMap { Forecast.date(after: r.p50, from: $0) }, p80_date: start.flatMap { Forecast.date(after: r.p80, from: $0) },
            p95_date: start.flatMap { Forecast.date(after: r.p95, from: $0) },
            histogram: r.histogram.map { Bin(from: $0.from, to: $0.to, count: $0.count) }, criticality: r.criticality.map { Critical(task: $0.task, share: $0.share) },
            seconds: seconds))
    }

    // MARK: Updates, activity, progress

    func postUpdate(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let author = try f.string("author") ?? ""
        let update = ProjectUpdate(
            project: try context.capture("id"), author: context.actor ?? author, done: try f.string("done") ?? "",
            next: try f.string("next") ?? "", blocked: try f.string("blocked") ?? "")
        return try CodableResponse.ok(try await team.addUpdate(update), status: .created)
    }

    func projectActivity(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try context.capture("id")
        _ = try await team.project(id: id)
        struct Answer: Encodable { let activity: [ActivityItem] }
        return try CodableResponse.ok(Answer(activity: try await team.activity(project: id, limit: try f.maxResults(default: 50, limit: 1000))))
    }

    func teamActivity(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        struct Answer: Encodable { let activity: [ActivityItem] }
        return try CodableResponse.ok(Answer(activity: try await team.activity(project: nil, limit: try f.maxResults(default: 50, limit: 1000))))
    }

    func progress(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let project = try await team.project(id: try context.capture("id"))
        struct Week: Encodable { let week: String, runs: Int }
        struct Answer: Encodable { let project: String, experiments: [String], weeks: [Week] }
        return try CodableResponse.ok(Answer(
            project: project.id, experiments: project.experiments,
            weeks: try await team.runsPerWeek(experiments: project.experiments).map { Week(week: $0.week, runs: $0.runs) }))
    }
}

extension TeamHandlers {
    /// Roles, people, projects and planning, under `/api/v1`.
    func routes(_ limits: BodyLimits) -> RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.get("roles", .read, use: listRoles)
        r.put("roles/{id}", .edit, use: saveRole)
        r.delete("roles/{id}", .manage, use: deleteRole)
        r.get("people", .read, use: listPeople)
        r.on("people", method: .post, .edit, bodyLimit: limits.large, use: createPerson)
        r.on("people/import", method: .post, .edit, bodyLimit: limits.large, use: importPeople)
        r.get("people/{id}", .read, use: getPerson)
        r.put("people/{id}", .edit, use: updatePerson)
        r.delete("people/{id}", .manage, use: deletePerson)
        r.get("projects", .read, use: listProjects)
        r.on("projects", method: .post, .edit, bodyLimit: limits.large, use: createProject)
        r.get("projects/{id}", .read, use: getProject)
        r.put("projects/{id}", .edit, scope: .project, use: updateProject)
        r.delete("projects/{id}", .manage, scope: .project, use: deleteProject)
        r.on("projects/{id}/stage", method: .post, .edit, scope: .project, bodyLimit: limits.large, use: moveProject)
        r.get("projects/{id}/staffing", .read, use: staffing)
        r.get("projects/{id}/forecast", .read, use: forecast)
        r.get("projects/{id}/updates", .read, use: projectActivity)
        r.on("projects/{id}/updates", method: .post, .edit, scope: .project, bodyLimit: limits.large, use: postUpdate)
        r.get("projects/{id}/progress", .read, use: progress)
        r.get("portfolio", .read, use: portfolio)
        r.get("coverage", .read, use: coverage)
        r.get("updates", .read, use: teamActivity)
        return r
    }
}
