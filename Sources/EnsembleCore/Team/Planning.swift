import Foundation

// MARK: Portfolio

/// How much each criterion counts in the portfolio score. Impact, urgency and confidence count for a
/// project; cost and bandwidth against it.
public struct PortfolioWeights: Sendable, Codable, Equatable {
    public var impact = 0.35
    public var cost = 0.15
    public var bandwidth = 0.15
    public var urgency = 0.2
    public var confidence = 0.15
    public init() {}

    public func validate() throws(EnsembleError) {
        let all = [impact, cost, bandwidth, urgency, confidence]
        guard all.allSatisfy({ $0 >= 0 && $0.isFinite }), all.reduce(0, +) > 0 else {
            throw .invalid("weights: every weight must be ≥ 0 and at least one > 0.")
        }
    }
}

public struct PortfolioEntry: Sendable, Equatable {
    public var project: String
    public var name: String
    public var stage: ProjectStage
    /// 0–1.
    public var score: Double
    public var rank: Int
    public var requiredFTE: Double
    public var fits: Bool
    /// Why it fits or not, in words.
    public var note: String
}

public enum Portfolio {
    /// Ranks active projects (not done or cancelled) by weighted score, then checks capacity greedily
    /// in rank order: a project fits when the team's free capacity left after the higher-ranked ones
    /// covers its required FTE, and someone on the team has each skill it needs.
    public static func rank(projects: [Project], people: [Person], weights: PortfolioWeights = PortfolioWeights()) -> [PortfolioEntry] {
        let total = weights.impact + weights.cost + weights.bandwidth + weights.urgency + weights.confidence
        func normal(_ x: Int) -> Double { Double(x - 1) / 4 }
        let active = projects.filter { $0.stage != .done && $0.stage != .cancelled }
        let scored = active.map { p -> (Project, Double) in
            let s = p.scores
            let value = weights.impact * normal(s.impact) + weights.urgency * normal(s.urgency) + weights.confidence * normal(s.confidence)
                + weights.cost * (1 - normal(s.cost)) + weights.bandwidth * (1 - normal(s.bandwidth))
            return (p, total > 0 ? value / total : 0)
        }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0.id < $1.0.id }
        // Capacity: free time of everyone, plus what each project already has allocated to it.
        var remaining = people.reduce(0.0) { $0 + $1.freeCapacity }
        var entries: [PortfolioEntry] = []
        for (i, (p, score)) in scored.enumerated() {
            let already = people.reduce(0.0) { sum, person in sum + person.assignments.filter { $0.project == p.id }.reduce(0) { $0 + $1.allocation } }
            let needed = max(0, p.requiredFTE - already)
            let skills = Set(p.neededSkills.values.flatMap(\.keys))
            let missing = skills.filter { skill in !people.contains { ($0.skills[skill] ?? 0) >= 1 } }.sorted()
            var fits = true
            var note: String
            if needed <= remaining + 1e-9 {
                remaining -= needed
                note = already >= p.requiredFTE
                    ? String(format: "Staffed: %.1f FTE already allocated.", already)
                    : String(format: "Fits: needs %.1f more FTE; %.1f FTE left after it.", needed, remaining)
            } else {
                fits = false
                note = String(format: "Does not fit: needs %.1f more FTE, only %.1f FTE free after higher-ranked projects.", needed, remaining)
            }
            if !missing.isEmpty {
                fits = false
                note = (note.hasPrefix("Fits: ") ? "Capacity is there (" + note.dropFirst(6).dropLast() + "), but" : note + " Also,")
                    + " nobody on the team has: \(missing.joined(separator: ", "))."
            }
            entries.append(PortfolioEntry(project: p.id, name: p.name, stage: p.stage, score: score, rank: i + 1, requiredFTE: p.requiredFTE, fits: fits, note: note))
        }
        return entries
    }
}

// MARK: Staffing

public struct StaffingCandidate: Sendable, Equatable {
    public var person: String
    public var name: String
    /// 0–1.
    public var score: Double
    public var skillFit: Double
    public var freeCapacity: Double
    public var trackRecord: Double?
    public var learningBonus: Double
    public var reasons: [String]
}

