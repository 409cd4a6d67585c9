import EnsembleArtifacts
import EnsembleCore
import EnsembleStore
import Foundation
import Hummingbird
import Logging
import Mustache
import ServiceLifecycle

/// Everything `ensemble serve` can be told. Every field has a default, so tests build a server
/// with just a data folder.
public struct ServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 5000
    /// Holds `ensemble.sqlite`, the `artifacts/` folder and `blobs/` (stored dataset contents).
    public var dataDirectory: String = "./ensemble-data"
    /// Cap for JSON request bodies on ordinary routes.
    public var maxJSONBodyBytes: Int = 4 * 1024 * 1024
    /// Cap for routes that legitimately carry big documents (dataset schemas and profiles).
    public var maxLargeJSONBodyBytes: Int = 48 * 1024 * 1024
    /// Cap for one uploaded artifact file.
    public var maxArtifactBytes: Int64 = 16 * 1024 * 1024 * 1024
    public var logLevel: Logger.Level = .info
    /// Seconds a connection may sit idle (including a client that stalls mid-request) before it is closed.
    public var idleTimeoutSeconds: Int64 = 120

    public init() {}

    public var databasePath: String { dataDirectory + "/ensemble.sqlite" }
    public var artifactDirectory: String { dataDirectory + "/artifacts" }
    public var contentDirectory: String { dataDirectory + "/blobs" }
}

/// Ensemble's version, reported by `ensemble --version` and the `X-Ensemble-Version` header.
public let ensembleVersion = "0.1.0"
/// The MLflow server version whose REST API Ensemble speaks, reported at `/version`.
public let mlflowCompatibleVersion = "3.17.2"

/// The parts a server is made of, opened from a configuration.
public struct EnsembleServices: Sendable {
    public let store: SQLiteStore
    public let artifacts: LocalArtifactStore
    /// Content-addressed blobs of stored datasets, outside the artifact proxy's tree.
    public let content: ContentStore

    public init(configuration: ServerConfiguration) throws {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        self.store = try SQLiteStore(path: configuration.databasePath)
        self.artifacts = try LocalArtifactStore(root: configuration.artifactDirectory)
        self.content = try ContentStore(root: configuration.contentDirectory)
    }
}

