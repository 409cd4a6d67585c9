/// A model logged by a run (MLflow 3.x "logged model"): its artifacts live under
/// `<experiment artifact location>/models/<model_id>/artifacts`.
public struct LoggedModel: Sendable, Equatable {
    public enum Status: String, Sendable, Equatable, CaseIterable {
        case pending = "LOGGED_MODEL_PENDING"
        case ready = "LOGGED_MODEL_READY"
        case uploadFailed = "LOGGED_MODEL_UPLOAD_FAILED"

        /// Accepts the enum name or MLflow's number (1, 2, 3).
        public init?(wire: String) {
            switch wire.uppercased() {
            case "LOGGED_MODEL_PENDING", "1": self = .pending
            case "LOGGED_MODEL_READY", "2": self = .ready
            case "LOGGED_MODEL_UPLOAD_FAILED", "3": self = .uploadFailed
            default: return nil
            }
        }
    }

    public var modelID: String
    public var experimentID: String
    public var name: String
    public var artifactURI: String
    public var status: Status
    public var statusMessage: String?
    public var modelType: String?
    public var sourceRunID: String?
    public var creationTimestamp: Int64
    public var lastUpdatedTimestamp: Int64
    public var lifecycleStage: LifecycleStage
    public var tags: [KeyValue]
    public var params: [KeyValue]
    /// Points logged with this model's id, in any run.
    public var metrics: [Metric]

    public init(
        modelID: String, experimentID: String, name: String, artifactURI: String, status: Status, statusMessage: String? = nil,
        modelType: String? = nil, sourceRunID: String? = nil, creationTimestamp: Int64, lastUpdatedTimestamp: Int64,
        lifecycleStage: LifecycleStage = .active, tags: [KeyValue] = [], params: [KeyValue] = [], metrics: [Metric] = []
    ) {
        self.modelID = modelID
        self.experimentID = experimentID
        self.name = name
        self.artifactURI = artifactURI
        self.status = status
        self.statusMessage = statusMessage
        self.modelType = modelType
        self.sourceRunID = sourceRunID
        self.creationTimestamp = creationTimestamp
        self.lastUpdatedTimestamp = lastUpdatedTimestamp
        self.lifecycleStage = lifecycleStage
        self.tags = tags
        self.params = params
        self.metrics = metrics
    }

    /// Logged model ids are `m-` followed by 32 lowercase hex digits.
    public static func isValidID(_ id: String) -> Bool {
        let u = Array(id.utf8)
        guard u.count == 34, u[0] == UInt8(ascii: "m"), u[1] == UInt8(ascii: "-") else { return false }
        return u[2...].allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}

/// What a logged model creation carries.
public struct NewLoggedModel: Sendable {
    public var experimentID: String
    public var name: String?
    public var modelType: String?
    public var sourceRunID: String?
    public var params: [KeyValue]
    public var tags: [KeyValue]

    public init(experimentID: String, name: String?, modelType: String?, sourceRunID: String?, params: [KeyValue], tags: [KeyValue]) {
        self.experimentID = experimentID
        self.name = name
        self.modelType = modelType
        self.sourceRunID = sourceRunID
        self.params = params
        self.tags = tags
    }
}

public struct LoggedModelSearch: Sendable {
    public var experimentIDs: [String]
    public var filter: [SearchClause]
    /// `(field, ascending)`; fields are attribute names.
    public var orderBy: [OrderByClause]
    public var maxResults: Int
    public var offset: Int
    /// When not empty, metric filters only consider points logged against one of these datasets
    /// (a name, and a digest when given), as MLflow's `datasets` search field does.
    public var datasets: [DatasetRef] = []

    public struct DatasetRef: Sendable, Equatable {
        public var name: String
        public var digest: String?
        public init(name: String, digest: String?) {
            self.name = name
            self.digest = digest
        }
    }

    public init(experimentIDs: [String], filter: [SearchClause] = [], orderBy: [OrderByClause] = [], maxResults: Int = 50, offset: Int = 0) {
        self.experimentIDs = experimentIDs
        self.filter = filter
        self.orderBy = orderBy
        self.maxResults = maxResults
        self.offset = offset
    }
}

/// Persistence of logged models. Each method is one transaction.
public protocol LoggedModelStore: Sendable {
    func createLoggedModel(_ model: NewLoggedModel) async throws -> LoggedModel
    /// The model; deleted models only when `allowDeleted`.
    func loggedModel(id: String, allowDeleted: Bool) async throws -> LoggedModel
    func finalizeLoggedModel(id: String, status: LoggedModel.Status) async throws -> LoggedModel
    func deleteLoggedModel(id: String) async throws
    func setLoggedModelTags(id: String, tags: [KeyValue]) async throws
    func deleteLoggedModelTag(id: String, key: String) async throws
    func logLoggedModelParams(id: String, params: [KeyValue]) async throws
    func searchLoggedModels(_ search: LoggedModelSearch) async throws -> Page<LoggedModel>
}