public enum Staffing {
    /// Ranks people for a project's stage: skill fit against the stage's needed skills (levels matter:
    /// a level below the need counts in proportion), free capacity, success rate on projects in the same
    /// areas (or overall), and a bonus when the work grows a skill they want to learn.
    /// Score = 0.5·fit + 0.25·free capacity + 0.15·track record (0.5 when unknown) + learning bonus (≤ 0.1).
    public static func rank(project: Project, stage: ProjectStage, people: [Person], roles: [Role]) -> [StaffingCandidate] {
        let needed = project.neededSkills[stage.rawValue] ?? [:]
        return people.map { person -> StaffingCandidate in
            var reasons: [String] = []
            var fit = 1.0
            if !needed.isEmpty {
                var sum = 0.0
                var strong: [String] = [], weak: [String] = [], absent: [String] = []
                for (skill, level) in needed.sorted(by: { $0.key < $1.key }) {
                    let have = person.skills[skill] ?? 0
                    sum += min(1, Double(have) / Double(level))
                    if have >= level { strong.append("\(skill) \(have)/\(level)") } else if have > 0 { weak.append("\(skill) \(have)/\(level)") } else { absent.append(skill) }
                }
                fit = sum / Double(needed.count)
                if !strong.isEmpty { reasons.append("meets \(strong.joined(separator: ", "))") }
                if !weak.isEmpty { reasons.append("below the need in \(weak.joined(separator: ", "))") }
                if !absent.isEmpty { reasons.append("lacks \(absent.joined(separator: ", "))") }
            } else {
                reasons.append("no skills are listed for \(stage.rawValue)")
            }
            if roles.contains(where: { person.roles.contains($0.id) && $0.fits(stage) }) {
                reasons.append("holds a role that works in \(stage.rawValue)")
            }
            let free = person.freeCapacity
            reasons.append(String(format: "%.0f%% of a week free", free * 100))
            let similar = person.history.filter { !Set($0.areas).isDisjoint(with: project.areas) }
            var track: Double? = nil
            if !similar.isEmpty, let rate = Person(id: person.id, name: "", email: "", history: similar).successRate {
                track = rate
                reasons.append(String(format: "%.0f%% success on %d similar project(s)", rate * 100, similar.count))
            } else if let rate = person.successRate {
                track = rate
                reasons.append(String(format: "%.0f%% success overall", rate * 100))
            } else {
                reasons.append("no finished projects yet")
            }
            let growing = needed.keys.filter { person.learningGoals.contains($0) && (person.skills[$0] ?? 0) < (needed[$0] ?? 0) + 1 }.sorted()
            let bonus = growing.isEmpty ? 0 : 0.1
            if !growing.isEmpty { reasons.append("wants to learn \(growing.joined(separator: ", "))") }
            let score = 0.5 * fit + 0.25 * min(1, free) + 0.15 * (track ?? 0.5) + bonus
            return StaffingCandidate(person: person.id, name: person.name, score: score, skillFit: fit, freeCapacity: free, trackRecord: track, learningBonus: bonus, reasons: reasons)
        }.sorted { $0.score != $1.score ? $0.score > $1.score : $0.person < $1.person }
    }
}

// MARK: Coverage

public struct CoverageReport: Sendable, Equatable {
    public struct Gap: Sendable, Equatable {
        /// A stage or skill name.
        public var subject: String
        public var people: [String]
        /// `none` or `one` (bus factor 1).
        public var severity: String
    }
    public var stages: [Gap]
    public var skills: [Gap]
    /// Built-in roles nobody holds.
    public var missingRoles: [String]
}

public enum Coverage {
    /// Stages and skills covered by nobody or by one person only, and the roles the team lacks. A skill
    /// counts from level 3; the skills checked are those the projects need and those of the roles held.
    public static func report(people: [Person], roles: [Role], projects: [Project]) -> CoverageReport {
        var stages: [CoverageReport.Gap] = []
        for stage in ProjectStage.working {
            let who = people.filter { p in roles.contains { p.roles.contains($0.id) && $0.fits(stage) } }.map(\.id).sorted()
            if who.count <= 1 { stages.append(.init(subject: stage.rawValue, people: who, severity: who.isEmpty ? "none" : "one")) }
        }
        var skillNames = Set(projects.filter { $0.stage != .done && $0.stage != .cancelled }.flatMap { $0.neededSkills.values.flatMap(\.keys) })
        for role in roles where people.contains(where: { $0.roles.contains(role.id) }) { skillNames.formUnion(role.skills) }
        var skills: [CoverageReport.Gap] = []
        for skill in skillNames.sorted() {
            let who = people.filter { ($0.skills[skill] ?? 0) >= 3 }.map(\.id).sorted()
            if who.count <= 1 { skills.append(.init(subject: skill, people: who, severity: who.isEmpty ? "none" : "one")) }
        }
        let held = Set(people.flatMap(\.roles))
        let missing = roles.filter { $0.builtIn && !held.contains($0.id) }.map(\.id)
        return CoverageReport(stages: stages, skills: skills, missingRoles: missing)
    }
}
