import Foundation

/// The stages an ML project goes through. Work happens in the first five; `done` and `cancelled` end it.
public enum ProjectStage: String, Sendable, Codable, CaseIterable, Comparable {
    case scoping, data, modeling, deployment, monitoring, done, cancelled

    /// The stages where work is done and someone owns it.
    public static let working: [ProjectStage] = [.scoping, .data, .modeling, .deployment, .monitoring]

    var order: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: ProjectStage, b: ProjectStage) -> Bool { a.order < b.order }
}

/// A role on an ML team: what it is good at, what it answers for, the tools it uses, and the lifecycle
/// stages it leads or supports.
public struct Role: Sendable, Codable, Equatable {
    /// A slug, e.g. `ml-engineer`.
    public var id: String
    public var name: String
    public var summary: String
    public var skills: [String]
    public var responsibilities: [String]
    public var tools: [String]
    public var leads: [ProjectStage]
    public var supports: [ProjectStage]
    public var builtIn: Bool

    enum CodingKeys: String, CodingKey {
        case id, name, summary, skills, responsibilities, tools, leads, supports
        case builtIn = "built_in"
    }

    public init(
        id: String, name: String, summary: String, skills: [String], responsibilities: [String], tools: [String], leads: [ProjectStage],
        supports: [ProjectStage], builtIn: Bool = false
    ) {
        self.id = id
        self.name = name
        self.summary = summary
        self.skills = skills
        self.responsibilities = responsibilities
        self.tools = tools
        self.leads = leads
        self.supports = supports
        self.builtIn = builtIn
    }

    /// Whether someone in this role may own `stage`.
    public func fits(_ stage: ProjectStage) -> Bool { leads.contains(stage) || supports.contains(stage) }
}

/// The roles Ensemble knows from the start, written from the seed articles (see `docs/TEAM.md`).
/// Teams can edit them and add their own.
public enum RoleCatalog {
    public static let builtIn: [Role] = [
        Role(
            id: "data-analyst", name: "Data analyst",
            summary: "Turns questions from the business into numbers: explores data, builds reports and dashboards, and checks what models change.",
            skills: ["sql", "statistics", "data-visualization", "python", "domain-knowledge"],
            responsibilities: ["answer business questions with data", "define and track business metrics", "build dashboards", "support A/B test analysis"],
            tools: ["SQL", "spreadsheets", "BI dashboards", "pandas"],
            leads: [], supports: [.scoping, .data, .monitoring], builtIn: true),
        Role(
            id: "data-engineer", name: "Data engineer",
            summary: "Builds and runs the pipelines and storage that bring clean, versioned data to everyone else.",
            skills: ["sql", "etl", "data-modeling", "distributed-processing", "python", "data-versioning"],
            responsibilities: ["ingest and clean data", "own the warehouse and ETL", "version datasets", "make data available and reliable"],
            tools: ["SQL", "Spark", "Airflow", "Kafka", "DVC", "cloud storage"],
            leads: [.data], supports: [.deployment, .monitoring], builtIn: true),
        Role(
            id: "data-scientist", name: "Data scientist",
            summary: "Frames business problems as ML problems, explores data, builds and evaluates models, and explains the results.",
            skills: ["python", "statistics", "machine-learning", "feature-engineering", "experiment-design", "communication"],
            responsibilities: ["frame the ML problem", "explore and prepare data", "train and evaluate models", "report results to stakeholders"],
            tools: ["Python", "Jupyter", "scikit-learn", "pandas", "MLflow"],
            leads: [.modeling], supports: [.scoping, .data, .monitoring], builtIn: true),
        Role(
            id: "research-scientist", name: "Research / applied scientist",
            summary: "Pushes the state of the art: reads and adapts research, designs new model architectures, runs deep experiments.",
            skills: ["deep-learning", "mathematics", "research", "python", "pytorch", "experiment-design"],
            responsibilities: ["survey the literature", "prototype novel models", "run rigorous experiments", "publish or transfer findings"],
            tools: ["PyTorch", "TensorFlow", "GPUs", "papers"],
            leads: [.modeling], supports: [.scoping], builtIn: true),
        Role(
            id: "ml-engineer", name: "ML engineer",
            summary: "Takes models to production: packaging, serving, optimising size and latency, and keeping versions and metadata in order.",
            skills: ["python", "software-engineering", "model-serving", "mlops", "performance-optimization", "testing"],
            responsibilities: ["productionise models", "optimise inference on CPU, GPU and edge", "build training and serving pipelines", "keep model versions and metadata"],
            tools: ["Docker", "Kubernetes", "ONNX", "Triton", "MLflow", "CI/CD"],
            leads: [.deployment], supports: [.modeling, .monitoring], builtIn: true),
        Role(
            id: "mlops-engineer", name: "MLOps / DevOps engineer",
            summary: "Runs the platform: infrastructure, CI/CD, monitoring and alerting for data and models.",
            skills: ["infrastructure", "ci-cd", "monitoring", "cloud", "kubernetes", "security"],
            responsibilities: ["operate compute and storage", "automate builds and deployments", "monitor models and data in production", "keep systems secure"],
            tools: ["Terraform", "Kubernetes", "Prometheus", "Grafana", "GitHub Actions"],
            leads: [.monitoring], supports: [.deployment], builtIn: true),
        Role(
            id: "backend-developer", name: "Backend developer",
            summary: "Integrates model predictions into products and services that users touch.",
            skills: ["software-engineering", "apis", "databases", "testing", "security"],
            responsibilities: ["build the services that call models", "integrate with product systems", "own APIs and their reliability"],
            tools: ["Go", "Java", "Python", "REST/gRPC", "databases"],
            leads: [], supports: [.deployment], builtIn: true),
        Role(
            id: "ml-product-manager", name: "ML product manager",
            summary: "Chooses the use cases worth solving, writes the requirements with metrics up front, and keeps everyone informed.",
            skills: ["product-management", "communication", "domain-knowledge", "prioritization", "metrics-definition"],
            responsibilities: ["pick and prioritise use cases", "write the BRD with technical and business metrics", "coordinate stakeholders", "report progress"],
            tools: ["roadmaps", "issue trackers", "docs", "dashboards"],
            leads: [.scoping], supports: [.deployment, .monitoring], builtIn: true),
        Role(
            id: "business-owner", name: "Business owner / domain expert",
            summary: "Owns the problem and the outcome: brings domain knowledge, judges value, and says whether the result is good enough.",
            skills: ["domain-knowledge", "decision-making", "communication", "metrics-definition"],
            responsibilities: ["state the business problem and objective", "provide domain expertise and labels", "approve go/no-go", "own business metrics"],
            tools: ["reports", "dashboards"],
            leads: [.scoping], supports: [.data, .monitoring], builtIn: true),
        Role(
            id: "ml-manager", name: "DS / ML manager",
            summary: "Builds and leads the team: hiring, staffing, process, and the link between the team and leadership.",
            skills: ["leadership", "communication", "prioritization", "machine-learning", "hiring", "planning"],
            responsibilities: ["staff projects", "set process and standards", "manage timelines and risk", "communicate with leadership", "grow people"],
            tools: ["planning tools", "1:1s", "roadmaps"],
            leads: [.scoping], supports: [.data, .modeling, .deployment, .monitoring], builtIn: true),
    ]

