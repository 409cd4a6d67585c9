import Foundation

/// How a finished project ended, from one person's history.
public enum ProjectOutcome: String, Sendable, Codable, CaseIterable {
    case delivered, partial, cancelled, failed
}

public struct Assignment: Sendable, Codable, Equatable {
    /// Project id.
    public var project: String
    /// Share of a week, 0–1.
    public var allocation: Double
    public init(project: String, allocation: Double) {
        self.project = project
        self.allocation = allocation
    }
}

public struct HistoryEntry: Sendable, Codable, Equatable {
    public var project: String
    public var outcome: ProjectOutcome
    /// Areas of the project, e.g. `nlp`, `forecasting` (used to find similar projects).
    public var areas: [String]
    public init(project: String, outcome: ProjectOutcome, areas: [String] = []) {
        self.project = project
        self.outcome = outcome
        self.areas = areas
    }
}

/// A member of the team.
public struct Person: Sendable, Codable, Equatable {
    /// A slug, unique in the team (from the e-mail's local part by default).
    public var id: String
    public var name: String
    public var email: String
    /// Role ids.
    public var roles: [String]
    /// Skill → level 1–5.
    public var skills: [String: Int]
    public var expertise: [String]
    /// Skills the person wants to grow.
    public var learningGoals: [String]
    /// Share of a week available for project work, 0–1.
    public var capacity: Double
    public var assignments: [Assignment]
    public var history: [HistoryEntry]

    enum CodingKeys: String, CodingKey {
        case id, name, email, roles, skills, expertise, capacity, assignments, history
        case learningGoals = "learning_goals"
    }

    public init(
        id: String, name: String, email: String, roles: [String] = [], skills: [String: Int] = [:], expertise: [String] = [],
        learningGoals: [String] = [], capacity: Double = 1, assignments: [Assignment] = [], history: [HistoryEntry] = []
    ) {
        self.id = id
        self.name = name
        self.email = email
        self.roles = roles
        self.skills = skills
        self.expertise = expertise
        self.learningGoals = learningGoals
        self.capacity = capacity
        self.assignments = assignments
        self.history = history
    }

    /// Derived from the history, never typed in: (delivered + ½·partial) / (delivered + partial + failed).
    /// Cancelled projects do not count (the decision to stop was not the person's result). `nil` with
    /// no finished project.
    public var successRate: Double? {
        var score = 0.0, n = 0
        for entry in history {
            switch entry.outcome {
            case .delivered: score += 1; n += 1
            case .partial: score += 0.5; n += 1
            case .failed: n += 1
            case .cancelled: continue
            }
        }
        return n == 0 ? nil : score / Double(n)
    }

    public var allocated: Double { assignments.reduce(0) { $0 + $1.allocation } }
    /// Capacity not yet allocated (never negative).
    public var freeCapacity: Double { max(0, capacity - allocated) }

    /// Checks every field; the messages name the field and what is allowed.
    /// - Parameter existing: the record is already stored, so an id of the earlier slug form is kept.
    public func validate(knownRoles: Set<String>, existing: Bool = false) throws(EnsembleError) {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw .invalid("name: must not be empty.") }
        try Validation.validateDisplayName(name, field: "name", maxLength: Validation.maxPersonNameLength)
        guard id.count <= Validation.maxSlugLength else { throw .invalid("id: at most \(Validation.maxSlugLength) characters; got \(id.count).") }
        guard email.count <= 320 else { throw .invalid("email: at most 320 characters.") }
        guard Self.isEmail(email) else { throw .invalid("email: '\(email)' is not an e-mail address (name@domain).") }
        guard !id.isEmpty else { throw .invalid("id: give an id of lower-case letters, digits and '-' (none could be made from the name).") }
        guard RoleCatalog.isValidID(id, existing: existing) else { throw .invalid("id: '\(id)' must be a slug of lower-case letters a-z, digits and '-', such as '\(RoleCatalog.slug(id))'.") }
        for role in roles where !knownRoles.contains(role) {
            throw .invalid("roles: unknown role '\(role)'. Known roles: \(knownRoles.sorted().joined(separator: ", ")).")
        }
        for (skill, level) in skills {
            guard !skill.isEmpty else { throw .invalid("skills: a skill name is empty.") }
            guard (1...5).contains(level) else { throw .invalid("skills: '\(skill)' has level \(level); levels are 1 to 5.") }
        }
        guard capacity >= 0, capacity <= 1, capacity.isFinite else { throw .invalid("capacity: \(capacity) must be a share of a week between 0 and 1.") }
        for a in assignments {
            guard a.allocation > 0, a.allocation <= 1 else { throw .invalid("assignments: '\(a.project)' has allocation \(a.allocation); use a share between 0 and 1.") }
        }
    }

    static func isEmail(_ s: String) -> Bool {
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
            && !s.contains(where: { $0.isWhitespace })
    }
}
