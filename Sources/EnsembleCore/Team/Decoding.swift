import Foundation

// Lenient decoding for the team API: fields a client leaves out take their defaults, so
// `{"name": "Churn", "id": "churn"}` is a valid project.

extension KeyedDecodingContainer {
    func value<T: Decodable>(_ key: Key, default fallback: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback
    }
}

extension Person {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let email = try c.value(.email, default: "")
        let local = email.split(separator: "@").first.map(String.init) ?? ""
        self.init(
            id: try c.value(.id, default: RoleCatalog.slug(local)), name: try c.value(.name, default: ""), email: email,
            roles: try c.value(.roles, default: []), skills: try c.value(.skills, default: [:]), expertise: try c.value(.expertise, default: []),
            learningGoals: try c.value(.learningGoals, default: []), capacity: try c.value(.capacity, default: 1),
            assignments: try c.value(.assignments, default: []), history: try c.value(.history, default: []))
    }
}

extension Role {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.value(.name, default: "")
        self.init(
            id: try c.value(.id, default: RoleCatalog.slug(name)), name: name, summary: try c.value(.summary, default: ""),
            skills: try c.value(.skills, default: []), responsibilities: try c.value(.responsibilities, default: []), tools: try c.value(.tools, default: []),
            leads: try c.value(.leads, default: []), supports: try c.value(.supports, default: []), builtIn: try c.value(.builtIn, default: false))
    }
}

extension ProjectMetric {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try c.value(.name, default: ""), baseline: try c.decodeIfPresent(Double.self, forKey: .baseline),
            target: try c.decodeIfPresent(Double.self, forKey: .target), unit: try c.decodeIfPresent(String.self, forKey: .unit),
            higherIsBetter: try c.value(.higherIsBetter, default: true))
    }
}

extension ProjectTask {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let id = try c.value(.id, default: "")
        self.init(
            id: id, name: try c.value(.name, default: id), optimistic: try c.decode(Double.self, forKey: .optimistic),
            likely: try c.decode(Double.self, forKey: .likely), pessimistic: try c.decode(Double.self, forKey: .pessimistic),
            dependsOn: try c.value(.dependsOn, default: []))
    }
}

extension BRD {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        problem = try c.value(.problem, default: "")
        objective = try c.value(.objective, default: "")
        mlFraming = try c.value(.mlFraming, default: "")
        dataSources = try c.value(.dataSources, default: [])
        annotation = try c.value(.annotation, default: "")
        resources = try c.value(.resources, default: "")
        delivery = try c.value(.delivery, default: "")
        risks = try c.value(.risks, default: [])
        stakeholders = try c.value(.stakeholders, default: [])
    }
}

extension ProjectScores {
    enum CodingKeys: String, CodingKey { case impact, cost, bandwidth, urgency, confidence }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            impact: try c.value(.impact, default: 3), cost: try c.value(.cost, default: 3), bandwidth: try c.value(.bandwidth, default: 3),
            urgency: try c.value(.urgency, default: 3), confidence: try c.value(.confidence, default: 3))
    }
}

extension Project {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.value(.name, default: "")
        self.init(id: try c.value(.id, default: RoleCatalog.slug(name)), name: name)
        stage = try c.value(.stage, default: .scoping)
        brd = try c.value(.brd, default: BRD())
        technicalMetrics = try c.value(.technicalMetrics, default: [])
        businessMetrics = try c.value(.businessMetrics, default: [])
        owners = try c.value(.owners, default: [:])
        checklists = try c.value(.checklists, default: [:])
        neededSkills = try c.value(.neededSkills, default: [:])
        areas = try c.value(.areas, default: [])
        scores = try c.value(.scores, default: ProjectScores())
        requiredFTE = try c.value(.requiredFTE, default: 1)
        experiments = try c.value(.experiments, default: [])
        models = try c.value(.models, default: [])
        datasets = try c.value(.datasets, default: [])
        tasks = try c.value(.tasks, default: [])
        startDate = try c.decodeIfPresent(String.self, forKey: .startDate)
        dueDate = try c.decodeIfPresent(String.self, forKey: .dueDate)
        history = try c.value(.history, default: [])
        handoffChecklist = try c.decodeIfPresent(HandoffChecklist.self, forKey: .handoffChecklist)
    }
}

extension HistoryEntry {
    enum CodingKeys: String, CodingKey { case project, outcome, areas }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(project: try c.decode(String.self, forKey: .project), outcome: try c.decode(ProjectOutcome.self, forKey: .outcome), areas: try c.value(.areas, default: []))
    }
}
