import Foundation

/// The data a deployment's production windows are compared with: a stored dataset version.
public struct DeploymentReference: Sendable, Codable, Equatable {
    /// `datasets:/NAME@VERSION`.
    public var reference: String
    /// Where it came from, for people: recorded with the deployment, or the training data of a run.
    public var source: String
    /// The run whose training input it is, when it came from lineage.
    public var runID: String?

    enum CodingKeys: String, CodingKey {
        case reference, source
        case runID = "run_id"
    }

    public init(reference: String, source: String, runID: String? = nil) {
        self.reference = reference
        self.source = source
        self.runID = runID
    }
}

/// Finds a deployment's reference data: the one recorded with it (`ensemble deploy record --reference`),
/// else the stored dataset version its model version's run logged as its training input. Read-only.
public struct DeploymentReferenceResolver: Sendable {
    let tracking: any TrackingStore
    let models: any LoggedModelStore
    let registry: any RegistryStore
    let stored: any StoredDatasetStore

    public init(tracking: any TrackingStore, models: any LoggedModelStore, registry: any RegistryStore, stored: any StoredDatasetStore) {
        self.tracking = tracking
        self.models = models
        self.registry = registry
        self.stored = stored
    }

    /// Checks that a reference names a stored version and returns it with its version number filled in
    /// (`datasets:/NAME@latest` becomes the latest version's number, so later versions do not move it).
    public func validate(_ reference: String) async throws -> String {
        guard reference.hasPrefix("datasets:/") else {
            throw EnsembleError.invalid("reference: '\(reference.prefix(80))' must name a stored dataset version, datasets:/NAME@VERSION.")
        }
        let parsed: (name: String, version: Int64?)
        do { parsed = try DatasetManifest.parseReference(String(reference.dropFirst("datasets:/".count))) } catch {
            throw EnsembleError.invalid("reference: \(error.message)")
        }
        let version: StoredDatasetVersion
        do { version = try await stored.storedDatasetVersion(name: parsed.name, version: parsed.version) } catch let error as EnsembleError {
            throw EnsembleError.invalid("reference: \(error.message) Add it with `ensemble dataset add \(parsed.name) FILE`.")
        }
        return "datasets:/\(parsed.name)@\(version.version)"
    }

    public func resolve(_ deployment: Deployment) async throws -> DeploymentReference {
        if let reference = deployment.reference { return DeploymentReference(reference: reference, source: "recorded with the deployment") }
        let record = "record one with `ensemble deploy record --model \(deployment.name) --version \(deployment.version) --env \(deployment.environment) --reference datasets:/NAME@V`, or give `ensemble drift` the reference file"
        let version = try await registry.modelVersion(name: deployment.name, version: deployment.version)
        var runID = version.runID
        if runID == nil, let modelID = version.modelID { runID = try await models.loggedModel(id: modelID, allowDeleted: true).sourceRunID }
        guard let runID else {
            throw EnsembleError.notFound("\(deployment.model) was not registered from a run, so its training data is not known: \(record).")
        }
        let run = try await tracking.run(id: runID)
        let training = run.datasetInputs.filter { LineageBuilder.relation($0.context) == "trained_on" }
        guard !training.isEmpty else {
            throw EnsembleError.notFound(
                "Run '\(run.info.runName)' (\(runID)), which \(deployment.model) came from, logged no training dataset (an input with context 'training'): \(record).")
        }
        for input in training {
            if let v = try await stored.storedDatasetVersion(name: input.dataset.name, digest: input.dataset.digest) {
                return DeploymentReference(reference: "datasets:/\(v.name)@\(v.version)", source: "the training data of run '\(run.info.runName)'", runID: runID)
            }
        }
        let names = training.map { "'\($0.dataset.name)' (digest \($0.dataset.digest))" }.joined(separator: ", ")
        throw EnsembleError.notFound(
            "Run '\(run.info.runName)' (\(runID)) trained on \(names), which Ensemble does not store: add the files with `ensemble dataset add NAME FILE` and log that version as the run's input, or \(record).")
    }
}
