import Foundation

/// What a run creation carries. `experimentID` defaults to the Default experiment ("0").
public struct NewRun: Sendable {
    public var experimentID: String
    public var userID: String
    public var runName: String?
    public var startTime: Int64
    public var tags: [KeyValue]

    public init(experimentID: String, userID: String, runName: String?, startTime: Int64, tags: [KeyValue]) {
        self.experimentID = experimentID
        self.userID = userID
        self.runName = runName
        self.startTime = startTime
        self.tags = tags
    }
}

extension NewRun {
    /// The run's name and tags as stored: the given name or the `mlflow.runName` tag (they must agree),
    /// else a random friendly name; the tag is added when missing.
    public func resolvedNameAndTags() throws -> (name: String, tags: [KeyValue]) {
        var tags = self.tags
        let tagName = tags.last { $0.key == MLflowTags.runName }?.value
        if let given = runName, let tagName, given != tagName {
            throw EnsembleError.invalid(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='\(given)', mlflow.runName='\(tagName)'). Give one name."
            )
        }
        let name = runName ?? tagName ?? RunNames.random()
        if tagName == nil { tags.append(KeyValue(key: MLflowTags.runName, value: name)) }
        return (name, tags)
    }
}

/// A run search: experiments to look in, a parsed filter, ordering and a page.
public struct RunSearch: Sendable {
    public var experimentIDs: [String]
    public var filter: [SearchClause]
    public var orderBy: [OrderByClause]
    public var viewType: ViewType
    public var maxResults: Int
    public var offset: Int

    public init(
        experimentIDs: [String], filter: [SearchClause] = [], orderBy: [OrderByClause] = [],
        viewType: ViewType = .activeOnly, maxResults: Int = 1000, offset: Int = 0
    ) {
        self.experimentIDs = experimentIDs
        self.filter = filter
        self.orderBy = orderBy
        self.viewType = viewType
        self.maxResults = maxResults
        self.offset = offset
    }
}

/// Runs that share one value of a param, tag or attribute, with their count and each chosen metric's
/// latest values summarised (NaN values left out).
public struct RunGroup: Sendable, Equatable {
    public struct Summary: Sendable, Equatable {
        public var count: Int
        public var mean, min, max: Double
        public init(count: Int, mean: Double, min: Double, max: Double) {
            (self.count, self.mean, self.min, self.max) = (count, mean, min, max)
        }
    }
    /// The shared value; nil for runs that do not have the key.
    public var value: String?
    public var runs: Int
    /// Keyed by metric name; a metric no run of the group has is absent.
    public var metrics: [String: Summary]
    public init(value: String?, runs: Int, metrics: [String: Summary]) {
        (self.value, self.runs, self.metrics) = (value, runs, metrics)
    }
}

public struct ExperimentSearch: Sendable {
    public var filter: [SearchClause]
    public var orderBy: [OrderByClause]
    public var viewType: ViewType
    public var maxResults: Int
    public var offset: Int

    public init(
        filter: [SearchClause] = [], orderBy: [OrderByClause] = [], viewType: ViewType = .activeOnly,
        maxResults: Int = 1000, offset: Int = 0
    ) {
        self.filter = filter
        self.orderBy = orderBy
        self.viewType = viewType
        self.maxResults = maxResults
        self.offset = offset
    }
}

/// The fields of a run update; `nil` leaves a field as it is.
public struct RunUpdate: Sendable {
    public var status: RunStatus?
    public var endTime: Int64?
    public var runName: String?
    public init(status: RunStatus? = nil, endTime: Int64? = nil, runName: String? = nil) {
        self.status = status
        self.endTime = endTime
        self.runName = runName
    }
}

