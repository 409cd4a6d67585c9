import Foundation

/// Where a handoff is in its review.
public enum HandoffStatus: String, Sendable, Codable, CaseIterable {
    /// Being written by the sender; not yet in the receiver's inbox.
    case draft
    /// Complete and every claim recomputed within its tolerance; waiting for the receiver.
    case submitted
    /// Taken over by the receiver.
    case accepted
    /// Sent back to the sender with reasons; it can be edited and submitted again.
    case returned
}

/// What the data scientist promises the ML engineer about the model (seed 004's specification).
/// Every field is optional in the record; the project's checklist says which are required.
public struct HandoffContract: Sendable, Codable, Equatable {
    public var framework: String?
    public var frameworkVersion: String?
    public var parameterCount: Int64?
    public var sizeBytes: Int64?
    public var latencyP50Ms: Double?
    public var latencyP95Ms: Double?
    /// The batch size the latencies were measured with.
    public var latencyBatchSize: Int64?
    /// The hardware the latencies and memory were measured on (e.g. `1× A10G, 8 vCPU`).
    public var latencyHardware: String?
    public var peakMemoryBytes: Int64?
    public var inputSignature: String?
    public var outputSignature: String?
    public var preprocessing: String?
    /// Anything else the receiver needs, name → value.
    public var extra: [String: String] = [:]

    public init() {}

    enum CodingKeys: String, CodingKey {
        case framework, preprocessing, extra
        case frameworkVersion = "framework_version"
        case parameterCount = "parameter_count"
        case sizeBytes = "size_bytes"
        case latencyP50Ms = "latency_p50_ms"
        case latencyP95Ms = "latency_p95_ms"
        case latencyBatchSize = "latency_batch_size"
        case latencyHardware = "latency_hardware"
        case peakMemoryBytes = "peak_memory_bytes"
        case inputSignature = "input_signature"
        case outputSignature = "output_signature"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        framework = try c.decodeIfPresent(String.self, forKey: .framework)
        frameworkVersion = try c.decodeIfPresent(String.self, forKey: .frameworkVersion)
        parameterCount = try c.decodeIfPresent(Int64.self, forKey: .parameterCount)
        sizeBytes = try c.decodeIfPresent(Int64.self, forKey: .sizeBytes)
        latencyP50Ms = try c.decodeIfPresent(Double.self, forKey: .latencyP50Ms)
        latencyP95Ms = try c.decodeIfPresent(Double.self, forKey: .latencyP95Ms)
        latencyBatchSize = try c.decodeIfPresent(Int64.self, forKey: .latencyBatchSize)
        latencyHardware = try c.decodeIfPresent(String.self, forKey: .latencyHardware)
        peakMemoryBytes = try c.decodeIfPresent(Int64.self, forKey: .peakMemoryBytes)
        inputSignature = try c.decodeIfPresent(String.self, forKey: .inputSignature)
        outputSignature = try c.decodeIfPresent(String.self, forKey: .outputSignature)
        preprocessing = try c.decodeIfPresent(String.self, forKey: .preprocessing)
        extra = try c.decodeIfPresent([String: String].self, forKey: .extra) ?? [:]
    }

    /// The named fields, in the order a contract table lists them.
    public static let fields: [String] = [
        "framework", "framework_version", "parameter_count", "size_bytes", "latency_p50_ms", "latency_p95_ms", "latency_batch_size",
        "latency_hardware", "peak_memory_bytes", "input_signature", "output_signature", "preprocessing",
    ]

