import Foundation

/// A metric agreed before the work starts, with where it is and where it must get to.
public struct ProjectMetric: Sendable, Codable, Equatable {
    public var name: String
    public var baseline: Double?
    public var target: Double?
    public var unit: String?
    public var higherIsBetter: Bool

    enum CodingKeys: String, CodingKey {
        case name, baseline, target, unit
        case higherIsBetter = "higher_is_better"
    }
    public init(name: String, baseline: Double?, target: Double?, unit: String? = nil, higherIsBetter: Bool = true) {
        self.name = name
        self.baseline = baseline
        self.target = target
        self.unit = unit
        self.higherIsBetter = higherIsBetter
    }
}

public struct DataSource: Sendable, Codable, Equatable {
    public var name: String
    /// e.g. available, partial, to-collect.
    public var availability: String
    /// e.g. good, fair, poor, unknown.
    public var quality: String
    public init(name: String, availability: String, quality: String) {
        self.name = name
        self.availability = availability
        self.quality = quality
    }
}

/// The business requirements document of a use case.
public struct BRD: Sendable, Codable, Equatable {
    public var problem = ""
    public var objective = ""
    public var mlFraming = ""
    public var dataSources: [DataSource] = []
    public var annotation = ""
    public var resources = ""
    public var delivery = ""
    public var risks: [String] = []
    public var stakeholders: [String] = []
    public init() {}

    enum CodingKeys: String, CodingKey {
        case problem, objective, annotation, resources, delivery, risks, stakeholders
        case mlFraming = "ml_framing"
        case dataSources = "data_sources"
    }
}

/// Scores that rank a project in the portfolio, each 1 (low) to 5 (high).
public struct ProjectScores: Sendable, Codable, Equatable {
    public var impact: Int
    public var cost: Int
    /// Team bandwidth it needs, 1–5 (also see ``Project/requiredFTE``).
    public var bandwidth: Int
    public var urgency: Int
    public var confidence: Int
    public init(impact: Int = 3, cost: Int = 3, bandwidth: Int = 3, urgency: Int = 3, confidence: Int = 3) {
        self.impact = impact
        self.cost = cost
        self.bandwidth = bandwidth
        self.urgency = urgency
        self.confidence = confidence
    }
}

public struct ChecklistItem: Sendable, Codable, Equatable {
    public var text: String
    public var done: Bool
    public init(text: String, done: Bool = false) {
        self.text = text
        self.done = done
    }
}

/// A task with a three-point estimate in working days, for forecasts.
public struct ProjectTask: Sendable, Codable, Equatable {
    public var id: String
    public var name: String
    public var optimistic: Double
    public var likely: Double
    public var pessimistic: Double
    public var dependsOn: [String]

    enum CodingKeys: String, CodingKey {
        case id, name, optimistic, likely, pessimistic
        case dependsOn = "depends_on"
    }
    public init(id: String, name: String, optimistic: Double, likely: Double, pessimistic: Double, dependsOn: [String] = []) {
        self.id = id
        self.name = name
        self.optimistic = optimistic
        self.likely = likely
        self.pessimistic = pessimistic
        self.dependsOn = dependsOn
    }
}

/// A stage change, with who, when and why (append-only).
public struct StageChange: Sendable, Codable, Equatable {
    public var from: ProjectStage
    public var to: ProjectStage
    public var by: String?
    public var at: Int64
    public var why: String
    public init(from: ProjectStage, to: ProjectStage, by: String?, at: Int64, why: String) {
        self.from = from
        self.to = to
        self.by = by
        self.at = at
        self.why = why
    }
}

/// An ML use case and its lifecycle.
public struct Project: Sendable, Codable, Equatable {
    public var id: String
    public var name: String
    public var stage: ProjectStage = .scoping
    public var brd = BRD()
    public var technicalMetrics: [ProjectMetric] = []
    public var businessMetrics: [ProjectMetric] = []
    /// Stage → person id.
    public var owners: [String: String] = [:]
    /// Stage → the gate checklist to finish before leaving that stage.
    public var checklists: [String: [ChecklistItem]] = [:]
    /// Skills each stage needs, skill → level.
    public var neededSkills: [String: [String: Int]] = [:]
    /// Areas, for matching people's track records (e.g. `nlp`, `churn`).
    public var areas: [String] = []
    public var scores = ProjectScores()
    /// Full-time equivalents the project needs next quarter.
    public var requiredFTE: Double = 1
    public var experiments: [String] = []
    public var models: [String] = []
    public var datasets: [String] = []
    public var tasks: [ProjectTask] = []
    /// Day the plan starts, `yyyy-mm-dd`.
    public var startDate: String?
    /// Day the project is promised for, `yyyy-mm-dd` (the forecast says whether it is late).
    public var dueDate: String?
    public var history: [StageChange] = []
    /// What every handoff of this project must contain (``HandoffChecklist/standard`` when nil).
    public var handoffChecklist: HandoffChecklist?

