import Foundation

/// Where models run: a named environment (production, staging, the edge fleet).
public struct DeploymentEnvironment: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case batch, online, edge
    }
    /// A slug: lower-case letters, digits and `-`.
    public var name: String
    public var kind: Kind
    public var url: String?
    public var region: String?
    public var description: String?

    public init(name: String, kind: Kind, url: String? = nil, region: String? = nil, description: String? = nil) {
        self.name = name
        self.kind = kind
        self.url = url
        self.region = region
        self.description = description
    }

    public func validate() throws(EnsembleError) {
        guard !name.isEmpty, name.count <= Validation.maxSlugLength, RoleCatalog.isValidID(name, existing: false) else {
            throw .invalid("name: '\(name.prefix(80))' must be a slug of lower-case letters, digits and '-', such as 'production' or 'eu-batch'.")
        }
        for (field, value) in [("url", url), ("region", region)] {
            if let value { try Validation.validateDisplayName(value, field: field, maxLength: 500) }
        }
        if let description, description.count > 2000 { throw .invalid("description: at most 2000 characters.") }
    }
}

/// Where a deployment is in its life.
public enum DeploymentStatus: String, Sendable, Codable, CaseIterable {
    case deploying, live, retired
    case rolledBack = "rolled_back"

    /// Still taking (or about to take) traffic.
    public var isActive: Bool { self == .deploying || self == .live }
}

/// One change of a deployment, append-only.
public struct DeploymentEvent: Sendable, Codable, Equatable {
    public var status: DeploymentStatus
    public var traffic: Double
    public var by: String?
    public var at: Int64
    public var commit: String?
    public var pipelineRun: String?
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case status, traffic, by, at, commit, note
        case pipelineRun = "pipeline_run"
    }
    public init(status: DeploymentStatus, traffic: Double, by: String?, at: Int64, commit: String? = nil, pipelineRun: String? = nil, note: String? = nil) {
        self.status = status
        self.traffic = traffic
        self.by = by
        self.at = at
        self.commit = commit
        self.pipelineRun = pipelineRun
        self.note = note
    }
}

/// A registered model version running in an environment, with the share of traffic it takes.
public struct Deployment: Sendable, Codable, Equatable {
    public var id: Int64 = 0
    public var name: String
    public var version: Int64
    public var environment: String
    public var status: DeploymentStatus
    /// Share of the environment's traffic, 0 to 1 (1 for batch and edge rollouts that take it all).
    public var traffic: Double
    public var project: String?
    /// The data production windows are compared with, `datasets:/NAME@VERSION`, when CI/CD recorded one
    /// (otherwise the model's training data, found through lineage).
    public var reference: String?
    public var history: [DeploymentEvent] = []
    public var createdAt: Int64 = 0
    public var updatedAt: Int64 = 0

    enum CodingKeys: String, CodingKey {
        case id, name, version, environment, status, traffic, project, reference, history
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(name: String, version: Int64, environment: String, status: DeploymentStatus, traffic: Double, project: String? = nil) {
        self.name = name
        self.version = version
        self.environment = environment
        self.status = status
        self.traffic = traffic
        self.project = project
    }

    public var model: String { "models:/\(name)/\(version)" }
}

/// What CI/CD reports: this version is now in this state in this environment.
public struct DeploymentReport: Sendable, Codable, Equatable {
    public var name: String
    public var version: Int64
    public var environment: String
    public var status: DeploymentStatus
    public var traffic: Double
    public var project: String?
    public var commit: String?
    public var pipelineRun: String?
    public var note: String?
    /// `datasets:/NAME@VERSION`: the deployment's reference data from now on.
    public var reference: String?

    enum CodingKeys: String, CodingKey {
        case name, version, environment, status, traffic, project, commit, note, reference
        case pipelineRun = "pipeline_run"
    }