    /// The field's value as text, or nil when it is not given (blank text counts as not given).
    public func value(of field: String) -> String? {
        func text(_ s: String?) -> String? { s.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 } }
        switch field {
        case "framework": return text(framework)
        case "framework_version": return text(frameworkVersion)
        case "parameter_count": return parameterCount.map(String.init)
        case "size_bytes": return sizeBytes.map(String.init)
        case "latency_p50_ms": return latencyP50Ms.map { Self.number($0) }
        case "latency_p95_ms": return latencyP95Ms.map { Self.number($0) }
        case "latency_batch_size": return latencyBatchSize.map(String.init)
        case "latency_hardware": return text(latencyHardware)
        case "peak_memory_bytes": return peakMemoryBytes.map(String.init)
        case "input_signature": return text(inputSignature)
        case "output_signature": return text(outputSignature)
        case "preprocessing": return text(preprocessing)
        default: return text(extra[field])
        }
    }

    /// The numeric value of a numeric field (for comparing with a project's metric such as `latency_p95_ms`).
    public func number(of field: String) -> Double? {
        switch field {
        case "parameter_count": parameterCount.map(Double.init)
        case "size_bytes": sizeBytes.map(Double.init)
        case "latency_p50_ms": latencyP50Ms
        case "latency_p95_ms": latencyP95Ms
        case "latency_batch_size": latencyBatchSize.map(Double.init)
        case "peak_memory_bytes": peakMemoryBytes.map(Double.init)
        default: extra[field].flatMap(Double.init)
        }
    }

    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }

    /// Fills the fields not given from a logged model's or run's params, metrics and tags, each looked
    /// up under its own name and as `contract.NAME` (e.g. a param `parameter_count` or a tag
    /// `contract.framework`). Returns the fields it filled.
    @discardableResult
    public mutating func prefill(from values: [String: String]) -> [String] {
        func find(_ field: String) -> String? {
            (values["contract." + field] ?? values[field]).flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        }
        var filled: [String] = []
        for field in Self.fields where value(of: field) == nil {
            guard let raw = find(field) else { continue }
            let double = Double(raw).flatMap { $0.isFinite ? $0 : nil }
            let integer = double.flatMap { $0 == $0.rounded() && abs($0) < 9e15 ? Int64($0) : nil }
            switch field {
            case "framework": framework = raw
            case "framework_version": frameworkVersion = raw
            case "parameter_count": parameterCount = integer
            case "size_bytes": sizeBytes = integer
            case "latency_p50_ms": latencyP50Ms = double
            case "latency_p95_ms": latencyP95Ms = double
            case "latency_batch_size": latencyBatchSize = integer
            case "latency_hardware": latencyHardware = raw
            case "peak_memory_bytes": peakMemoryBytes = integer
            case "input_signature": inputSignature = raw
            case "output_signature": outputSignature = raw
            case "preprocessing": preprocessing = raw
            default: break
            }
            if value(of: field) != nil { filled.append(field) }
        }
        return filled
    }

    public func validate() throws(EnsembleError) {
        for (field, v) in [("parameter_count", parameterCount), ("size_bytes", sizeBytes), ("latency_batch_size", latencyBatchSize), ("peak_memory_bytes", peakMemoryBytes)] {
            if let v, v < 0 { throw .invalid("contract.\(field): \(v) must not be negative.") }
        }
        if let b = latencyBatchSize, b == 0 { throw .invalid("contract.latency_batch_size: must be at least 1.") }
        for (field, v) in [("latency_p50_ms", latencyP50Ms), ("latency_p95_ms", latencyP95Ms)] {
            if let v, !(v.isFinite && v >= 0) { throw .invalid("contract.\(field): \(v) must be a non-negative number of milliseconds.") }
        }
        if let p50 = latencyP50Ms, let p95 = latencyP95Ms, p95 < p50 {
            throw .invalid("contract.latency_p95_ms: \(Self.number(p95)) is below latency_p50_ms \(Self.number(p50)); the 95th percentile cannot be under the median.")
        }
        for key in extra.keys where key.isEmpty || key.count > 250 { throw .invalid("contract.extra: names must be 1 to 250 characters.") }
    }
}

