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
        func gap(_ g: CoverageReport.Gap) -> TeamView.Gap {
            TeamView.Gap(subject: g.subject, who: g.people.isEmpty ? "nobody" : "only \(g.people.joined(separator: ", "))")
        }
        return render(
            c,
            "team",
            TeamView(
                people: people.map { p in
                    TeamView.PersonRow(
                        id: p.id, name: p.name, roles: p.roles.joined(separator: ", "), free: Self.pct(p.freeCapacity), success: Self.pct(p.successRate),
                        learning: p.learningGoals.joined(separator: ", "),
                        worksOn: p.assignments.map { TeamView.Share(project: $0.project, share: Self.pct($0.allocation)) })
                },
                skills: Array(skills), matrix: people.map { p in TeamView.MatrixRow(name: p.name, levels: skills.map { p.skills[$0] ?? 0 }) },
                stageGaps: report.stages.map(gap), skillGaps: report.skills.map(gap),
                missingRoles: report.missingRoles.isEmpty ? "none" : report.missingRoles.joined(separator: ", ")))
    }

    func personPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let p = try await team.person(id: try c.capture("id"))
        return render(
            c,
            "person",
            PersonPageView(
                title: p.name, id: p.id, name: p.name, email: p.email, roles: p.roles.joined(separator: ", "),
                skillsText: p.skills.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: "; "),
                learningText: p.learningGoals.joined(separator: "; "),
                skills: p.skills.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { PersonPageView.Skill(key: $0.key, value: $0.value) },
                capacity: Self.pct(p.capacity), free: Self.pct(p.freeCapacity),
                assignments: p.assignments.map { TeamView.Share(project: $0.project, share: Self.pct($0.allocation)) },
                learning: p.learningGoals.joined(separator: ", "), expertise: p.expertise.joined(separator: ", "), success: Self.pct(p.successRate),
                history: p.history.map { PersonPageView.Outcome(project: $0.project, outcome: $0.outcome.rawValue) }))
    }

    func saveSkills(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        var person = try await team.person(id: try c.capture("id"))
        let form = try await Self.form(SkillsForm.self, r)
        let parsed = try TeamSpreadsheet.person(from: [
            "name": person.name, "email": person.email, "id": person.id, "skills": form.skills ?? "", "learning_goals": form.learning ?? "",
        ])
        person.skills = parsed.skills
        person.learningGoals = parsed.learningGoals
        try await team.savePerson(person, create: false)
        return Self.redirect("/people/\(Self.urlComponent(person.id))")
    }
}

/// The skills form on a person's page: `skill:level` pairs and learning goals, as in the spreadsheet.
struct SkillsForm: Decodable {
    var skills, learning: String?
}