    enum CodingKeys: String, CodingKey {
        case id, name, stage, brd, owners, checklists, areas, scores, experiments, models, datasets, tasks, history
        case handoffChecklist = "handoff_checklist"
        case technicalMetrics = "technical_metrics"
        case businessMetrics = "business_metrics"
        case neededSkills = "needed_skills"
        case requiredFTE = "required_fte"
        case startDate = "start_date"
        case dueDate = "due_date"
    }

    public init(id: String, name: String) {
        self.id = id
        self.name = name
    }

    /// Default gate checklists per stage, from the seeds' lifecycle.
    public static let defaultChecklists: [ProjectStage: [String]] = [
        .scoping: ["business problem and objective agreed with the business owner", "technical and business metrics with baselines and targets", "data sources identified", "go decision recorded"],
        .data: ["data access granted", "dataset versioned", "labels or annotation plan in place", "data quality checked"],
        .modeling: ["baseline model trained", "evaluation on held-out data meets the target", "experiments logged", "results reviewed with stakeholders"],
        .deployment: ["model registered and versioned", "A/B test or shadow run passed", "latency and cost within budget", "rollback plan", Project.liveDeploymentItem],
        .monitoring: ["dashboards and alerts live", "business metrics tracked", "retraining trigger defined"],
    ]

    public func checklist(for stage: ProjectStage) -> [ChecklistItem] {
        checklists[stage.rawValue] ?? (Self.defaultChecklists[stage] ?? []).map { ChecklistItem(text: $0) }
    }

    /// - Parameter existing: the record is already stored, so an id of the earlier slug form is kept.
    public func validate(existing: Bool = false) throws(EnsembleError) {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw .invalid("name: must not be empty.") }
        try Validation.validateDisplayName(name, field: "name", maxLength: Validation.maxPersonNameLength)
        guard id.count <= Validation.maxSlugLength else { throw .invalid("id: at most \(Validation.maxSlugLength) characters; got \(id.count).") }
        guard !id.isEmpty else { throw .invalid("id: give an id of lower-case letters, digits and '-' (none could be made from the name).") }
        guard RoleCatalog.isValidID(id, existing: existing) else { throw .invalid("id: '\(id)' must be a slug of lower-case letters a-z, digits and '-', such as '\(RoleCatalog.slug(id))'.") }
        for (field, value) in [("impact", scores.impact), ("cost", scores.cost), ("bandwidth", scores.bandwidth), ("urgency", scores.urgency), ("confidence", scores.confidence)] {
            guard (1...5).contains(value) else { throw .invalid("scores.\(field): \(value) must be 1 to 5.") }
        }
        guard requiredFTE >= 0, requiredFTE.isFinite else { throw .invalid("required_fte: \(requiredFTE) must be a non-negative number of full-time people.") }
        for key in Array(owners.keys) + Array(checklists.keys) + Array(neededSkills.keys) where ProjectStage(rawValue: key) == nil {
            throw .invalid("'\(key)' is not a stage; stages are \(ProjectStage.working.map(\.rawValue).joined(separator: ", ")).")
        }
        for (stage, skills) in neededSkills {
            for (skill, level) in skills where !(1...5).contains(level) {
                throw .invalid("needed_skills.\(stage).\(skill): level \(level) must be 1 to 5.")
            }
        }
        if let startDate, Self.parseDate(startDate) == nil { throw .invalid("start_date: '\(startDate)' must be yyyy-mm-dd.") }
        if let dueDate, Self.parseDate(dueDate) == nil { throw .invalid("due_date: '\(dueDate)' must be yyyy-mm-dd.") }
        _ = try ForecastPlan(tasks: tasks)
    }

    /// `yyyy-mm-dd` in UTC, shared (making a formatter per call is costly).
    static let dayFormat: DateFormatter = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd"
        return f
    }()

    static func parseDate(_ s: String) -> Date? { dayFormat.date(from: s) }
}