/// A metric value the sender claims on one evaluation set, and how far a recomputation may differ.
public struct HandoffClaim: Sendable, Codable, Equatable {
    public var metric: String
    public var value: Double
    /// Absolute difference allowed between the claim and Ensemble's recomputation (default
    /// ``defaultTolerance``, enough for a value rounded to three decimals).
    public var tolerance: Double?

    public static let defaultTolerance = 0.0005

    public init(metric: String, value: Double, tolerance: Double? = nil) {
        self.metric = metric
        self.value = value
        self.tolerance = tolerance
    }
    public var allowed: Double { tolerance ?? Self.defaultTolerance }
}

/// A file kept in the content store (uploaded by `ensemble handoff submit`).
public struct HandoffFile: Sendable, Codable, Equatable {
    public var sha256: String
    public var size: Int64
    /// The name it had on the sender's machine; its extension says CSV or JSON Lines.
    public var name: String
    public init(sha256: String, size: Int64, name: String) {
        self.sha256 = sha256
        self.size = size
        self.name = name
    }
}

/// One evaluation set: the data (a stored dataset version), the model's predictions on it with the
/// labels, the columns to read, and the metrics claimed.
public struct HandoffSet: Sendable, Codable, Equatable {
    public var name: String
    /// `datasets:/NAME@VERSION` of the stored data the predictions were made on.
    public var dataset: String?
    /// The predictions with their labels.
    public var predictions: HandoffFile?
    /// `classification`, `regression`, `text`, `speech` or `detection` (as `ensemble eval`).
    public var task: String
    public var labelColumn: String
    public var predictionColumn: String
    public var scoreColumn: String?
    public var posLabel: String?
    /// Averaging for multi-class precision/recall/F1 (`macro`, `micro`, `weighted`).
    public var average: String?
    public var claims: [HandoffClaim]

    enum CodingKeys: String, CodingKey {
        case name, dataset, predictions, task, average, claims
        case labelColumn = "label_column"
        case predictionColumn = "prediction_column"
        case scoreColumn = "score_column"
        case posLabel = "pos_label"
    }

    public init(name: String, task: String = "classification", labelColumn: String = "label", predictionColumn: String = "prediction", claims: [HandoffClaim] = []) {
        self.name = name
        self.task = task
        self.labelColumn = labelColumn
        self.predictionColumn = predictionColumn
        self.claims = claims
    }

    /// Claims are a list of `{"metric", "value", "tolerance"}` or a map `{"f1": 0.91, "roc_auc": {"value": 0.93, "tolerance": 0.01}}`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        dataset = try c.decodeIfPresent(String.self, forKey: .dataset)
        predictions = try c.decodeIfPresent(HandoffFile.self, forKey: .predictions)
        task = try c.decodeIfPresent(String.self, forKey: .task) ?? "classification"
        labelColumn = try c.decodeIfPresent(String.self, forKey: .labelColumn) ?? "label"
        predictionColumn = try c.decodeIfPresent(String.self, forKey: .predictionColumn) ?? "prediction"
        scoreColumn = try c.decodeIfPresent(String.self, forKey: .scoreColumn)
        posLabel = try c.decodeIfPresent(String.self, forKey: .posLabel)
        average = try c.decodeIfPresent(String.self, forKey: .average)
        if let list = try? c.decodeIfPresent([HandoffClaim].self, forKey: .claims) {
            claims = list
        } else if let map = try c.decodeIfPresent([String: ClaimValue].self, forKey: .claims) {
            claims = map.sorted { $0.key < $1.key }.map { HandoffClaim(metric: $0.key, value: $0.value.value, tolerance: $0.value.tolerance) }
        } else {
            claims = []
        }
    }

    struct ClaimValue: Decodable {
        var value: Double
        var tolerance: Double?
        enum CodingKeys: String, CodingKey { case value, tolerance }
        init(from decoder: any Decoder) throws {
            if let v = try? decoder.singleValueContainer().decode(Double.self) {
                value = v
                return
            }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            value = try c.decode(Double.self, forKey: .value)
            tolerance = try c.decodeIfPresent(Double.self, forKey: .tolerance)
        }
    }
}