    /// Whether `id` is acceptable for a record: an ASCII slug, or — for a record that already exists
    /// (`existing`) — the earlier slug form that kept lower-case letters of any script ("café"),
    /// so records created before slugs became ASCII can still be updated.
    public static func isValidID(_ id: String, existing: Bool) -> Bool {
        guard !id.isEmpty else { return false }
        if slug(id) == id { return true }
        guard existing else { return false }
        let parts = id.split(separator: "-", omittingEmptySubsequences: false)
        return parts.allSatisfy { part in
            !part.isEmpty && part.unicodeScalars.allSatisfy { ($0.properties.isAlphabetic && !$0.properties.isUppercase) || $0.properties.numericType != nil }
        }
    }

    /// Lower-case ASCII slug of a name, for ids that go into URLs: accents are dropped ("Café" →
    /// "cafe"), other runs of characters become one '-'. A name with no Latin letters or digits has
    /// an empty slug, and then an explicit id is needed.
    public static func slug(_ name: String) -> String {
        var out = "", dash = false
        let folded = name.folding(options: [.diacriticInsensitive, .caseInsensitive, .widthInsensitive], locale: Locale(identifier: "en_US_POSIX"))
        for scalar in folded.lowercased().unicodeScalars {
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) {
                if dash && !out.isEmpty { out.append("-") }
                out.unicodeScalars.append(scalar)
                dash = false
            } else {
                dash = true
            }
        }
        return out
    }
}

extension RoleCatalog {
    /// The catalog from the stored roles: built-in roles (as edited) in their order, then custom ones by id.
    public static func merged(stored: [Role]) -> [Role] {
        var byID = Dictionary(uniqueKeysWithValues: builtIn.map { ($0.id, $0) })
        for role in stored { byID[role.id] = role }
        let builtInOrder = builtIn.map(\.id)
        return builtInOrder.compactMap { byID[$0] } + byID.values.filter { !builtInOrder.contains($0.id) }.sorted { $0.id < $1.id }
    }

    /// A role as it may be saved: a name, a short id, and whether it is built in.
    public static func checked(_ role: Role) throws -> Role {
        var role = role
        guard !role.name.trimmingCharacters(in: .whitespaces).isEmpty else { throw EnsembleError.invalid("name: a role needs a name.") }
        try Validation.validateDisplayName(role.name, field: "name", maxLength: Validation.maxPersonNameLength)
        guard role.id.count <= Validation.maxSlugLength else { throw EnsembleError.invalid("id: at most \(Validation.maxSlugLength) characters.") }
        role.builtIn = builtIn.contains { $0.id == role.id }
        return role
    }

    /// Throws unless `id` may name a role (a new one must be a slug; a stored one keeps its id).
    public static func checkID(_ id: String, existing: Bool) throws {
        guard isValidID(id, existing: existing) else {
            throw EnsembleError.invalid("id: '\(id)' must be a slug of lower-case letters a-z, digits and '-', such as '\(slug(id))'.")
        }
    }
}
