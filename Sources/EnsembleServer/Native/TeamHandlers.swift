import EnsembleCore
import Foundation
import Hummingbird
import NIOCore

extension RequestFields {
    /// Decodes the JSON body into `T`, with a message naming the field when it does not fit.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        guard case .json(let members) = source else { throw EnsembleError(.badRequest, "Send a JSON object body (Content-Type: application/json).") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(JSONValue.object(members).jsonText.utf8))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw EnsembleError.invalid("\(Self.path(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.keyNotFound(key, context) {
            throw EnsembleError.invalid("\(Self.path(context.codingPath + [key])): required.")
        } catch let DecodingError.dataCorrupted(context) {
            throw EnsembleError.invalid("\(Self.path(context.codingPath)): \(context.debugDescription)")
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }
}

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

    func listRoles(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        struct Answer: Encodable { let roles: [Role] }
        return try CodableResponse.ok(Answer(roles: try await team.roles()))
    }

    func saveRole(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        var role = try f.decode(Role.self)
        role.id = c["id"] ?? role.id
        try await team.saveRole(role)
        return try CodableResponse.ok(try await team.roles().first { $0.id == role.id })
    }

    func deleteRole(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        try await team.deleteRole(id: c["id"] ?? "")
        return JSONResponse.emptyObject
    }

    // MARK: People

    func listPeople(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        struct Answer: Encodable { let people: [PersonView] }
        return try CodableResponse.ok(Answer(people: try await team.people().map(PersonView.init)))
    }

    func getPerson(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        try CodableResponse.ok(PersonView(person: try await team.person(id: c["id"] ?? "")))
    }

    func createPerson(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        let person = try f.decode(Person.self)
        try await team.savePerson(person, create: true)
        return try CodableResponse.ok(PersonView(person: person), status: .created)
    }

    func updatePerson(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        var person = try f.decode(Person.self)
        person.id = c["id"] ?? person.id
        try await team.savePerson(person, create: false)
        return try CodableResponse.ok(PersonView(person: person))
    }

    /// `POST people/import {"people": [...]}`: every person created or replaced in one transaction, or none.
    func importPeople(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        struct Body: Decodable { let people: [Person] }
        let people = try f.decode(Body.self).people
        guard !people.isEmpty else { throw EnsembleError.invalid("people: the import is empty.") }
        var seen = Set<String>()
        for p in people where !seen.insert(p.id).inserted { throw EnsembleError.invalid("people: '\(p.id)' appears twice.") }
        try await team.savePeople(people)
        struct Answer: Encodable { let imported: Int }
        return try CodableResponse.ok(Answer(imported: people.count))
    }

    func deletePerson(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        try await team.deletePerson(id: c["id"] ?? "")
        return JSONResponse.emptyObject
    }

    // MARK: Projects

    func listProjects(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
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

    func getProject(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        try CodableResponse.ok(try await team.project(id: c["id"] ?? ""))
    }

    func createProject(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        let project = try f.decode(Project.self)
        try await team.saveProject(project, create: true, actor: RequestActor.current)
        return try CodableResponse.ok(try await team.project(id: project.id), status: .created)
    }

    func updateProject(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        var project = try f.decode(Project.self)
        project.id = c["id"] ?? project.id
        try await team.saveProject(project, create: false, actor: RequestActor.current)
        return try CodableResponse.ok(try await team.project(id: project.id))
    }

    func deleteProject(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        try await team.deleteProject(id: c["id"] ?? "")
        return JSONResponse.emptyObject
    }

    /// `POST projects/{id}/stage {"to": "data", "why": "…", "by": "…"}`: 400 with every gate problem.
    func moveProject(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        let raw = try f.requiredString("to")
        guard let target = ProjectStage(rawValue: raw) else { throw Self.badStage(raw) }
        let why = try f.string("why") ?? ""
        let by = try f.string("by")
        let actor = RequestActor.current ?? by
        let people = try await team.people(), roles = try await team.roles()
        let moved = try await team.moveProject(id: c["id"] ?? "", to: target, why: why, actor: actor) { project in
            let problems = StageGate.problems(moving: project, to: target, people: people, roles: roles)
            if !problems.isEmpty {
                throw EnsembleError.invalid("Cannot move '\(project.id)' from \(project.stage.rawValue) to \(target.rawValue): " + problems.joined(separator: " "))
            }
        }
        return try CodableResponse.ok(moved)
    }

    // MARK: Planning

    func portfolio(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
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

    func staffing(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        let project = try await team.project(id: c["id"] ?? "")
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

    func coverage(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        let report = Coverage.report(people: try await team.people(), roles: try await team.roles(), projects: try await team.projects())
        struct Gap: Encodable { let subject: String, people: [String], severity: String }
        struct Answer: Encodable { let stages: [Gap], skills: [Gap], missing_roles: [String] }
        return try CodableResponse.ok(Answer(
            stages: report.stages.map { Gap(subject: $0.subject, people: $0.people, severity: $0.severity) },
            skills: report.skills.map { Gap(subject: $0.subject, people: $0.people, severity: $0.severity) }, missing_roles: report.missingRoles))
    }

    func forecast(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        let project = try await team.project(id: c["id"] ?? "")
        let trials = Int(try f.int64("trials") ?? 10_000)
        let seed = UInt64(try f.int64("seed") ?? 0)
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

    func postUpdate(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        let author = try f.string("author") ?? ""
        let update = ProjectUpdate(
            project: c["id"] ?? "", author: RequestActor.current ?? author, done: try f.string("done") ?? "",
            next: try f.string("next") ?? "", blocked: try f.string("blocked") ?? "")
        return try CodableResponse.ok(try await team.addUpdate(update), status: .created)
    }

    func projectActivity(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        let id = c["id"] ?? ""
        _ = try await team.project(id: id)
        struct Answer: Encodable { let activity: [ActivityItem] }
        return try CodableResponse.ok(Answer(activity: try await team.activity(project: id, limit: try f.maxResults(default: 50, limit: 1000))))
    }

    func teamActivity(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        struct Answer: Encodable { let activity: [ActivityItem] }
        return try CodableResponse.ok(Answer(activity: try await team.activity(project: nil, limit: try f.maxResults(default: 50, limit: 1000))))
    }

    func progress(_ f: RequestFields, _ c: [String: String]) async throws -> Response {
        let project = try await team.project(id: c["id"] ?? "")
        struct Week: Encodable { let week: String, runs: Int }
        struct Answer: Encodable { let project: String, experiments: [String], weeks: [Week] }
        return try CodableResponse.ok(Answer(
            project: project.id, experiments: project.experiments,
            weeks: try await team.runsPerWeek(experiments: project.experiments).map { Week(week: $0.week, runs: $0.runs) }))
    }
}