/// One claim set against Ensemble's recomputation.
public struct ClaimCheck: Sendable, Codable, Equatable {
    public enum Outcome: String, Sendable, Codable {
        /// Within its tolerance.
        case ok
        /// Beyond its tolerance.
        case mismatch
        /// The file could not be evaluated (a missing column, an unknown task, a file never uploaded).
        case error
        /// Ensemble cannot compute this metric: the claim rests on the sender's word (shown, not blocking).
        case unverified

        /// Whether the outcome keeps the handoff from the receiver.
        public var blocks: Bool { self == .mismatch || self == .error }
    }

    public var set: String
    public var metric: String
    public var claimed: Double
    /// nil when the metric could not be recomputed (see `note`).
    public var recomputed: Double?
    public var difference: Double?
    public var tolerance: Double
    public var outcome: Outcome
    public var note: String?
    public init(set: String, metric: String, claimed: Double, recomputed: Double?, tolerance: Double, outcome: Outcome, note: String? = nil) {
        self.set = set
        self.metric = metric
        self.claimed = claimed
        self.recomputed = recomputed
        self.difference = recomputed.map { claimed - $0 }
        self.tolerance = tolerance
        self.outcome = outcome
        self.note = note
    }
}

/// A handoff metric against the project's baseline and target.
public struct TargetCheck: Sendable, Codable, Equatable {
    public var metric: String
    public var set: String?
    public var value: Double?
    public var baseline: Double?
    public var target: Double?
    public var higherIsBetter: Bool
    /// nil when the value or the target is unknown.
    public var meetsTarget: Bool?
    public var beatsBaseline: Bool?
    /// Where the value comes from: `recomputed`, `claimed` (a metric Ensemble cannot compute) or `contract`.
    public var source: String?

    enum CodingKeys: String, CodingKey {
        case metric, set, value, baseline, target, source
        case higherIsBetter = "higher_is_better"
        case meetsTarget = "meets_target"
        case beatsBaseline = "beats_baseline"
    }
}

/// What the last submission found.
public struct HandoffChecks: Sendable, Codable, Equatable {
    public var at: Int64
    /// Checklist items not met (each a sentence naming the field, set or metric).
    public var missing: [String]
    public var claims: [ClaimCheck]
    public var targets: [TargetCheck]

    public init(at: Int64, missing: [String], claims: [ClaimCheck], targets: [TargetCheck]) {
        self.at = at
        self.missing = missing
        self.claims = claims
        self.targets = targets
    }

    /// Claims that differ from the recomputation beyond their tolerance, or could not be evaluated.
    public var mismatches: [ClaimCheck] { claims.filter { $0.outcome.blocks } }
    /// Whether the handoff may go to the receiver (and be accepted).
    public var passed: Bool { missing.isEmpty && mismatches.isEmpty }

    /// Every blocking problem, each a sentence.
    public var problems: [String] {
        missing + mismatches.map { c in
            if let r = c.recomputed {
                return "Claim \(c.metric) on '\(c.set)': claimed \(ClaimCheck.format(c.claimed)), recomputed \(ClaimCheck.format(r)); off by \(ClaimCheck.format(abs(c.claimed - r))), more than its tolerance \(ClaimCheck.format(c.tolerance))."
            }
            return "Claim \(c.metric) on '\(c.set)': \(c.note ?? "could not be recomputed")."
        }
    }
}

extension ClaimCheck {
    /// Up to 6 significant digits, without exponent noise for ordinary metric values.
    public static func format(_ v: Double) -> String {
        guard v.isFinite else { return String(v) }
        if v == 0 { return "0" }
        var s = String(format: "%.6g", v)
        if s.contains("e") { return s }
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }
}

