import Foundation

/// The graph around a model, run or dataset: model version → logged model → source run → code
/// version and dataset versions → other runs and models that used the same data.
public struct LineageGraph: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case modelVersion = "model_version"
        case loggedModel = "logged_model"
        case run
        case code
        case dataset
    }

    public struct Node: Sendable, Equatable {
        /// Stable id, e.g. `run:0f21…`, `model_version:churn/3`, `dataset:train@abc123`.
        public var id: String
        public var kind: Kind
        public var label: String
        public var attributes: [KeyValue]
    }

    public struct Edge: Sendable, Equatable, Hashable {
        public var from: String
        public var to: String
        /// `registered_from`, `produced_by`, `code_version`, `trained_on`/`evaluated_on`/`used`, `logged`.
        public var relation: String
    }

    public private(set) var nodes: [Node] = []
    public private(set) var edges: [Edge] = []
    private var nodeIDs: Set<String> = []
    private var edgeSet: Set<Edge> = []

    public init() {}

    public mutating func add(_ id: String, _ kind: Kind, _ label: String, _ attributes: [KeyValue] = []) {
        guard nodeIDs.insert(id).inserted else { return }
        nodes.append(Node(id: id, kind: kind, label: label, attributes: attributes))
    }

    public mutating func link(_ from: String, _ to: String, _ relation: String) {
        let edge = Edge(from: from, to: to, relation: relation)
        if edgeSet.insert(edge).inserted { edges.append(edge) }
    }

    public func contains(_ id: String) -> Bool { nodeIDs.contains(id) }

    /// Graphviz DOT text; every label is escaped, so names cannot break out of their quotes.
    public func dot() -> String {
        func quote(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n") + "\""
        }
        let shapes: [Kind: String] = [.modelVersion: "box3d", .loggedModel: "component", .run: "ellipse", .code: "note", .dataset: "cylinder"]
        var out = "digraph lineage {\n  rankdir=LR;\n"
        for n in nodes {
            out += "  \(quote(n.id)) [label=\(quote("\(n.kind.rawValue.replacingOccurrences(of: "_", with: " ")): \(n.label)")), shape=\(shapes[n.kind] ?? "box")];\n"
        }
        for e in edges {
            out += "  \(quote(e.from)) -> \(quote(e.to)) [label=\(quote(e.relation))];\n"
        }
        return out + "}\n"
    }
}

/// Where a lineage query starts.
public enum LineageRoot: Sendable, Equatable {
    case modelVersion(name: String, version: Int64)
    /// The version an alias points to, e.g. `churn@champion`.
    case modelAlias(name: String, alias: String)
    case loggedModel(id: String)
    case run(id: String)
    case dataset(name: String, digest: String)
    /// A version added with `ensemble dataset add`; its runs are those that logged it as an input.
    case storedDataset(name: String, version: Int64)
}

/// Builds lineage graphs from the stores. Read-only; at most two hops beyond the root's data
/// (the runs and models that share a dataset) so a popular dataset cannot make the graph explode.
public struct LineageBuilder: Sendable {
    let tracking: any TrackingStore
    let models: any LoggedModelStore
    let registry: any RegistryStore
    let datasets: any DatasetCatalog
    /// Stored (content-addressed) dataset versions, when the server keeps them.
    public var stored: (any StoredDatasetStore)?
    /// At most this many other runs per dataset.
    public var maxRunsPerDataset = 50

    public init(tracking: any TrackingStore, models: any LoggedModelStore, registry: any RegistryStore, datasets: any DatasetCatalog) {
        self.tracking = tracking
        self.models = models
        self.registry = registry
        self.datasets = datasets
    }

