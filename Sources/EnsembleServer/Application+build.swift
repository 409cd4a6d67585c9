import EnsembleArtifacts
import EnsembleCore
import EnsembleJSON
import EnsemblePostgres
import EnsembleStore
import Foundation
import Hummingbird
import HummingbirdAuth
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
    /// `postgresql://…`: the metadata lives in that PostgreSQL database (several servers may share it)
    /// instead of `ensemble.sqlite` in the data folder. nil: SQLite, the zero-setup default.
    public var databaseURL: String? = nil
    /// `s3://bucket/prefix`: artifacts go to `prefix/artifacts/` and stored datasets' contents to
    /// `prefix/blobs/` in that bucket (several servers may share it), with the standard `AWS_*`
    /// settings from `environment`. nil: the data folder's `artifacts/` and `blobs/`.
    public var artifactsURL: String? = nil
    /// With a bucket: the web UI's downloads and image previews redirect the browser to a presigned
    /// URL (15 minutes) instead of passing the bytes through this server, and the MLflow client is
    /// told (`/server-info`) to download files straight from the bucket, in parallel ranges.
    public var presignedDownloads: Bool = false
    /// With a bucket: the MLflow client's direct multipart uploads (`mpu/create`, `mpu/complete`,
    /// `mpu/abort`; `MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true` on the client) send large files' parts
    /// straight to the bucket with presigned URLs. Off: the client falls back to uploading through
    /// this server.
    public var presignedUploads: Bool = false
    /// Where the `AWS_*` settings are read from.
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    /// Cap for JSON request bodies on ordinary routes.
    public var maxJSONBodyBytes: Int = 4 * 1024 * 1024
    /// Cap for routes that legitimately carry big documents (dataset schemas and profiles).
    public var maxLargeJSONBodyBytes: Int = 48 * 1024 * 1024
    /// Cap for one uploaded artifact file.
    public var maxArtifactBytes: Int64 = 16 * 1024 * 1024 * 1024
    public var logLevel: Logger.Level = .info
    /// Seconds a connection may sit idle (including a client that stalls mid-request) before it is closed.
    public var idleTimeoutSeconds: Int64 = 120
    /// Seconds a client has to send a request's head, from connecting or from the previous response;
    /// slower connections are closed (see ``ConnectionGuard``).
    public var requestHeadTimeoutSeconds: Int64 = 15
    /// Log one line per request at `info` (else at `debug`).
    public var accessLog: Bool = false
    /// `.required`: every route but health, version and static assets needs a verified user.
    /// nil: decided by the address (see ``resolvedAuth()``).
    public var auth: AuthMode? = nil
    /// A member's permission on resources they have no grant for (`--default-permission`).
    public var memberDefaultPermission: Permission = .edit
    /// Mark the session cookie `Secure` (serve behind HTTPS; `--secure-cookies`).
    public var secureCookies: Bool = false
    /// Aliases that mean production: setting or deleting them needs MANAGE on the model.
    public var protectedAliases: Set<String> = ["champion", "production"]
    /// Audit entries older than this many days are deleted (hourly); 0 keeps them for ever.
    public var auditRetentionDays: Int = 365

    public init() {}

    /// Whether the configured host only accepts connections from this machine.
    public var isLoopback: Bool { ["127.0.0.1", "::1", "localhost"].contains(host) || host.hasPrefix("127.") }

    /// The authentication mode to run with: as configured, or off on a loopback address (the
    /// zero-setup single-user default). Open on a reachable address is refused unless asked for.
    public func resolvedAuth() throws(EnsembleError) -> AuthMode {
        if let auth { return auth }
        if isLoopback { return .none }
        throw .invalid(
            "Refusing to serve \(host) without authentication: anyone who reaches the port could read and change everything. "
                + "Run with --auth required (and create the first admin: ensemble admin create-user NAME --email E --admin --data \(dataDirectory)), "
                + "or pass --auth none to serve open on purpose.")
    }

    public var databasePath: String { dataDirectory + "/ensemble.sqlite" }
    public var artifactDirectory: String { dataDirectory + "/artifacts" }
    public var contentDirectory: String { dataDirectory + "/blobs" }
}

/// Whether requests must authenticate.
public enum AuthMode: String, Sendable, CaseIterable {
    /// Single-user: no checks (loopback default, or explicitly on any address).
    case none
    /// Tokens, passwords or sessions; roles and ``Access`` on every route.
    case required
}

/// Ensemble's version, reported by `ensemble --version` and the `X-Ensemble-Version` header.
public let ensembleVersion = "0.1.0"
/// The MLflow server version whose REST API Ensemble speaks, reported at `/version`.
public let mlflowCompatibleVersion = "3.17.2"