    public init(name: String, version: Int64, environment: String, status: DeploymentStatus = .live, traffic: Double = 1, project: String? = nil,
                commit: String? = nil, pipelineRun: String? = nil, note: String? = nil) {
        (self.name, self.version, self.environment, self.status, self.traffic) = (name, version, environment, status, traffic)
        (self.project, self.commit, self.pipelineRun, self.note) = (project, commit, pipelineRun, note)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        version = try c.decode(Int64.self, forKey: .version)
        environment = try c.decode(String.self, forKey: .environment)
        status = try c.decodeIfPresent(DeploymentStatus.self, forKey: .status) ?? .live
        traffic = try c.decodeIfPresent(Double.self, forKey: .traffic) ?? 1
        project = try c.decodeIfPresent(String.self, forKey: .project)
        commit = try c.decodeIfPresent(String.self, forKey: .commit)
        pipelineRun = try c.decodeIfPresent(String.self, forKey: .pipelineRun)
        note = try c.decodeIfPresent(String.self, forKey: .note)
        reference = try c.decodeIfPresent(String.self, forKey: .reference)
    }

    public func validate() throws(EnsembleError) {
        guard version > 0 else { throw .invalid("version: \(version) must be a positive version number.") }
        guard traffic.isFinite, (0...1).contains(traffic) else { throw .invalid("traffic: \(traffic) must be a share from 0 to 1 (0.1 for 10%).") }
        for (field, value, limit) in [("commit", commit, 200), ("pipeline_run", pipelineRun, 2000), ("note", note, 4000)] {
            if let value, value.count > limit { throw .invalid("\(field): at most \(limit) characters.") }
        }
    }
}

/// Which deployments to list.
public struct DeploymentQuery: Sendable {
    public var environment: String?
    public var name: String?
    public var version: Int64?
    public var project: String?
    /// Only deploying or live ones ("what runs where").
    public var activeOnly = false
    public init(environment: String? = nil, name: String? = nil, version: Int64? = nil, project: String? = nil, activeOnly: Bool = false) {
        self.environment = environment
        self.name = name
        self.version = version
        self.project = project
        self.activeOnly = activeOnly
    }
}

extension Project {
    /// The deployment stage's gate item that a live deployment of the project's model ticks.
    public static let liveDeploymentItem = "model live in an environment (a recorded deployment)"
}

/// Persistence of environments and deployments.
public protocol DeploymentStore: Sendable {
    func environments() async throws -> [DeploymentEnvironment]
    /// Creates or replaces an environment.
    func saveEnvironment(_ environment: DeploymentEnvironment) async throws
    /// Records what CI/CD reports, in one transaction: the version must exist, the environment too; an
    /// active deployment of that version there is updated (its history grows), otherwise a new one
    /// starts. The active deployments of an environment may not take more than all of its traffic.
    /// A live deployment of a project's model ticks the project's deployment gate item.
    func recordDeployment(_ report: DeploymentReport, actor: String?) async throws -> Deployment
    func deployment(id: Int64) async throws -> Deployment
    /// Newest change first.
    func deployments(_ query: DeploymentQuery) async throws -> [Deployment]

    /// Keeps an A/B analysis on its project (which must exist, as must the model versions it names).
    func saveABResult(_ result: ABResult) async throws -> ABResult
    /// Newest first: a project's, or those that compared a model version (`models:/NAME/VERSION`).
    func abResults(project: String?, model: String?) async throws -> [ABResult]
    func abResult(id: Int64) async throws -> ABResult

    /// Keeps a drift window on its deployment; a drifted window posts to the project's feed.
    func saveDriftWindow(_ window: DriftWindow) async throws -> DriftWindow
    /// Oldest first.
    func driftWindows(deployment: Int64) async throws -> [DriftWindow]
}

/// An A/B test's analysis kept on a project, linked to the two model versions it compared.
public struct ABResult: Sendable, Codable, Equatable {
    public var id: Int64 = 0
    public var project: String
    public var title: String
    /// `models:/NAME/VERSION` of the model in the control arm, and of the candidate.
    public var controlModel: String?
    public var treatmentModel: String?
    /// The analysis as `ensemble ab --json` printed it.
    public var result: String
    public var summary: String
    public var srmPValue: Double
    public var actor: String?
    public var at: Int64 = 0

