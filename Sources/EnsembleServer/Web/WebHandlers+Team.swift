import EnsembleArtifacts
import EnsembleCore
import EnsembleJSON
import Foundation
import Hummingbird
import Mustache
import NIOCore

/// The team directory, a person, and their skills form.
extension WebHandlers {
    func teamPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let people = try await team.people(), roles = try await team.roles(), projects = try await team.projects()
        let skillCounts = Dictionary(people.flatMap { $0.skills.keys.map { ($0, 1) } }, uniquingKeysWith: +)
        let skills = skillCounts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(16).map(\.key)
        let report = Coverage.report(people: people, roles: roles, projects: projects)
        func who(_ g: CoverageReport.Gap) -> String { g.people.isEmpty ? "nobody" : "only \(g.people.joined(separator: ", "))" }
        return render("team", [
            "title": "Team",
            "people": people.map { p -> Context in
                ["id": p.id, "name": p.name, "roles": p.roles.joined(separator: ", "), "free": Self.pct(p.freeCapacity), "success": Self.pct(p.successRate),
                 "learning": p.learningGoals.joined(separator: ", "),
                 "worksOn": p.assignments.map { ["project": $0.project, "share": Self.pct($0.allocation)] }]
            },
            "skills": skills, "matrix": people.map { p -> Context in ["name": p.name, "levels": skills.map { p.skills[$0] ?? 0 }] },
            "stageGaps": report.stages.map { ["subject": $0.subject, "who": who($0)] },
            "skillGaps": report.skills.map { ["subject": $0.subject, "who": who($0)] },
            "missingRoles": report.missingRoles.isEmpty ? "none" : report.missingRoles.joined(separator: ", "),
        ])
    }

    func personPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let p = try await team.person(id: try c.capture("id"))
        return render("person", [
            "title": p.name, "id": p.id, "name": p.name, "email": p.email, "roles": p.roles.joined(separator: ", "),
            "skillsText": p.skills.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: "; "),
            "learningText": p.learningGoals.joined(separator: "; "),
            "skills": p.skills.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] },
            "capacity": Self.pct(p.capacity), "free": Self.pct(p.freeCapacity),
            "assignments": p.assignments.map { ["project": $0.project, "share": Self.pct($0.allocation)] },
            "learning": p.learningGoals.joined(separator: ", "), "expertise": p.expertise.joined(separator: ", "), "success": Self.pct(p.successRate),
            "history": p.history.map { ["project": $0.project, "outcome": $0.outcome.rawValue] },
        ])
    }

    func saveSkills(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        var person = try await team.person(id: try c.capture("id"))
        let fields = try await Self.form(r)
        func field(_ n: String) -> String { fields.first { $0.0 == n }?.1 ?? "" }
        let parsed = try TeamSpreadsheet.person(from: ["name": person.name, "email": person.email, "id": person.id, "skills": field("skills"), "learning_goals": field("learning")])
        person.skills = parsed.skills
        person.learningGoals = parsed.learningGoals
        try await team.savePerson(person, create: false)
        return Self.redirect("/people/\(Self.urlComponent(person.id))")
    }
}