/// Persistence of experiments, runs and their data.
///
/// Each method is one transaction: it either happens completely or not at all. Methods throw
/// ``EnsembleError`` for everything a caller did wrong (missing run, overwritten param, deleted
/// experiment); any other error is a fault of the store.
///
/// - Important: Inputs are expected to be validated with ``Validation`` first (key syntax, lengths,
///   batch limits); the store enforces the rules that need stored state.
public protocol TrackingStore: Sendable {
    // Experiments
    func createExperiment(name: String, artifactLocation: String?, tags: [KeyValue]) async throws -> String
    func experiment(id: String) async throws -> Experiment
    /// The experiment with this name, preferring an active one; `nil` when there is none.
    func experiment(named name: String) async throws -> Experiment?
    func searchExperiments(_ search: ExperimentSearch) async throws -> Page<Experiment>
    func renameExperiment(id: String, newName: String) async throws
    /// Marks the experiment and all of its runs deleted.
    func deleteExperiment(id: String) async throws
    func restoreExperiment(id: String) async throws
    func setExperimentTag(id: String, tag: KeyValue) async throws
    func deleteExperimentTag(id: String, key: String) async throws

    // Runs
    func createRun(_ run: NewRun) async throws -> Run
    func run(id: String) async throws -> Run
    /// The experiment a run (or a logged model) belongs to, without loading it; nil when there is no such thing.
    /// Permission checks ask this on every write, so it is one indexed lookup.
    func experimentID(owning id: String) async throws -> String?
    func updateRun(id: String, _ update: RunUpdate) async throws -> RunInfo
    func deleteRun(id: String) async throws
    func restoreRun(id: String) async throws
    /// Logs metrics, params and tags in one transaction. Params are write-once; metric points are
    /// de-duplicated on (key, timestamp, step, value); the latest value per key is kept up to date.
    func logBatch(runID: String, metrics: [Metric], params: [KeyValue], tags: [KeyValue]) async throws
    func deleteTag(runID: String, key: String) async throws
    func logInputs(runID: String, datasets: [DatasetInput], modelIDs: [String]) async throws
    func logOutputs(runID: String, models: [ModelOutput]) async throws
    func searchRuns(_ search: RunSearch) async throws -> Page<Run>
    /// The runs a search matches (its filter and view type; order and paging are ignored), grouped by
    /// the value of `key` (a param, a tag, or the `status`/`user_id`/`run_name` attribute), largest group
    /// first, at most `limit` groups; with mean, min and max of each metric in `metrics`.
    func groupRuns(_ search: RunSearch, by key: SearchKey, metrics: [String], limit: Int) async throws -> [RunGroup]

    // Metric history
    /// Points of one series ordered by step, timestamp and value; `limit == nil` returns them all.
    func metricHistory(runID: String, key: String, limit: Int?, offset: Int) async throws -> Page<Metric>
    /// Down-sampled points of one key for several runs, each tagged with its run id.
    func metricHistoryBulkInterval(runIDs: [String], key: String, startStep: Int64?, endStep: Int64?, maxResults: Int) async throws -> [Metric]
    func datasetSummaries(experimentIDs: [String]) async throws -> [DatasetSummary]
}

/// Everything a server keeps in its database: every store protocol, in one backend. SQLite (the
/// embedded default) and PostgreSQL (several servers on one database) implement it, and the contract
/// suites run unchanged on both.
public protocol MetadataStore: TrackingStore, RegistryStore, LoggedModelStore, DatasetCatalog, StoredDatasetStore, TeamStore, IdentityStore,
    GrantStore, ExpiringValueStore, HandoffStore, DeploymentStore
{
    /// Reads from the database; throws when it cannot (readiness checks).
    func checkReadable() async throws
    /// Called once on graceful shutdown, after the last request.
    func shutdown() async
}

/// The JSON text of the records both backends keep as documents (roles, people, projects, handoffs,
/// deployments…): keys sorted, so equal records are equal text on either backend.
public enum StoredDocument {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    public static func encode<T: Encodable>(_ value: T) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
    public static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try JSONDecoder().decode(type, from: Data(text.utf8)) }
}