/// The rules for moving a project between stages.
public enum StageGate {
    /// Problems that block moving `project` to `target`; empty when the move is allowed.
    /// - Forward moves go one stage at a time; moving back, to `cancelled`, or re-opening is always allowed.
    /// - Leaving scoping needs at least one technical and one business metric, each with a baseline and a target.
    /// - The current stage's checklist must be done to move forward.
    /// - The target stage's owner, when set, must hold a role that leads or supports that stage.
    public static func problems(moving project: Project, to target: ProjectStage, people: [Person], roles: [Role]) -> [String] {
        var problems: [String] = []
        let current = project.stage
        if target == current { return ["The project is already in \(target.rawValue)."] }
        if target == .cancelled || (target < current && target != .done) { return [] }
        if current == .cancelled || current == .done {
            if target != .scoping { problems.append("A \(current.rawValue) project re-opens into scoping first.") }
            return problems
        }
        let next = ProjectStage.working.firstIndex(of: current).map { $0 + 1 < ProjectStage.working.count ? ProjectStage.working[$0 + 1] : .done }
        if target != next {
            problems.append("Stages go one at a time: from \(current.rawValue) the next is \(next?.rawValue ?? "none"), not \(target.rawValue).")
        }
        if current == .scoping {
            let technical = project.technicalMetrics.filter { $0.baseline != nil && $0.target != nil }
            let business = project.businessMetrics.filter { $0.baseline != nil && $0.target != nil }
            if technical.isEmpty { problems.append("Define at least one technical metric with a baseline and a target before leaving scoping.") }
            if business.isEmpty { problems.append("Define at least one business metric with a baseline and a target before leaving scoping.") }
        }
        let open = project.checklist(for: current).filter { !$0.done }
        if !open.isEmpty {
            problems.append("The \(current.rawValue) checklist has \(open.count) open item(s): \(open.map { "'\($0.text)'" }.joined(separator: ", ")).")
        }
        if target != .done, let ownerID = project.owners[target.rawValue] {
            if let owner = people.first(where: { $0.id == ownerID }) {
                let fitting = roles.filter { owner.roles.contains($0.id) && $0.fits(target) }
                if fitting.isEmpty {
                    let suitable = roles.filter { $0.fits(target) }.map(\.name)
                    problems.append("\(owner.name) owns \(target.rawValue) but holds no role that leads or supports it (suitable roles: \(suitable.joined(separator: ", "))).")
                }
            } else {
                problems.append("The \(target.rawValue) owner '\(ownerID)' is not on the team.")
            }
        }
        return problems
    }
}

/// An asynchronous stand-up post.
public struct ProjectUpdate: Sendable, Codable, Equatable {
    public var id: Int64
    public var project: String
    public var author: String
    public var done: String
    public var next: String
    public var blocked: String
    public var at: Int64
    public init(id: Int64 = 0, project: String, author: String, done: String, next: String, blocked: String, at: Int64 = 0) {
        self.id = id
        self.project = project
        self.author = author
        self.done = done
        self.next = next
        self.blocked = blocked
        self.at = at
    }
}

/// One line of a project's or the team's activity feed.
public struct ActivityItem: Sendable, Codable, Equatable {
    public var at: Int64
    public var project: String?
    /// `update`, `stage_changed`, `project_created`, `run_created`, `model_version_created`, `alias_set`, `stage_transition`.
    public var kind: String
    public var summary: String
    public var actor: String?
    public init(at: Int64, project: String?, kind: String, summary: String, actor: String?) {
        self.at = at
        self.project = project
        self.kind = kind
        self.summary = summary
        self.actor = actor
    }
}

/// Persistence of the team and its projects.
public protocol TeamStore: Sendable {
    /// Built-in roles (as edited) and the team's own.
    func roles() async throws -> [Role]
    func saveRole(_ role: Role) async throws
    /// Deletes a custom role, or restores a built-in one to its original text.
    func deleteRole(id: String) async throws

    func people() async throws -> [Person]
    func person(id: String) async throws -> Person
    /// Creates (`create == true`, fails if the id or e-mail exists) or replaces a person.
    func savePerson(_ person: Person, create: Bool) async throws
    /// Creates or replaces all of them in one transaction (imports).
    func savePeople(_ people: [Person]) async throws
    func deletePerson(id: String) async throws

    func projects() async throws -> [Project]
    func project(id: String) async throws -> Project
    func saveProject(_ project: Project, create: Bool, actor: String?) async throws
    func deleteProject(id: String) async throws
    /// Moves a project after `check` accepts the project as stored now (in the same transaction), and
    /// records the change with who, when and why.
    func moveProject(id: String, to stage: ProjectStage, why: String, actor: String?, check: @Sendable (Project) throws -> Void) async throws -> Project

    func addUpdate(_ update: ProjectUpdate) async throws -> ProjectUpdate
    /// Newest first; `project == nil` for the whole team.
    func activity(project: String?, limit: Int) async throws -> [ActivityItem]
    /// Runs started per week (Monday, `yyyy-mm-dd`) in these experiments, oldest first.
    func runsPerWeek(experiments: [String]) async throws -> [(week: String, runs: Int)]
}

extension ProjectUpdate {
    /// The update as a line of the activity feed: "done: … | next: … | blocked: …".
    public var activity: ActivityItem {
        let parts = [("done", done), ("next", next), ("blocked", blocked)].filter { !$0.1.isEmpty }.map { "\($0.0): \($0.1)" }
        return ActivityItem(at: at, project: project, kind: "update", summary: parts.joined(separator: " | "), actor: author)
    }

    /// An update needs an author and some text, each part at most 4,000 characters.
    public func validate() throws {
        guard !author.trimmingCharacters(in: .whitespaces).isEmpty else { throw EnsembleError.invalid("author: who is posting the update?") }
        guard !(done + next + blocked).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw EnsembleError.invalid("An update needs at least one of done, next or blocked.")
        }
        for (field, text) in [("done", done), ("next", next), ("blocked", blocked)] where text.count > 4000 {
            throw EnsembleError.invalid("\(field): at most 4000 characters; keep updates short.")
        }
    }
}