    public func graph(from root: LineageRoot) async throws -> LineageGraph {
        var g = LineageGraph()
        switch root {
        case .modelVersion, .modelAlias:
            let v: ModelVersion
            if case .modelAlias(let name, let alias) = root {
                v = try await registry.versionByAlias(name: name, alias: alias)
            } else if case .modelVersion(let name, let version) = root {
                v = try await registry.modelVersion(name: name, version: version)
            } else {
                preconditionFailure("unreachable")
            }
            let vid = Self.versionID(v)
            g.add(vid, .modelVersion, "\(v.name) v\(v.version)", [KeyValue(key: "stage", value: v.currentStage.rawValue)] + v.aliases.map { KeyValue(key: "alias", value: $0) })
            var runID = v.runID
            if let modelID = v.modelID {
                let m = try await models.loggedModel(id: modelID, allowDeleted: true)
                addModel(m, to: &g)
                g.link(vid, "logged_model:\(m.modelID)", "registered_from")
                runID = runID ?? m.sourceRunID
                if let run = m.sourceRunID { try await expandRun(run, into: &g, from: "logged_model:\(m.modelID)") }
            }
            if let runID, !g.contains("run:\(runID)") { try await expandRun(runID, into: &g, from: vid) }
        case .loggedModel(let id):
            let m = try await models.loggedModel(id: id, allowDeleted: true)
            addModel(m, to: &g)
            try await addVersions(filter: "run_id = \(Self.quoted(m.sourceRunID ?? ""))", to: &g, modelID: m.modelID)
            if let run = m.sourceRunID { try await expandRun(run, into: &g, from: "logged_model:\(m.modelID)") }
        case .run(let id):
            try await expandRun(id, into: &g, from: nil)
        case .dataset(let name, let digest):
            let dsID = "dataset:\(name)@\(digest)"
            let stored = try await storedAttributes(name: name, digest: digest)
            g.add(dsID, .dataset, Self.datasetLabel(name, digest, stored), stored)
            try await addUsers(ofDataset: name, digest: digest, into: &g, except: nil)
        case .storedDataset(let name, let version):
            guard let stored else { throw EnsembleError.notFound("This server keeps no stored datasets.") }
            let v = try await stored.storedDatasetVersion(name: name, version: version)
            let dsID = "dataset:\(name)@\(v.mlflowDigest)"
            g.add(dsID, .dataset, "\(name) v\(v.version)", Self.attributes(of: v))
            try await addUsers(ofDataset: name, digest: v.mlflowDigest, into: &g, except: nil)
        }
        return g
    }

    static func versionID(_ v: ModelVersion) -> String { "model_version:\(v.name)/\(v.version)" }

    func addModel(_ m: LoggedModel, to g: inout LineageGraph) {
        g.add("logged_model:\(m.modelID)", .loggedModel, m.name, [KeyValue(key: "model_id", value: m.modelID), KeyValue(key: "status", value: m.status.rawValue)])
    }

    /// Versions registered from runs matching `filter`, linked to the logged model when they came from it.
    func addVersions(filter: String, to g: inout LineageGraph, modelID: String?) async throws {
        let versions = try await registry.searchModelVersions(RegistrySearch(filter: try SearchFilterParser.parse(filter, for: .modelVersions), maxResults: 100))
        for v in versions.items where modelID == nil || v.modelID == modelID {
            g.add(Self.versionID(v), .modelVersion, "\(v.name) v\(v.version)", [KeyValue(key: "stage", value: v.currentStage.rawValue)])
            if let m = v.modelID {
                g.link(Self.versionID(v), "logged_model:\(m)", "registered_from")
            } else if let run = v.runID, g.contains("run:\(run)") {
                g.link(Self.versionID(v), "run:\(run)", "produced_by")
            }
        }
    }