/// One line of a handoff's history.
public struct HandoffEvent: Sendable, Codable, Equatable {
    /// `created`, `edited`, `submitted`, `refused`, `accepted`, `returned`, `commented`.
    public var kind: String
    public var by: String?
    public var at: Int64
    public var text: String
    public init(kind: String, by: String?, at: Int64, text: String = "") {
        self.kind = kind
        self.by = by
        self.at = at
        self.text = text
    }
}

/// A model handed from the person who built it to the person who will run it.
public struct Handoff: Sendable, Codable, Equatable {
    public var id: Int64 = 0
    public var title: String
    public var project: String?
    /// `models:/NAME/VERSION` or `models:/m-…` (a logged model).
    public var model: String
    public var sender: String
    public var receiver: String
    public var status: HandoffStatus = .draft
    public var contract = HandoffContract()
    public var sets: [HandoffSet] = []
    public var checks: HandoffChecks?
    public var events: [HandoffEvent] = []
    /// Contract fields filled from the model's params, metrics and tags.
    public var prefilled: [String] = []
    /// Bumped on every change, so a slow recomputation cannot overwrite a newer edit.
    public var revision: Int64 = 0
    public var createdAt: Int64 = 0
    public var updatedAt: Int64 = 0

    enum CodingKeys: String, CodingKey {
        case id, title, project, model, sender, receiver, status, contract, sets, checks, events, prefilled, revision
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(title: String, model: String, sender: String, receiver: String) {
        self.title = title
        self.model = model
        self.sender = sender
        self.receiver = receiver
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(Int64.self, forKey: .id) ?? 0
        model = try c.decodeIfPresent(String.self, forKey: .model) ?? ""
        title = try c.decodeIfPresent(String.self, forKey: .title) ?? ""
        project = try c.decodeIfPresent(String.self, forKey: .project)
        sender = try c.decodeIfPresent(String.self, forKey: .sender) ?? ""
        receiver = try c.decodeIfPresent(String.self, forKey: .receiver) ?? ""
        status = try c.decodeIfPresent(HandoffStatus.self, forKey: .status) ?? .draft
        contract = try c.decodeIfPresent(HandoffContract.self, forKey: .contract) ?? HandoffContract()
        sets = try c.decodeIfPresent([HandoffSet].self, forKey: .sets) ?? []
        checks = try c.decodeIfPresent(HandoffChecks.self, forKey: .checks)
        events = try c.decodeIfPresent([HandoffEvent].self, forKey: .events) ?? []
        prefilled = try c.decodeIfPresent([String].self, forKey: .prefilled) ?? []
        revision = try c.decodeIfPresent(Int64.self, forKey: .revision) ?? 0
        createdAt = try c.decodeIfPresent(Int64.self, forKey: .createdAt) ?? 0
        updatedAt = try c.decodeIfPresent(Int64.self, forKey: .updatedAt) ?? 0
    }

    /// The model reference, parsed.
    public enum ModelRef: Sendable, Equatable {
        case version(name: String, version: Int64)
        case logged(id: String)
    }

    public static func parseModel(_ uri: String) throws(EnsembleError) -> ModelRef {
        let example = "use models:/NAME/VERSION (a registered version, e.g. models:/churn/3) or models:/m-… (a logged model)"
        guard uri.hasPrefix("models:/") else { throw .invalid("model: '\(uri.prefix(200))' is not a model URI; \(example).") }
        let rest = String(uri.dropFirst("models:/".count))
        if let slash = rest.lastIndex(of: "/") {
            let name = String(rest[..<slash]), v = String(rest[rest.index(after: slash)...])
            guard !name.isEmpty, let version = Int64(v), version > 0 else { throw .invalid("model: '\(uri.prefix(200))' needs a positive version number; \(example).") }
            return .version(name: name, version: version)
        }
        guard LoggedModel.isValidID(rest) else { throw .invalid("model: '\(uri.prefix(200))' names no version and is not a logged model id; \(example).") }
        return .logged(id: rest)
    }

