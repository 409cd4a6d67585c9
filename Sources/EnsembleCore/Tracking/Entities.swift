/// Where an entity is in its life: MLflow's soft-delete flag.
public enum LifecycleStage: String, Sendable, Codable, Equatable {
    case active
    case deleted
}

/// Which entities a search sees, by lifecycle stage.
public enum ViewType: String, Sendable, Equatable, CaseIterable {
    case activeOnly = "ACTIVE_ONLY"
    case deletedOnly = "DELETED_ONLY"
    case all = "ALL"

    /// MLflow sends the enum name or its number (1, 2, 3).
    public init?(wire: String) {
        switch wire.uppercased() {
        case "ACTIVE_ONLY", "1": self = .activeOnly
        case "DELETED_ONLY", "2": self = .deletedOnly
        case "ALL", "3": self = .all
        default: return nil
        }
    }

    public var stages: [LifecycleStage] {
        switch self {
        case .activeOnly: [.active]
        case .deletedOnly: [.deleted]
        case .all: [.active, .deleted]
        }
    }
}

/// A run's status, as MLflow's `RunStatus` enum.
public enum RunStatus: String, Sendable, Codable, Equatable, CaseIterable {
    case running = "RUNNING"
    case scheduled = "SCHEDULED"
    case finished = "FINISHED"
    case failed = "FAILED"
    case killed = "KILLED"

    /// Accepts the enum name or MLflow's number (1...5).
    public init?(wire: String) {
        switch wire.uppercased() {
        case "RUNNING", "1": self = .running
        case "SCHEDULED", "2": self = .scheduled
        case "FINISHED", "3": self = .finished
        case "FAILED", "4": self = .failed
        case "KILLED", "5": self = .killed
        default: return nil
        }
    }
}

/// A key/value pair: params, run tags, experiment tags and input tags all have this shape.
public struct KeyValue: Sendable, Equatable, Hashable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

public struct Experiment: Sendable, Equatable {
    public var id: String
    public var name: String
    public var artifactLocation: String
    public var lifecycleStage: LifecycleStage
    public var creationTime: Int64
    public var lastUpdateTime: Int64
    public var tags: [KeyValue]

    public init(
        id: String, name: String, artifactLocation: String, lifecycleStage: LifecycleStage,
        creationTime: Int64, lastUpdateTime: Int64, tags: [KeyValue] = []
    ) {
        self.id = id
        self.name = name
        self.artifactLocation = artifactLocation
        self.lifecycleStage = lifecycleStage
        self.creationTime = creationTime
        self.lastUpdateTime = lastUpdateTime
        self.tags = tags
    }
}

/// One point of a metric series.
public struct Metric: Sendable, Equatable {
    public var key: String
    /// The value; NaN and ±infinity are legal.
    public var value: Double
    /// Epoch milliseconds.
    public var timestamp: Int64
    public var step: Int64
    public var modelID: String?
    public var datasetName: String?
    public var datasetDigest: String?
    /// Filled in answers that mix runs (bulk history).
    public var runID: String?

    public init(
        key: String, value: Double, timestamp: Int64, step: Int64 = 0, modelID: String? = nil,
        datasetName: String? = nil, datasetDigest: String? = nil, runID: String? = nil
    ) {
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.step = step
        self.modelID = modelID
        self.datasetName = datasetName
        self.datasetDigest = datasetDigest
        self.runID = runID
    }

    public static func == (a: Metric, b: Metric) -> Bool {
        a.key == b.key && a.timestamp == b.timestamp && a.step == b.step
            && (a.value == b.value || (a.value.isNaN && b.value.isNaN))
            && a.modelID == b.modelID && a.datasetName == b.datasetName
            && a.datasetDigest == b.datasetDigest && a.runID == b.runID
    }
}

public struct RunInfo: Sendable, Equatable {
    public var runID: String
    public var runName: String
    public var experimentID: String
    public var userID: String
    public var status: RunStatus
    public var startTime: Int64
    public var endTime: Int64?
    public var artifactURI: String
    public var lifecycleStage: LifecycleStage

    public init(
        runID: String, runName: String, experimentID: String, userID: String, status: RunStatus,
        startTime: Int64, endTime: Int64?, artifactURI: String, lifecycleStage: LifecycleStage
    ) {
        self.runID = runID
        self.runName = runName
        self.experimentID = experimentID
        self.userID = userID
        self.status = status
        self.startTime = startTime
        self.endTime = endTime
        self.artifactURI = artifactURI
        self.lifecycleStage = lifecycleStage
    }
}

/// A dataset as the MLflow client describes it when it logs an input.
public struct Dataset: Sendable, Equatable, Hashable {
    public var name: String
    public var digest: String
    public var sourceType: String
    public var source: String
    public var schema: String?
    public var profile: String?

