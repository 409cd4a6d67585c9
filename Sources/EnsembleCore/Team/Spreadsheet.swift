/// The team spreadsheet layout: one row per person, lists separated by `;`, skills as `python:4;sql:3`,
/// assignments as `churn:0.5`, history as `project:outcome` or `project:outcome:area|area`.
public enum TeamSpreadsheet {
    public static let columns = ["name", "email", "id", "roles", "skills", "expertise", "learning_goals", "capacity", "assignments", "history"]

    /// One row (column name → text) to a person; the error names the column and what is allowed.
    public static func person(from row: [String: String]) throws(EnsembleError) -> Person {
        func list(_ key: String) -> [String] {
            (row[key] ?? "").split(separator: ";").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let email = (row["email"] ?? "").trimmingCharacters(in: .whitespaces)
        let name = (row["name"] ?? "").trimmingCharacters(in: .whitespaces)
        var id = (row["id"] ?? "").trimmingCharacters(in: .whitespaces)
        if id.isEmpty { id = RoleCatalog.slug(String(email.split(separator: "@").first ?? "")) }
        var skills: [String: Int] = [:]
        for item in list("skills") {
            let parts = item.split(separator: ":", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, let level = Int(parts[1]), (1...5).contains(level) else {
                throw .invalid("skills: '\(item)' must be skill:level with a level from 1 to 5, e.g. python:4.")
            }
            guard skills[parts[0]] == nil else { throw .invalid("skills: '\(parts[0])' is listed twice.") }
            skills[parts[0]] = level
        }
        var capacity = 1.0
        if let raw = row["capacity"]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty {
            guard let c = Double(raw.hasSuffix("%") ? String(raw.dropLast()) : raw) else { throw .invalid("capacity: '\(raw)' must be a share of a week like 0.8 or 80%.") }
            capacity = raw.hasSuffix("%") ? c / 100 : c
        }
        var assignments: [Assignment] = []
        for item in list("assignments") {
            let parts = item.split(separator: ":", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, let share = Double(parts[1]) else {
                throw .invalid("assignments: '\(item)' must be project:share, e.g. churn:0.5.")
            }
            assignments.append(Assignment(project: parts[0], allocation: share))
        }
        var history: [HistoryEntry] = []
        for item in list("history") {
            let parts = item.split(separator: ":", maxSplits: 2).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard parts.count >= 2, !parts[0].isEmpty, let outcome = ProjectOutcome(rawValue: parts[1].lowercased()) else {
                throw .invalid("history: '\(item)' must be project:outcome with outcome delivered, partial, cancelled or failed.")
            }
            let areas = parts.count == 3 ? parts[2].split(separator: "|").map(String.init) : []
            history.append(HistoryEntry(project: parts[0], outcome: outcome, areas: areas))
        }
        return Person(
            id: id, name: name, email: email, roles: list("roles"), skills: skills, expertise: list("expertise"), learningGoals: list("learning_goals"),
            capacity: capacity, assignments: assignments, history: history)
    }

    /// A person as a row, in ``columns`` order.
    public static func row(of p: Person) -> [String] {
        func fmt(_ d: Double) -> String { d == d.rounded() ? String(Int(d)) : String(d) }
        return [
            p.name, p.email, p.id, p.roles.joined(separator: ";"),
            p.skills.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ";"),
            p.expertise.joined(separator: ";"), p.learningGoals.joined(separator: ";"), fmt(p.capacity),
            p.assignments.map { "\($0.project):\(fmt($0.allocation))" }.joined(separator: ";"),
            p.history.map { "\($0.project):\($0.outcome.rawValue)" + ($0.areas.isEmpty ? "" : ":" + $0.areas.joined(separator: "|")) }.joined(separator: ";"),
        ]
    }

    /// RFC 4180 quoting when needed.
    public static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}

import Foundation