/// The parts a server is made of, opened from a configuration.
public struct EnsembleServices: Sendable {
    public let store: any MetadataStore
    public let artifacts: any ArtifactStorage
    /// Content-addressed blobs of stored datasets, outside the artifact proxy's tree.
    public let content: any BlobStorage
    /// Checks tokens and passwords (with its cache and throttle) when authentication is on.
    var authenticator: Authenticator

    /// The embedded store: SQLite in the data folder.
    public init(configuration: ServerConfiguration) throws {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        try self.init(configuration: configuration, store: SQLiteStore(path: configuration.databasePath))
    }

    /// The given metadata store, with the data folder's artifacts and blobs.
    public init(configuration: ServerConfiguration, store: any MetadataStore) throws {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        try self.init(
            store: store, artifacts: LocalArtifactStore(root: configuration.artifactDirectory),
            content: ContentStore(root: configuration.contentDirectory))
    }

    public init(store: any MetadataStore, artifacts: any ArtifactStorage, content: any BlobStorage) {
        self.store = store
        self.artifacts = artifacts
        self.content = content
        self.authenticator = Authenticator(store: store)
    }

    /// Opens what the configuration names: PostgreSQL when it has a database URL, else SQLite; a
    /// bucket when it has an `s3://` location (checked writable before the server starts), else the
    /// data folder.
    public static func open(configuration: ServerConfiguration, logger: Logger) async throws -> EnsembleServices {
        let files = try await openFiles(configuration: configuration)
        guard let url = configuration.databaseURL else {
            try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
            return EnsembleServices(store: try SQLiteStore(path: configuration.databasePath), artifacts: files.0, content: files.1)
        }
        let store = try await PostgresStore.open(url: url, logger: logger)
        return EnsembleServices(store: store, artifacts: files.0, content: files.1)
    }

    static func openFiles(configuration: ServerConfiguration) async throws -> (any ArtifactStorage, any BlobStorage) {
        guard let url = configuration.artifactsURL else {
            try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
            return (try LocalArtifactStore(root: configuration.artifactDirectory), try ContentStore(root: configuration.contentDirectory))
        }
        let location = try S3Location(url: url, environment: configuration.environment)
        let artifacts = S3ArtifactStore(client: S3Client(location: location.appending("artifacts")))
        let blobs = S3BlobStore(client: S3Client(location: location.appending("blobs")), scratch: configuration.dataDirectory + "/tmp")
        do {
            try await artifacts.checkWritable()
        } catch {
            throw StorageUnavailable(message:
                "Cannot write to \(location.description)\(location.endpoint.map { " at \($0)" } ?? ""): \(error). Check that the bucket exists and that AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ENDPOINT_URL are right."
            )
        }
        return (artifacts, blobs)
    }
}

/// The configured bucket cannot be written at start: the message says what to check.
public struct StorageUnavailable: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Body limits for JSON routes: most read `json` bytes at most; the few that carry big documents
/// (log-batch, log-inputs, dataset manifests, team documents) read up to `large`.
struct BodyLimits: Sendable {
    var json: Int
    var large: Int
}

/// The server's information document at `/api/3.0/mlflow/server-info` (what the MLflow client asks
/// before it chooses an upload strategy), `/health` and `/version`.
struct ServerInfoHandlers: Sendable {
    /// Whether the client may send large files straight to the bucket (`--presigned-uploads`): the
    /// MLflow client then uses mpu/create for files from `MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE` up.
    var multipartUploads = false
    /// Whether the client may download straight from the bucket (`--presigned-downloads`): the MLflow
    /// client then asks `presigned/<path>` for every file and reads it in parallel ranges.
    var multipartDownloads = false