    /// Checks the fields a sender writes (the server checks references to other records).
    public func validate() throws(EnsembleError) {
        let trimmedTitle = title.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmedTitle.isEmpty else { throw .invalid("title: give the handoff a title, e.g. 'churn v3 for serving'.") }
        try Validation.validateDisplayName(title, field: "title", maxLength: 200)
        _ = try Self.parseModel(model)
        guard !receiver.isEmpty else { throw .invalid("receiver: name the user who takes the model over.") }
        guard !sender.isEmpty else { throw .invalid("sender: name the user who hands the model over.") }
        guard sender != receiver else { throw .invalid("receiver: '\(receiver)' is also the sender; a handoff goes to someone else.") }
        try contract.validate()
        guard sets.count <= 50 else { throw .invalid("sets: at most 50 evaluation sets; got \(sets.count).") }
        var names = Set<String>()
        for s in sets {
            guard !s.name.isEmpty, s.name.count <= 100 else { throw .invalid("sets: each set needs a name of 1 to 100 characters.") }
            guard names.insert(s.name).inserted else { throw .invalid("sets: the name '\(s.name)' is used twice.") }
            if let d = s.dataset { _ = try Self.parseDataset(d, set: s.name) }
            guard s.claims.count <= 100 else { throw .invalid("sets.\(s.name).claims: at most 100 claims.") }
            var metrics = Set<String>()
            for c in s.claims {
                guard !c.metric.isEmpty else { throw .invalid("sets.\(s.name).claims: a claim needs a metric name.") }
                guard metrics.insert(c.metric).inserted else { throw .invalid("sets.\(s.name).claims: '\(c.metric)' is claimed twice.") }
                guard c.value.isFinite else { throw .invalid("sets.\(s.name).claims.\(c.metric): the value must be a finite number.") }
                if let t = c.tolerance, !(t.isFinite && t >= 0) { throw .invalid("sets.\(s.name).claims.\(c.metric): tolerance \(t) must be a non-negative number.") }
            }
            if let f = s.predictions {
                guard DatasetManifest.isSHA256(f.sha256) else { throw .invalid("sets.\(s.name).predictions.sha256: expected 64 lower-case hex digits.") }
            }
        }
    }

    /// `datasets:/NAME@VERSION` → name and version.
    public static func parseDataset(_ uri: String, set: String) throws(EnsembleError) -> (name: String, version: Int64) {
        guard uri.hasPrefix("datasets:/"), let at = uri.lastIndex(of: "@") else {
            throw .invalid("sets.\(set).dataset: '\(uri.prefix(200))' must be datasets:/NAME@VERSION, e.g. datasets:/churn-test@2.")
        }
        let name = String(uri[uri.index(uri.startIndex, offsetBy: "datasets:/".count)..<at])
        guard !name.isEmpty, let v = Int64(uri[uri.index(after: at)...]), v > 0 else {
            throw .invalid("sets.\(set).dataset: '\(uri.prefix(200))' must be datasets:/NAME@VERSION with a positive version.")
        }
        return (name, v)
    }

}

/// What a project requires of every handoff before it reaches the receiver.
public struct HandoffChecklist: Sendable, Codable, Equatable {
    /// Contract fields that must be given (names from ``HandoffContract/fields`` or `extra`).
    public var requiredFields: [String]
    /// Evaluation sets that must be present, by name.
    public var requiredSets: [String]

    enum CodingKeys: String, CodingKey {
        case requiredFields = "required_fields"
        case requiredSets = "required_sets"
    }

    /// Seed 004's specification: framework and version, size, latency with its conditions, memory,
    /// and predictions on the validation and test sets.
    public static let standard = HandoffChecklist(
        requiredFields: ["framework", "framework_version", "parameter_count", "latency_p50_ms", "latency_p95_ms", "latency_batch_size", "latency_hardware", "peak_memory_bytes"],
        requiredSets: ["validation", "test"])