    enum CodingKeys: String, CodingKey {
        case id, project, title, result, summary, actor, at
        case controlModel = "control_model"
        case treatmentModel = "treatment_model"
        case srmPValue = "srm_p_value"
    }

    public init(project: String, title: String, controlModel: String?, treatmentModel: String?, result: String, summary: String, srmPValue: Double, actor: String?) {
        (self.project, self.title, self.controlModel, self.treatmentModel) = (project, title, controlModel, treatmentModel)
        (self.result, self.summary, self.srmPValue, self.actor) = (result, summary, srmPValue, actor)
    }
}

/// The per-metric part of `ensemble ab --json` that pages show.
public struct ABSummary: Sendable, Codable, Equatable {
    public struct Metric: Sendable, Codable, Equatable {
        public var name: String
        public var controlMean: Double
        public var treatmentMean: Double
        public var lift: Double
        public var relativeLift: Double
        public var ciLow: Double
        public var ciHigh: Double
        public var pValue: Double
        public var adjustedPValue: Double
        public var guardrail: Bool?
        public var gotWorse: Bool?
        enum CodingKeys: String, CodingKey {
            case name, lift, guardrail
            case controlMean = "control_mean"
            case treatmentMean = "treatment_mean"
            case relativeLift = "relative_lift"
            case ciLow = "ci_low"
            case ciHigh = "ci_high"
            case pValue = "p_value"
            case adjustedPValue = "adjusted_p_value"
            case gotWorse = "got_worse"
        }
    }
    public var control: String
    public var treatment: String
    public var controlUnits: Int64
    public var treatmentUnits: Int64
    public var srmPValue: Double
    public var summary: String
    public var metrics: [Metric]
    enum CodingKeys: String, CodingKey {
        case control, treatment, summary, metrics
        case controlUnits = "control_units"
        case treatmentUnits = "treatment_units"
        case srmPValue = "srm_p_value"
    }

    /// Reads the JSON writer's "NaN" and "±Infinity" strings as numbers (a control mean of 0 has no relative lift).
    public static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return d
    }

    public func validate() throws(EnsembleError) {
        guard !metrics.isEmpty else { throw .invalid("result.metrics: an A/B result compares at least one metric.") }
        guard controlUnits > 0, treatmentUnits > 0 else { throw .invalid("result: both arms need units.") }
        guard (0...1).contains(srmPValue) else { throw .invalid("result.srm_p_value: \(srmPValue) is not a p-value.") }
    }
}

/// One window of production data compared with a deployment's reference (`ensemble drift --deployment`).
public struct DriftWindow: Sendable, Codable, Equatable {
    public struct Column: Sendable, Codable, Equatable {
        public var column: String
        public var kind: String
        public var statistic: Double
        public var pValue: Double
        public var wasserstein: Double?
        public var wassersteinNormed: Double?
        public var psi: Double?
        public var jensenShannon: Double?
        public var drifted: Bool
        public init(column: String, kind: String, statistic: Double, pValue: Double, wasserstein: Double?, wassersteinNormed: Double?, psi: Double?, jensenShannon: Double?, drifted: Bool) {
            (self.column, self.kind, self.statistic, self.pValue, self.wasserstein) = (column, kind, statistic, pValue, wasserstein)
            (self.wassersteinNormed, self.psi, self.jensenShannon, self.drifted) = (wassersteinNormed, psi, jensenShannon, drifted)
        }
        enum CodingKeys: String, CodingKey {
            case column, kind, statistic, wasserstein, psi, drifted
            case pValue = "p_value"
            case wassersteinNormed = "wasserstein_normed"
            case jensenShannon = "jensen_shannon"
        }
    }
    public var id: Int64 = 0
    public var deployment: Int64
    /// The window's name, e.g. its day (`2026-12-01`).
    public var label: String
    public var driftShare: Double
    public var drifted: Bool
    public var columns: [Column]
    /// Production metrics measured on the window once labels arrived, name → value.
    public var metrics: [String: Double]
    public var actor: String?
    public var at: Int64 = 0