    func serverInfo(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        var w = JSONWriter()
        w.beginObject()
        w.member("store_type", "SqlStore")
        w.member("workspaces_enabled", false)
        w.member("trace_archival_enabled", false)
        w.member("multipart_uploads_enabled", multipartUploads)
        w.member("multipart_downloads_enabled", multipartDownloads)
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

    static func text(_ body: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    func health(_ request: Request, context: EnsembleRequestContext) async throws -> Response { Self.text("OK") }
    func version(_ request: Request, context: EnsembleRequestContext) async throws -> Response { Self.text(mlflowCompatibleVersion) }
}

/// `GET /ready`: whether this server can serve, for a load balancer or an orchestrator. It reads the
/// database and writes, reads back and removes a probe file in the artifact and blob stores: 200
/// `{"status": "ready", "checks": {...: "ok"}}`, or 503 naming the failing check (why goes to the
/// log). Open like `/health`, which only says the process answers: load balancers carry no token.
struct ReadinessHandler: Sendable {
    let services: EnsembleServices

    func ready(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        var checks: [(String, String?)] = []
        func check(_ name: String, _ body: () async throws -> Void) async {
            do {
                try await body()
                checks.append((name, nil))
            } catch {
                // The details name folders of the server: they go to its log, not to whoever asks.
                context.logger.error("not ready: \(name): \((error as? EnsembleError)?.message ?? "\(error)")")
                checks.append((name, "failing (the server log says why)"))
            }
        }
        await check("database") { try await services.store.checkReadable() }
        await check("artifacts") { try await services.artifacts.checkWritable() }
        await check("blobs") { try await services.content.checkWritable() }
        let ready = checks.allSatisfy { $0.1 == nil }
        var w = JSONWriter()
        w.beginObject()
        w.member("status", ready ? "ready" : "not ready")
        w.key("checks")
        w.beginObject()
        for (name, problem) in checks {
            w.dynamicKey(name)
            w.string(problem ?? "ok")
        }
        w.endObject()
        w.endObject()
        return JSONResponse.ok(w, status: ready ? .ok : .serviceUnavailable)
    }
}

/// The MLflow API is served under both prefixes: the client uses `/api`, MLflow's own UI `/ajax-api`.
let mlflowPrefixes: [RouterPath] = ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"]

/// Builds the router: every area's routes, behind the middleware every request passes through
/// (access log and request id → security headers → error mapping → context: body limit and principal).
func buildRouter(configuration: ServerConfiguration, services: EnsembleServices, audit: AuditWriter) -> Router<EnsembleRequestContext> {
    let limits = BodyLimits(json: configuration.maxJSONBodyBytes, large: configuration.maxLargeJSONBodyBytes)
    let references = DeploymentReferenceResolver(tracking: services.store, models: services.store, registry: services.store, stored: services.store)
    let files = ArtifactHandlers(
        store: services.store, artifacts: services.artifacts, maxUploadBytes: configuration.maxArtifactBytes, presignedDownloads: configuration.presignedDownloads,
        presignedUploads: configuration.presignedUploads)
    var lineageBuilder = LineageBuilder(tracking: services.store, models: services.store, registry: services.store, datasets: services.store)
    lineageBuilder.stored = services.store
    let handoffActions = HandoffHandlers(
        handoffs: services.store, team: services.store, registry: services.store, tracking: services.store, models: services.store,
        datasets: services.store, identity: services.store, reviewer: HandoffReviewer(content: services.content))
    var webHandlers = WebHandlers(
        tracking: services.store, registry: services.store, team: services.store, files: files, lineage: lineageBuilder,
        datasets: services.store, stored: services.store,
        library: (try? WebTemplates.library()) ?? MustacheLibrary(), identity: services.store)
    webHandlers.handoffs = services.store
    webHandlers.handoffActions = handoffActions
    webHandlers.deployments = services.store
    webHandlers.references = references
    let web = webHandlers

    let router = Router(context: EnsembleRequestContext.self)
    router.add(middleware: AccessLogMiddleware(level: configuration.accessLog ? .info : .debug))
    router.add(middleware: SecurityHeadersMiddleware())
    router.add(middleware: ErrorMiddleware(page: { context, status, heading, message in web.errorPage(context, status, heading: heading, message: message) }))
    let authRequired = (configuration.auth ?? .none) == .required
    let accessControl = authRequired
        ? AccessControl(
            grants: services.store, tracking: services.store, datasets: services.store, memberDefault: configuration.memberDefaultPermission,
            protectedAliases: configuration.protectedAliases)
        : nil
    router.add(middleware: RequestContextMiddleware(defaultBodyLimit: limits.json, authenticationRequired: authRequired, accessControl: accessControl))
    if authRequired {
        // Browsers: hummingbird-auth's sessions, stored in the database (shared by every server).
        router.add(
            middleware: SessionMiddleware<EnsembleRequestContext>(
                storage: StorePersistDriver(store: services.store, logger: Logger(label: "ensemble.sessions")),
                configuration: .init(
                    sessionCookieParameters: .init(name: "ensemble_session", secure: configuration.secureCookies, sameSite: .lax),
                    defaultSessionExpiration: AccountPages.sessionLifetime)))
        let team = services.store
        router.add(
            middleware: AuthenticationMiddleware(
                authenticator: services.authenticator, audit: audit, personName: { id in try? await team.person(id: id).name }))
        router.add(middleware: CSRFMiddleware())
    }
    router.add(middleware: AuditMiddleware(writer: audit))

    // The MLflow REST API.
    let registry = RegistryHandlers(registry: services.store, tracking: services.store, models: services.store, files: files)
    let mlflowAuth = MLflowAuthHandlers(identity: services.store, audit: audit, authenticator: services.authenticator)
    let mlflow = [
        mlflowAuth.userRoutes,
        TrackingHandlers(store: services.store).routes(limits),
        LoggedModelHandlers(models: services.store, files: files).routes,
        registry.routes,
        files.mlflowRoutes,
    ]
    for prefix in mlflowPrefixes {
        for collection in mlflow { router.addRoutes(collection, atPath: prefix) }
    }
    for prefix in ["/api/3.0/mlflow", "/ajax-api/3.0/mlflow"] as [RouterPath] {
        router.addRoutes(mlflowAuth.permissionRoutes, atPath: prefix)
    }
    for prefix in ArtifactHandlers.proxyPrefixes {
        router.addRoutes(files.proxyRoutes, atPath: RouterPath(prefix))
    }
    for prefix in ArtifactHandlers.multipartPrefixes {
        router.addRoutes(files.multipartRoutes, atPath: RouterPath(prefix))
    }
    for prefix in ArtifactHandlers.presignedPrefixes {
        router.addRoutes(files.presignedRoutes, atPath: RouterPath(prefix))
    }
    let info = ServerInfoHandlers(
        multipartUploads: configuration.presignedUploads && configuration.artifactsURL != nil,
        multipartDownloads: configuration.presignedDownloads && configuration.artifactsURL != nil)
    router.get("/api/3.0/mlflow/server-info", .open, use: info.serverInfo)
    router.get("/ajax-api/3.0/mlflow/server-info", .open, use: info.serverInfo)
    router.get("/health", .open, use: info.health)
    router.get("/ready", .open, use: ReadinessHandler(services: services).ready)
    router.get("/version", .open, use: info.version)
    // The UI's download helpers, at the root as MLflow serves them.
    router.get("/get-artifact", .read, use: files.getArtifact)
    router.get("/model-versions/get-artifact", .read, use: registry.getArtifact)

    // Ensemble's own API.
    let native = NativeHandlers(datasets: services.store, stored: services.store, registry: services.store)
    router.addRoutes(native.routes, atPath: "/api/v1")
    router.addRoutes(StoredDatasetHandlers(store: services.store, content: services.content, maxBlobBytes: configuration.maxArtifactBytes).routes(limits), atPath: "/api/v1")
    router.addRoutes(TeamHandlers(team: services.store).routes(limits), atPath: "/api/v1")
    router.addRoutes(LineageHandler(builder: lineageBuilder).routes, atPath: "/api/v1")
    router.addRoutes(handoffActions.routes, atPath: "/api/v1")
    router.addRoutes(DeploymentHandlers(store: services.store, references: references).routes, atPath: "/api/v1")
    router.addRoutes(IdentityHandlers(store: services.store, audit: audit, authRequired: authRequired, authenticator: services.authenticator).routes, atPath: "/api/v1")

    // The web UI.
    router.addRoutes(web.routes)
    router.addRoutes(AccountPages(web: web, identity: services.store, authenticator: services.authenticator, audit: audit).routes)
    return router
}

/// Builds the Ensemble application: opens (and migrates) the store, then serves until SIGINT or
/// SIGTERM, finishing in-flight requests before it returns.
public func buildApplication(configuration: ServerConfiguration, logger: Logger) throws -> some ApplicationProtocol {
    buildApplication(configuration: configuration, services: try EnsembleServices(configuration: configuration), logger: logger)
}

func buildApplication(configuration: ServerConfiguration, services: EnsembleServices, logger: Logger) -> some ApplicationProtocol {
    let retention = configuration.auditRetentionDays > 0 ? Duration.seconds(Int64(configuration.auditRetentionDays) * 86_400) : nil
    let audit = AuditWriter(store: services.store, logger: logger, retention: retention)
    let router = buildRouter(configuration: configuration, services: services, audit: audit)
    return Application(
        router: router,
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [ConnectionGuard(headTimeout: .seconds(configuration.requestHeadTimeoutSeconds))],
                idleTimeout: .seconds(configuration.idleTimeoutSeconds))),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Ensemble/\(ensembleVersion)"),
        // The audit writer stops (and flushes) before the checkpoint runs.
        services: [StoreCheckpointService(store: services.store, logger: logger), audit],
        logger: logger
    )
}

/// Shuts the store down with the server: SQLite checkpoints its WAL (so the database file is
/// complete on its own), PostgreSQL closes its pool.
struct StoreCheckpointService: Service {
    let store: any MetadataStore
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        await store.shutdown()
        logger.info("database closed")
    }
}