    public init(requiredFields: [String], requiredSets: [String]) {
        self.requiredFields = requiredFields
        self.requiredSets = requiredSets
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        requiredFields = try c.decodeIfPresent([String].self, forKey: .requiredFields) ?? Self.standard.requiredFields
        requiredSets = try c.decodeIfPresent([String].self, forKey: .requiredSets) ?? Self.standard.requiredSets
    }

    /// Every unmet item of the checklist, as sentences. The project's technical metrics must be
    /// claimed on every required set when `computable` says Ensemble can recompute them, or be given
    /// as a contract field of the same name (e.g. `latency_p95_ms`).
    public func missing(in handoff: Handoff, projectMetrics: [ProjectMetric], computable: (String) -> Bool) -> [String] {
        var out: [String] = []
        for field in requiredFields where handoff.contract.value(of: field) == nil {
            out.append("Contract field '\(field)' is required by the checklist and not given.")
        }
        let present = Set(handoff.sets.map(\.name))
        for name in requiredSets where !present.contains(name) {
            out.append("Evaluation set '\(name)' is required by the checklist and missing.")
        }
        for s in handoff.sets {
            if s.predictions == nil { out.append("Set '\(s.name)' has no predictions file.") }
            if s.claims.isEmpty { out.append("Set '\(s.name)' claims no metric.") }
        }
        let setsToClaim = handoff.sets.filter { requiredSets.contains($0.name) }
        for m in projectMetrics {
            if HandoffContract.fields.contains(m.name) || handoff.contract.extra[m.name] != nil {
                if handoff.contract.number(of: m.name) == nil { out.append("Project metric '\(m.name)' must be given in the contract.") }
                continue
            }
            guard computable(m.name) else { continue }
            for s in setsToClaim where !s.claims.contains(where: { $0.metric == m.name }) {
                out.append("Project metric '\(m.name)' is not claimed on set '\(s.name)'.")
            }
        }
        return out
    }
}

extension HandoffChecks {
    /// The project's technical metrics against the recomputed (or, failing that, claimed) values,
    /// one row per metric and set, or per metric for contract fields.
    public static func targets(project: [ProjectMetric], handoff: Handoff, claims: [ClaimCheck]) -> [TargetCheck] {
        var out: [TargetCheck] = []
        func row(_ m: ProjectMetric, set: String?, value: Double?, source: String?) -> TargetCheck {
            func better(_ a: Double, _ b: Double) -> Bool { m.higherIsBetter ? a >= b : a <= b }
            return TargetCheck(
                metric: m.name, set: set, value: value, baseline: m.baseline, target: m.target, higherIsBetter: m.higherIsBetter,
                meetsTarget: value.flatMap { v in m.target.map { better(v, $0) } },
                beatsBaseline: value.flatMap { v in m.baseline.map { m.higherIsBetter ? v > $0 : v < $0 } }, source: source)
        }
        for m in project {
            if let v = handoff.contract.number(of: m.name) {
                out.append(row(m, set: nil, value: v, source: "contract"))
                continue
            }
            let found = claims.filter { $0.metric == m.name }
            if found.isEmpty { out.append(row(m, set: nil, value: nil, source: nil)) }
            for c in found { out.append(row(m, set: c.set, value: c.recomputed ?? c.claimed, source: c.recomputed == nil ? "claimed" : "recomputed")) }
        }
        return out
    }
}

/// Which handoffs to list.
public struct HandoffQuery: Sendable {
    public var receiver: String?
    public var sender: String?
    public var project: String?
    public var status: HandoffStatus?
    /// `models:/NAME/VERSION` (or a logged model URI).
    public var model: String?
    public var limit: Int = 100
    public init(receiver: String? = nil, sender: String? = nil, project: String? = nil, status: HandoffStatus? = nil, model: String? = nil, limit: Int = 100) {
        self.receiver = receiver
        self.sender = sender
        self.project = project
        self.status = status
        self.model = model
        self.limit = limit
    }
}

/// A release gate's result, kept on the model version it judged.
public struct GateRecord: Sendable, Codable, Equatable {
    public var id: Int64 = 0
    public var name: String
    public var version: Int64
    /// `pass` or `fail`.
    public var decision: String
    /// The commit the candidate was built from, when CI says.
    public var commit: String?
    public var actor: String?
    public var at: Int64 = 0
    /// The gate's JSON result (`{"decision", "sets": [...]}`), as the CLI printed it.
    public var result: String
    /// The Markdown report.
    public var report: String
    /// The alias moved to this version because it passed, if one was asked for.
    public var promoted: String?