    /// The run, its code version, its datasets, the models it produced, and the other users of its data.
    func expandRun(_ runID: String, into g: inout LineageGraph, from parent: String?) async throws {
        let run = try await tracking.run(id: runID)
        let rid = "run:\(run.info.runID)"
        g.add(rid, .run, run.info.runName, [KeyValue(key: "run_id", value: run.info.runID), KeyValue(key: "experiment_id", value: run.info.experimentID)])
        if let parent { g.link(parent, rid, "produced_by") }
        let tags = Dictionary(run.tags.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        if let commit = tags["mlflow.source.git.commit"] ?? tags["mlflow.source.name"] {
            let cid = "code:\(commit)"
            var attributes: [KeyValue] = []
            for key in ["mlflow.source.name", "mlflow.source.type", "mlflow.source.git.commit", "mlflow.source.git.repoURL", "mlflow.source.git.branch"] {
                if let v = tags[key] { attributes.append(KeyValue(key: key, value: v)) }
            }
            g.add(cid, .code, commit, attributes)
            g.link(rid, cid, "code_version")
        }
        for output in run.modelOutputs {
            if let m = try? await models.loggedModel(id: output.modelID, allowDeleted: true) {
                addModel(m, to: &g)
                g.link("logged_model:\(m.modelID)", rid, "produced_by")
            }
        }
        try await addVersions(filter: "run_id = \(Self.quoted(run.info.runID))", to: &g, modelID: nil)
        for input in run.datasetInputs {
            let dsID = "dataset:\(input.dataset.name)@\(input.dataset.digest)"
            let stored = try await storedAttributes(name: input.dataset.name, digest: input.dataset.digest)
            g.add(
                dsID, .dataset, Self.datasetLabel(input.dataset.name, input.dataset.digest, stored),
                [KeyValue(key: "source_type", value: input.dataset.sourceType)] + stored)
            g.link(rid, dsID, Self.relation(input.context))
            try await addUsers(ofDataset: input.dataset.name, digest: input.dataset.digest, into: &g, except: run.info.runID)
        }
    }

    /// Other runs that used a dataset version, and the models they produced (one hop, bounded).
    func addUsers(ofDataset name: String, digest: String, into g: inout LineageGraph, except: String?) async throws {
        let dsID = "dataset:\(name)@\(digest)"
        let versions = (try? await datasets.datasetVersions(name: name)) ?? []
        for version in versions where version.dataset.digest == digest {
            for use in version.usedBy.prefix(maxRunsPerDataset) where use.runID != except {
                let rid = "run:\(use.runID)"
                g.add(rid, .run, use.runName, [KeyValue(key: "run_id", value: use.runID)])
                g.link(rid, dsID, Self.relation(use.context))
                if let run = try? await tracking.run(id: use.runID) {
                    for output in run.modelOutputs {
                        if let m = try? await models.loggedModel(id: output.modelID, allowDeleted: true) {
                            addModel(m, to: &g)
                            g.link("logged_model:\(m.modelID)", rid, "produced_by")
                        }
                    }
                    // The registered versions those runs became, so "which models used this data" is answered.
                    try await addVersions(filter: "run_id = \(Self.quoted(use.runID))", to: &g, modelID: nil)
                }
            }
        }
    }

    /// `stored_version`, `files`, `total_size` and the full digest when the dataset version is one
    /// Ensemble stores; nothing otherwise.
    func storedAttributes(name: String, digest: String) async throws -> [KeyValue] {
        guard let stored, let v = try await stored.storedDatasetVersion(name: name, digest: digest) else { return [] }
        return Self.attributes(of: v)
    }

    /// `name vN` for a stored version, `name@digest` otherwise.
    static func datasetLabel(_ name: String, _ digest: String, _ stored: [KeyValue]) -> String {
        if let version = stored.first(where: { $0.key == "stored_version" })?.value { return "\(name) v\(version)" }
        return "\(name)@\(digest)"
    }

    static func attributes(of v: StoredDatasetVersion) -> [KeyValue] {
        [
            KeyValue(key: "stored_version", value: String(v.version)),
            KeyValue(key: "files", value: String(v.fileCount)),
            KeyValue(key: "total_size", value: String(v.totalSize)),
            KeyValue(key: "sha256", value: v.digest),
        ]
    }

    /// A filter string literal, with quotes doubled.
    static func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }

    static func relation(_ context: String?) -> String {
        switch context?.lowercased() {
        case "training", "train": "trained_on"
        case "evaluation", "eval", "validation", "test": "evaluated_on"
        default: "used"
        }
    }
}