    public init(name: String, digest: String, sourceType: String, source: String, schema: String? = nil, profile: String? = nil) {
        self.name = name
        self.digest = digest
        self.sourceType = sourceType
        self.source = source
        self.schema = schema
        self.profile = profile
    }
}

/// A dataset used by a run, with the input's tags (for example `mlflow.data.context`).
public struct DatasetInput: Sendable, Equatable {
    public var dataset: Dataset
    public var tags: [KeyValue]
    public init(dataset: Dataset, tags: [KeyValue] = []) {
        self.dataset = dataset
        self.tags = tags
    }

    /// The input's context (`training`, `evaluation`, ...), if the client recorded one.
    public var context: String? { tags.first { $0.key == "mlflow.data.context" }?.value }
}

public struct ModelOutput: Sendable, Equatable {
    public var modelID: String
    public var step: Int64
    public init(modelID: String, step: Int64) {
        self.modelID = modelID
        self.step = step
    }
}

public struct Run: Sendable, Equatable {
    public var info: RunInfo
    /// Latest value per key.
    public var metrics: [Metric]
    public var params: [KeyValue]
    public var tags: [KeyValue]
    public var datasetInputs: [DatasetInput]
    public var modelInputs: [String]
    public var modelOutputs: [ModelOutput]

    public init(
        info: RunInfo, metrics: [Metric] = [], params: [KeyValue] = [], tags: [KeyValue] = [],
        datasetInputs: [DatasetInput] = [], modelInputs: [String] = [], modelOutputs: [ModelOutput] = []
    ) {
        self.info = info
        self.metrics = metrics
        self.params = params
        self.tags = tags
        self.datasetInputs = datasetInputs
        self.modelInputs = modelInputs
        self.modelOutputs = modelOutputs
    }
}

/// A dataset seen in an experiment, for the UI's dataset filter.
public struct DatasetSummary: Sendable, Equatable {
    public var experimentID: String
    public var name: String
    public var digest: String
    public var context: String?
    public init(experimentID: String, name: String, digest: String, context: String?) {
        self.experimentID = experimentID
        self.name = name
        self.digest = digest
        self.context = context
    }
}

/// One page of results and the token for the next page, if there is one.
public struct Page<Element: Sendable>: Sendable {
    public var items: [Element]
    public var nextPageToken: String?
    public init(items: [Element], nextPageToken: String?) {
        self.items = items
        self.nextPageToken = nextPageToken
    }
}

/// Well-known tag keys the MLflow client and server agree on.
public enum MLflowTags {
    public static let runName = "mlflow.runName"
    public static let parentRunID = "mlflow.parentRunId"
    public static let user = "mlflow.user"
    public static let datasetContext = "mlflow.data.context"
}

/// A dataset version as runs used it: one (name, digest) logged in an experiment, with the runs that
/// consumed it and in which context.
public struct DatasetVersionUsage: Sendable, Equatable {
    public struct Use: Sendable, Equatable {
        public var runID: String
        public var runName: String
        public var context: String?
        public init(runID: String, runName: String, context: String?) {
            self.runID = runID
            self.runName = runName
            self.context = context
        }
    }

    public var experimentID: String
    public var dataset: Dataset
    public var usedBy: [Use]

    public init(experimentID: String, dataset: Dataset, usedBy: [Use]) {
        self.experimentID = experimentID
        self.dataset = dataset
        self.usedBy = usedBy
    }
}

/// Reads over the datasets that runs logged as inputs.
public protocol DatasetCatalog: Sendable {
    /// Every dataset name with how many versions (digests) of it were logged.
    func datasetNames() async throws -> [(name: String, versions: Int)]
    /// The versions of one dataset, newest first, each with the runs that used it.
    func datasetVersions(name: String) async throws -> [DatasetVersionUsage]
}

/// Friendly random run names (`brave-otter-417`), as MLflow gives runs without a name.
public enum RunNames {
    static let adjectives = [
        "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "daring", "eager", "fancy", "gentle", "glad",
        "keen", "lively", "lucky", "merry", "nimble", "polite", "proud", "quick", "quiet", "rare", "sharp", "shy",
        "silver", "smooth", "steady", "sunny", "swift", "tidy", "vivid", "wise",
    ]
    static let nouns = [
        "badger", "bear", "crane", "deer", "dove", "eagle", "falcon", "finch", "fox", "gecko", "hare", "heron",
        "ibis", "koala", "lark", "lynx", "mole", "newt", "orca", "otter", "owl", "panda", "quail", "raven",
        "robin", "seal", "shrew", "swan", "tiger", "toad", "wolf", "wren",
    ]
    public static func random() -> String {
        "\(adjectives.randomElement()!)-\(nouns.randomElement()!)-\(Int.random(in: 100...999))"
    }
}