    public init(name: String, version: Int64, decision: String, commit: String?, actor: String?, result: String, report: String, promoted: String? = nil) {
        self.name = name
        self.version = version
        self.decision = decision
        self.commit = commit
        self.actor = actor
        self.result = result
        self.report = report
        self.promoted = promoted
    }
}

/// Persistence of handoffs and gate results.
public protocol HandoffStore: Sendable {
    /// Stores a new handoff (its id, revision and times assigned) and returns it.
    func createHandoff(_ handoff: Handoff) async throws -> Handoff
    func handoff(id: Int64) async throws -> Handoff
    /// Newest first.
    func handoffs(_ query: HandoffQuery) async throws -> [Handoff]
    /// Reads the handoff, lets `change` edit it (or throw to leave it as it was), and writes it back
    /// with its revision bumped, in one transaction.
    func updateHandoff(id: Int64, _ change: @Sendable (inout Handoff) throws -> Void) async throws -> Handoff
    /// Stores a gate result on its model version (which must exist) and, when `promote` is set,
    /// moves that alias to the version in the same transaction; both appear in the model's history.
    func recordGate(_ record: GateRecord, promote: String?) async throws -> GateRecord
    /// Newest first; every version of the model when `version` is nil.
    func gateRecords(name: String, version: Int64?) async throws -> [GateRecord]
}

/// The JSON `ensemble gate --json` prints, as the server keeps and shows it.
public struct GateSummary: Sendable, Codable, Equatable {
    public struct Metric: Sendable, Codable, Equatable {
        public var name: String
        public var baseline: Double
        public var candidate: Double
        public var difference: Double
        public var ciLow: Double
        public var ciHigh: Double
        public var rule: String
        public var margin: Double?
        public var floor: Double?
        public var passed: Bool
        enum CodingKeys: String, CodingKey {
            case name, baseline, candidate, difference, rule, margin, floor, passed
            case ciLow = "ci_low"
            case ciHigh = "ci_high"
        }
    }
    public struct Set: Sendable, Codable, Equatable {
        public var name: String
        public var n: Int64
        public var metrics: [Metric]
    }
    public var decision: String
    public var resamples: Int64?
    public var confidence: Double?
    public var seed: Int64?
    public var sets: [Set]

    public func validate() throws(EnsembleError) {
        guard decision == "pass" || decision == "fail" else { throw .invalid("result.decision: '\(decision)' must be pass or fail.") }
        guard !sets.isEmpty else { throw .invalid("result.sets: a gate result judges at least one set.") }
        let allPassed = sets.allSatisfy { $0.metrics.allSatisfy(\.passed) }
        guard allPassed == (decision == "pass") else {
            throw .invalid("result.decision: '\(decision)' disagrees with the metrics' verdicts (\(allPassed ? "all passed" : "some failed")).")
        }
    }
}

extension GateRecord {
    /// A gate result is a pass or a fail; only a pass may move an alias, and the alias must be valid.
    public func validate(promote: String?) throws {
        guard decision == "pass" || decision == "fail" else { throw EnsembleError.invalid("decision: '\(decision)' must be pass or fail.") }
        if promote != nil, decision != "pass" {
            throw EnsembleError.invalid("promote: the gate failed, so the alias stays where it is.")
        }
        if let promote { try Validation.validateAlias(promote) }
    }
}