/// Builds the HTTP responder with every route.
func buildResponder(configuration: ServerConfiguration, services: EnsembleServices) -> EnsembleResponder {
    let tracking = TrackingHandlers(store: services.store)
    let files = ArtifactHandlers(store: services.store, artifacts: services.artifacts, maxUploadBytes: configuration.maxArtifactBytes)
    let small = configuration.maxJSONBodyBytes
    let large = configuration.maxLargeJSONBodyBytes

    var mlflow: [String: EnsembleResponder.Handler] = [:]
    func add(_ methods: [String], _ path: String, maxBody: Int = small, _ handler: @escaping @Sendable (RequestFields) async throws -> Response) {
        for m in methods { mlflow["\(m) \(path)"] = .json(maxBody: maxBody, handler) }
    }
    add(["POST"], "experiments/create", tracking.createExperiment)
    add(["GET"], "experiments/get", tracking.getExperiment)
    add(["GET"], "experiments/get-by-name", tracking.getExperimentByName)
    add(["POST", "GET"], "experiments/search", tracking.searchExperiments)
    add(["POST"], "experiments/update", tracking.updateExperiment)
    add(["POST"], "experiments/delete", tracking.deleteExperiment)
    add(["POST"], "experiments/restore", tracking.restoreExperiment)
    add(["POST"], "experiments/set-experiment-tag", tracking.setExperimentTag)
    add(["POST"], "experiments/delete-experiment-tag", tracking.deleteExperimentTag)
    add(["POST"], "experiments/search-datasets", tracking.searchDatasets)
    add(["POST"], "runs/create", tracking.createRun)
    add(["GET"], "runs/get", tracking.getRun)
    add(["POST"], "runs/update", tracking.updateRun)
    add(["POST"], "runs/delete", tracking.deleteRun)
    add(["POST"], "runs/restore", tracking.restoreRun)
    add(["POST", "GET"], "runs/search", tracking.searchRuns)
    add(["POST"], "runs/log-metric", tracking.logMetric)
    add(["POST"], "runs/log-parameter", tracking.logParameter)
    add(["POST"], "runs/set-tag", tracking.setTag)
    add(["POST"], "runs/delete-tag", tracking.deleteTag)
    add(["POST"], "runs/log-batch", maxBody: large, tracking.logBatch)
    add(["POST"], "runs/log-inputs", maxBody: large, tracking.logInputs)
    add(["POST"], "runs/outputs", tracking.logOutputs)
    add(["POST"], "runs/log-model", tracking.logModel)
    add(["GET"], "metrics/get-history", tracking.metricHistory)
    add(["GET"], "metrics/get-history-bulk-interval", tracking.metricHistoryBulkInterval)
    add(["GET"], "metrics/get-history-bulk", tracking.metricHistoryBulk)
    add(["GET"], "artifacts/list", files.listRunArtifacts)
    let registry = RegistryHandlers(registry: services.store, tracking: services.store, models: services.store, files: files)
    add(["POST"], "registered-models/create", registry.create)
    add(["GET"], "registered-models/get", registry.get)
    add(["POST"], "registered-models/rename", registry.rename)
    add(["PATCH"], "registered-models/update", registry.update)
    add(["DELETE"], "registered-models/delete", registry.delete)
    add(["GET", "POST"], "registered-models/search", registry.search)
    add(["POST", "GET"], "registered-models/get-latest-versions", registry.latestVersions)
    add(["POST"], "registered-models/set-tag", registry.setTag)
    add(["DELETE"], "registered-models/delete-tag", registry.deleteTag)
    add(["POST"], "registered-models/alias", registry.setAlias)
    add(["DELETE"], "registered-models/alias", registry.deleteAlias)
    add(["GET"], "registered-models/alias", registry.getByAlias)
    add(["POST"], "model-versions/create", registry.createVersion)
    add(["GET"], "model-versions/get", registry.getVersion)
    add(["PATCH"], "model-versions/update", registry.updateVersion)
    add(["POST"], "model-versions/transition-stage", registry.transition)
    add(["DELETE"], "model-versions/delete", registry.deleteVersion)
    add(["GET", "POST"], "model-versions/search", registry.searchVersions)
    add(["GET"], "model-versions/get-download-uri", registry.downloadURI)
    add(["POST"], "model-versions/set-tag", registry.setVersionTag)
    add(["DELETE"], "model-versions/delete-tag", registry.deleteVersionTag)
    mlflow["GET model-versions/get-artifact"] = .raw(registry.getArtifact)
    mlflow["POST upload-artifact"] = .raw(files.uploadArtifact)
    mlflow["GET get-artifact"] = .raw(files.getArtifact)

    let serverInfo: EnsembleResponder.Handler = .raw { _, _ in
        var w = JSONWriter()
        w.beginObject()
        w.member("store_type", "SqlStore")
        w.member("workspaces_enabled", false)
        w.member("trace_archival_enabled", false)
        w.member("multipart_uploads_enabled", false)
        w.member("multipart_downloads_enabled", false)
        w.member("artifact_serving_enabled", true)
        w.member("presigned_upload_run_id_supported", false)
        w.member("presigned_upload_model_id_supported", false)
        w.key("features_enabled")
        w.beginObject()
        w.member("gateway", false)
        w.endObject()
        w.member("artifacts_presigned_only", false)
        w.endObject()
        return JSONResponse.ok(w)
    }
    let text: @Sendable (String) -> EnsembleResponder.Handler = { body in
        .raw { _, _ in Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body))) }
    }
    let exact: [String: EnsembleResponder.Handler] = [
        "GET /health": text("OK"),
        "GET /version": text(mlflowCompatibleVersion),
        "GET /api/3.0/mlflow/server-info": serverInfo,
        "GET /ajax-api/3.0/mlflow/server-info": serverInfo,
        "GET /get-artifact": .raw(files.getArtifact),
        "GET /model-versions/get-artifact": .raw(registry.getArtifact),
    ]
    let native = NativeHandlers(datasets: services.store, stored: services.store, registry: services.store)
    let team = TeamHandlers(team: services.store)
    let storedDatasets = StoredDatasetHandlers(store: services.store, content: services.content, maxBlobBytes: configuration.maxArtifactBytes)
    let proxy: EnsembleResponder.Handler = .raw(files.proxy)
    var prefixes = ArtifactHandlers.proxyPrefixes.map { (prefix: $0, methods: Set(["GET", "PUT", "DELETE"]), handler: proxy) }
    prefixes.append((prefix: StoredDatasetHandlers.blobPrefix, methods: ["GET", "HEAD", "PUT"], handler: .raw(storedDatasets.blob)))
    let models = LoggedModelHandlers(models: services.store, files: files)
    let patterns: [(String, String, Int, @Sendable (RequestFields, [String: String]) async throws -> Response)] = [
        ("POST", "logged-models", small, models.create),
        ("POST", "logged-models/search", small, models.search),
        ("GET", "logged-models/{model_id}", small, models.get),
        ("PATCH", "logged-models/{model_id}", small, models.finalize),
        ("DELETE", "logged-models/{model_id}", small, models.delete),
        ("PATCH", "logged-models/{model_id}/tags", small, models.setTags),
        ("DELETE", "logged-models/{model_id}/tags/{tag_key}", small, models.deleteTag),
        ("POST", "logged-models/{model_id}/params", small, models.logParams),
        ("GET", "logged-models/{model_id}/artifacts/directories", small, models.listArtifacts),
        ("GET", "logged-models/{model_id}/artifacts/files", small, models.getArtifact),
    ]
    var responder = EnsembleResponder(mlflowRoutes: mlflow, exactRoutes: exact, prefixRoutes: prefixes)
    responder.mlflowPatternRoutes = patterns.map {
        EnsembleResponder.PatternRoute(method: $0.0, segments: $0.1.split(separator: "/").map(String.init), maxBody: $0.2, handler: $0.3)
    }
    var lineageBuilder = LineageBuilder(tracking: services.store, models: services.store, registry: services.store, datasets: services.store)
    lineageBuilder.stored = services.store
    let lineage = LineageHandler(builder: lineageBuilder)
    let nativeRoutes: [(String, String, @Sendable (RequestFields, [String: String]) async throws -> Response)] = [
        ("GET", "datasets", native.listDatasets),
        ("GET", "datasets/{name}/versions", native.datasetVersions),
        ("POST", "datasets/{name}/versions", storedDatasets.addVersion),
        ("GET", "datasets/{name}/versions/{version}", storedDatasets.getVersion),
        ("POST", "blobs/missing", storedDatasets.missing),
        ("GET", "models/{name}/history", native.modelHistory),
        ("GET", "openapi.json", native.openAPI),
        ("GET", "roles", team.listRoles),
        ("PUT", "roles/{id}", team.saveRole),
        ("DELETE", "roles/{id}", team.deleteRole),
        ("GET", "people", team.listPeople),
        ("POST", "people", team.createPerson),
        ("POST", "people/import", team.importPeople),
        ("GET", "people/{id}", team.getPerson),
        ("PUT", "people/{id}", team.updatePerson),
        ("DELETE", "people/{id}", team.deletePerson),
        ("GET", "projects", team.listProjects),
        ("POST", "projects", team.createProject),
        ("GET", "projects/{id}", team.getProject),
        ("PUT", "projects/{id}", team.updateProject),
        ("DELETE", "projects/{id}", team.deleteProject),
        ("POST", "projects/{id}/stage", team.moveProject),
        ("GET", "projects/{id}/staffing", team.staffing),
        ("GET", "projects/{id}/forecast", team.forecast),
        ("GET", "projects/{id}/updates", team.projectActivity),
        ("POST", "projects/{id}/updates", team.postUpdate),
        ("GET", "projects/{id}/progress", team.progress),
        ("GET", "portfolio", team.portfolio),
        ("GET", "coverage", team.coverage),
        ("GET", "updates", team.teamActivity),
        ("GET", "lineage", lineage.lineage),
    ]
    let web = WebHandlers(
        tracking: services.store, registry: services.store, team: services.store, files: files, lineage: lineageBuilder,
        datasets: services.store, stored: services.store,
        library: (try? WebTemplates.library()) ?? MustacheLibrary())
    let webRoutes: [(String, String, @Sendable (Request, [String: String]) async throws -> Response)] = [
        ("GET", "", web.home),
        ("GET", "static/app.css", web.css),
        ("GET", "static/app.js", web.js),
        ("GET", "favicon.ico", web.favicon),
        ("GET", "experiments", web.experiments),
        ("GET", "experiments/{id}", web.experimentRuns),
        ("GET", "runs/{id}", web.run),
        ("GET", "runs/{id}/artifact", web.artifactPreview),
        ("GET", "compare", web.compare),
        ("GET", "models", web.models),
        ("GET", "models/{name}", web.model),
        ("GET", "lineage", web.lineagePage),
        ("GET", "team", web.teamPage),
        ("GET", "people/{id}", web.personPage),
        ("GET", "projects", web.projectsPage),
        ("GET", "projects/new", web.newProjectForm),
        ("POST", "projects/new", web.createProject),
        ("GET", "projects/{id}", web.projectPage),
        ("GET", "projects/{id}/edit", web.editProjectForm),
        ("POST", "projects/{id}/edit", web.saveProject),
        ("POST", "projects/{id}/checklist", web.saveChecklist),
        ("POST", "projects/{id}/stage", web.moveStage),
        ("POST", "projects/{id}/updates", web.postUpdate),
        ("POST", "people/{id}/skills", web.saveSkills),
        ("GET", "datasets", web.datasetsPage),
        ("GET", "datasets/{name}", web.datasetPage),
    ]
    responder.webRoutes = webRoutes.map { (method: $0.0, segments: $0.1.split(separator: "/", omittingEmptySubsequences: false).map(String.init), handler: $0.2) }
    responder.nativeRoutes = nativeRoutes.map {
        EnsembleResponder.PatternRoute(method: $0.0, segments: $0.1.split(separator: "/").map(String.init), maxBody: $0.0 == "POST" ? large : small, handler: $0.2)
    }
    return responder
}

/// Builds the Ensemble application: opens (and migrates) the store, then serves until SIGINT or
/// SIGTERM, finishing in-flight requests before it returns.
public func buildApplication(configuration: ServerConfiguration, logger: Logger) throws -> some ApplicationProtocol {
    let services = try EnsembleServices(configuration: configuration)
    let responder = buildResponder(configuration: configuration, services: services)
    return Application(
        responder: responder,
        server: .http1(configuration: .init(idleTimeout: .seconds(configuration.idleTimeoutSeconds))),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Ensemble/\(ensembleVersion)"),
        services: [StoreCheckpointService(store: services.store, logger: logger)],
        logger: logger
    )
}

/// Checkpoints the WAL when the server shuts down, so the database file is complete on its own.
struct StoreCheckpointService: Service {
    let store: SQLiteStore
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        do {
            try store.checkpoint()
            logger.info("database checkpointed")
        } catch {
            logger.warning("database checkpoint failed", metadata: ["error": "\(error)"])
        }
    }
}