    enum CodingKeys: String, CodingKey {
        case id, deployment, label, drifted, columns, metrics, actor, at
        case driftShare = "drift_share"
    }

    public init(deployment: Int64, label: String, driftShare: Double, drifted: Bool, columns: [Column], metrics: [String: Double], actor: String?) {
        (self.deployment, self.label, self.driftShare, self.drifted, self.columns, self.metrics, self.actor) = (deployment, label, driftShare, drifted, columns, metrics, actor)
    }

    public func validate() throws(EnsembleError) {
        guard !label.trimmingCharacters(in: .whitespaces).isEmpty, label.count <= 100 else { throw .invalid("label: name the window in 1 to 100 characters, e.g. its day.") }
        guard !columns.isEmpty, columns.count <= 2000 else { throw .invalid("result.columns: a window compares 1 to 2000 columns.") }
        guard (0...1).contains(driftShare) else { throw .invalid("result.drift_share: \(driftShare) must be between 0 and 1.") }
        for (name, value) in metrics where !value.isFinite || name.isEmpty { throw .invalid("metrics: '\(name)' needs a finite value.") }
    }
}

extension Deployment {
    /// The deployment a report leaves behind in its environment: the matching active deployment (or a
    /// new one) with the report's status, traffic and history entry. Throws when the environment's
    /// active deployments would take more than all of its traffic.
    public static func next(for report: DeploymentReport, active: [Deployment], actor: String?, now: Int64) throws -> Deployment {
        var deployment = active.first { $0.name == report.name && $0.version == report.version }
            ?? Deployment(name: report.name, version: report.version, environment: report.environment, status: report.status, traffic: report.traffic)
        let others = active.filter { !($0.name == report.name && $0.version == report.version) }
        let taken = others.reduce(0) { $0 + $1.traffic }
        if report.status.isActive, taken + report.traffic > 1 + 1e-9 {
            throw EnsembleError.invalid(
                "traffic: \(report.environment) would take \(Int(((taken + report.traffic) * 100).rounded()))% of its traffic; "
                + others.map { "\($0.model) has \(Int(($0.traffic * 100).rounded()))%" }.joined(separator: ", ")
                + ". Lower them first (record them with less traffic, or retired).")
        }
        deployment.status = report.status
        deployment.traffic = report.status.isActive ? report.traffic : 0
        if let project = report.project { deployment.project = project }
        if let reference = report.reference { deployment.reference = reference }
        deployment.history.append(
            DeploymentEvent(status: report.status, traffic: deployment.traffic, by: actor, at: now, commit: report.commit, pipelineRun: report.pipelineRun, note: report.note))
        deployment.updatedAt = now
        return deployment
    }

    /// " at 40%" for an active deployment, "" otherwise (for event summaries).
    public var trafficShare: String { status.isActive ? " at \(Int((traffic * 100).rounded()))%" : "" }
}

extension Project {
    /// Ticks (or adds, ticked) the deployment stage's "live deployment" checklist item.
    public mutating func markLiveDeployment() {
        var items = checklist(for: .deployment)
        if let i = items.firstIndex(where: { $0.text == Project.liveDeploymentItem }) {
            items[i].done = true
        } else {
            items.append(ChecklistItem(text: Project.liveDeploymentItem, done: true))
        }
        checklists[ProjectStage.deployment.rawValue] = items
    }
}

extension ABResult {
    /// A result needs a title a person recognises.
    public func validateTitle() throws {
        guard !title.trimmingCharacters(in: .whitespaces).isEmpty else { throw EnsembleError.invalid("title: name the test, e.g. 'churn v2 vs v1, November'.") }
        try Validation.validateDisplayName(title, field: "title", maxLength: 200)
    }
}
