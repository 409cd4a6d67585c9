import EnsembleCore
import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// The metadata store on PostgreSQL, for several stateless servers on one database (issue 15).
///
/// One `PostgresClient` pools the connections (bounded, `maximumConnections`); every connection gets a
/// statement timeout at startup, so a stuck query cannot hold a connection for ever. Every public
/// method is one transaction; a transaction that fails with a serialization failure or a deadlock is
/// run again (up to five times), so concurrent writers on several servers see no lock errors.
/// Migrations run at open, each once under a stable identifier, under an advisory lock so servers
/// starting together do not race.
///
/// It implements every store protocol (``MetadataStore``); the contract suites run on it and on the
/// SQLite store alike. Text columns compare byte by byte (`COLLATE "C"`), as SQLite does.
///
/// ```swift
/// let store = try await PostgresStore.open(url: "postgresql://ensemble@127.0.0.1:5432/ensemble")
/// defer { Task { await store.close() } }
/// ```
public final class PostgresStore: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// Prefix of generated experiment artifact locations (the Default experiment's is set by migration).
    let artifactRootURI = "mlflow-artifacts:/"
    /// Concurrent metric-only writes, committed together (``MetricGroupCommit``).
    let metricWrites: MetricGroupCommit
    private let runner: Task<Void, Never>
    /// Keeps the planner's statistics fresh (``refreshStatistics()``) and merges small metric chunks
    /// (``compactMetricChunks(limit:batch:)``); started by ``open(url:settings:logger:)``.
    private let maintenance = Mutex<Task<Void, Never>?>(nil)

    public struct Settings: Sendable {
        public var maximumConnections = 20
        public var statementTimeoutSeconds = 30
        /// How long opening waits for the first connection and the migrations.
        public var connectTimeoutSeconds = 10
        /// How often the store looks for tables whose statistics are stale (0: never). A look is one
        /// query of `pg_stat_user_tables`; a sweep that creates runs and is searched at once needs it
        /// within seconds (``refreshStatistics()``).
        public var statisticsCheckSeconds = 2
        /// How often the store looks for metric histories to compact (0: never); the look groups the
        /// small chunks, so it runs less often.
        public var compactionCheckSeconds = 10
        public init() {}
    }

    /// - Parameter loop: the event loop of the client's connections; the metric group writer runs on it.
    init(client: PostgresClient, loop: any EventLoop, logger: Logger) {
        self.client = client
        metricWrites = MetricGroupCommit(executor: EventLoopTaskExecutor(loop))
        self.logger = logger
        runner = Task { await client.run() }
    }

    /// Connects to the database a `postgresql://user[:password]@host[:port]/database` URL names and
    /// migrates it. Throws ``EnsembleError`` with what to fix when the URL is wrong or the server
    /// cannot be reached.
    public static func open(url: String, settings: Settings = Settings(), logger: Logger = Logger(label: "ensemble.postgres")) async throws -> PostgresStore {
        var configuration = try configuration(url: url)
        configuration.options.maximumConnections = settings.maximumConnections
        configuration.options.additionalStartupParameters = [("statement_timeout", "\(settings.statementTimeoutSeconds)s"), ("application_name", "ensemble")]
        // Every connection on one event loop, where the metric group writer runs too (see
        // ``EventLoopTaskExecutor``). Decoding rows and building answers happen in the request tasks,
        // not on the loop, so the loop's thread only moves bytes.
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let client = PostgresClient(configuration: configuration, eventLoopGroup: loop, backgroundLogger: logger)
        let store = PostgresStore(client: client, loop: loop, logger: logger)
        do {
            // The pool retries a server it cannot reach for ever; opening gives up after the timeout.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await store.migrate() }
                group.addTask {
                    try await Task.sleep(for: .seconds(settings.connectTimeoutSeconds))
                    throw EnsembleError(.internalError, "no answer within \(settings.connectTimeoutSeconds) s; is the server running, and the host and port right?")
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            await store.close()
            throw EnsembleError(.internalError, "Cannot use the PostgreSQL database at \(redacted(url)): \(describe(error))")
        }
        store.startMaintenance(statisticsEvery: settings.statisticsCheckSeconds, compactionEvery: settings.compactionCheckSeconds)
        return store
    }

    /// Starts the background loop of ``refreshStatistics()`` and ``compactMetricChunks(limit:batch:)``,
    /// each at its own interval in seconds (0: never).
    private func startMaintenance(statisticsEvery: Int, compactionEvery: Int) {
        let tick = [statisticsEvery, compactionEvery].filter { $0 > 0 }.min()
        guard let tick else { return }
        maintenance.withLock {
            $0 = Task { [weak self] in
                var sinceStatistics = 0, sinceCompaction = 0
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(tick))
                    sinceStatistics += tick
                    sinceCompaction += tick
                    guard let store = self else { return }
                    if statisticsEvery > 0, sinceStatistics >= statisticsEvery {
                        sinceStatistics = 0
                        try? await store.refreshStatistics()
                    }
                    if compactionEvery > 0, sinceCompaction >= compactionEvery {
                        sinceCompaction = 0
                        _ = try? await store.compactMetricChunks()
                    }
                }
            }
        }
    }

    /// Tables whose statistics decide the search plans.
    static let plannedTables = ["runs", "params", "tags", "latest_metrics", "metric_chunks", "experiments", "experiment_tags", "logged_models", "model_versions"]

    /// Analyzes the tables that changed a lot since their last analysis (more than 200 rows and a
    /// fifth of the table). Autovacuum does the same, but only after a minute and with a tenth of
    /// the table changed: a sweep that creates 2,000 runs and is searched at once found the planner
    /// still believing the tables empty, and a search with a param and a metric filter took
    /// 150-180 ms instead of 4 ms (a nested loop over every run and every run with the param; it
    /// grows with the square of the sweep, so the threshold is low). The growth rule keeps the
    /// analyses of a growing table geometric: a table of n rows is analyzed O(log n) times. One
    /// server at a time does it (an advisory lock); the others skip.
    func refreshStatistics() async throws {
        _ = try await whileHolding(lock: 7341002) { [logger] db in
            let stale = try await db.column(
                """
                SELECT relname::text FROM pg_stat_user_tables
                WHERE relname = ANY(\(Self.plannedTables)::text[]) AND n_mod_since_analyze > 200
                    AND n_mod_since_analyze > 0.2 * GREATEST(n_live_tup - n_mod_since_analyze, 0)
                """, String.self, logger: logger)
            // Names from the fixed list above, never from a request.
            for table in stale where Self.plannedTables.contains(table) {
                try await db.run(PostgresQuery(unsafeSQL: "ANALYZE \(table)"), logger: logger)
            }
        }
    }

    /// Runs `body` on one connection while this server holds the session advisory lock `key`, then
    /// releases it; nil without running it when another server holds the lock (background work that
    /// one server at a time does for all).
    func whileHolding<T: Sendable>(lock key: Int64, _ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T? {
        try await client.withConnection { [logger] db in
            guard try await db.value("SELECT pg_try_advisory_lock(\(key))", Bool.self, logger: logger) == true else { return nil }
            let result: T
            do {
                result = try await body(db)
            } catch {
                _ = try? await db.value("SELECT pg_advisory_unlock(\(key))", Bool.self, logger: logger)
                throw error
            }
            _ = try await db.value("SELECT pg_advisory_unlock(\(key))", Bool.self, logger: logger)
            return result
        }
    }

    /// Reads from the database (readiness checks).
    public func checkReadable() async throws {
        _ = try await read { [logger] db in try await db.value("SELECT count(*) FROM experiments", Int64.self, logger: logger) }
    }

    /// Closes the pool (``MetadataStore``'s shutdown).
    public func shutdown() async { await close() }

    /// Stops the pool's connections.
    public func close() async {
        maintenance.withLock { $0?.cancel() }
        runner.cancel()
        _ = await runner.value
    }

    /// The client settings from a URL; the password may be given in the URL or in `PGPASSWORD`.
    static func configuration(url: String) throws -> PostgresClient.Configuration {
        guard let parts = URLComponents(string: url), ["postgresql", "postgres"].contains(parts.scheme ?? ""), let host = parts.host, !host.isEmpty else {
            throw EnsembleError.invalid("'\(redacted(url))' is not a PostgreSQL URL; write postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE.")
        }
        let database = String(parts.path.drop { $0 == "/" })
        guard let user = parts.user, !user.isEmpty, !database.isEmpty else {
            throw EnsembleError.invalid("'\(redacted(url))' needs a user and a database: postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE.")
        }
        let password = parts.password ?? ProcessInfo.processInfo.environment["PGPASSWORD"]
        // sslmode=require: TLS with the system's trust roots and the host name checked; otherwise plain.
        let tls: PostgresClient.Configuration.TLS = parts.queryItems?.contains { $0.name == "sslmode" && $0.value == "require" } == true
            ? .require(.makeClientConfiguration()) : .disable
        return PostgresClient.Configuration(host: host, port: parts.port ?? 5432, username: user, password: password, database: database, tls: tls)
    }

    /// The URL without its password, for messages.
    public static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url), parts.password != nil else { return url }
        parts.password = "***"
        return parts.string ?? url
    }

    /// A PostgreSQL error's server message, else the error.
    static func describe(_ error: any Error) -> String {
        if let e = error as? EnsembleError { return e.message }
        if let e = error as? PSQLError {
            if let message = e.serverInfo?[.message] { return message }
            return "\(e.code)"
        }
        return "\(error)"
    }

    // MARK: Transactions

    /// Runs `body` in one transaction; serialization failures and deadlocks are retried (5 tries).
    @discardableResult
    func transaction<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
            } catch let error as PostgresTransactionError {
                let underlying = error.closureError ?? error.beginError ?? error.commitError
                if attempt < 5, let psql = underlying as? PSQLError, let state = psql.serverInfo?[.sqlState], ["40001", "40P01"].contains(state) {
                    try await Task.sleep(for: .milliseconds(5 * attempt))
                    continue
                }
                if let underlying, underlying is EnsembleError { throw underlying }
                if let refused = Self.refusedValue(underlying ?? error) { throw refused }
                throw EnsembleError(.internalError, "The database refused a write: \(Self.describe(underlying ?? error)).")
            } catch let error as EnsembleError {
                throw error
            } catch {
                throw EnsembleError(.internalError, "The database could not be reached: \(Self.describe(error)).")
            }
        }
    }

    /// Runs one statement on its own (PostgreSQL makes it atomic, without BEGIN and COMMIT round
    /// trips), with the same retries and error mapping as ``transaction(_:)``.
    func statement<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await client.withConnection { connection in try await body(connection) }
            } catch let error as EnsembleError {
                throw error
            } catch {
                if attempt < 5, let psql = error as? PSQLError, let state = psql.serverInfo?[.sqlState], ["40001", "40P01"].contains(state) {
                    try await Task.sleep(for: .milliseconds(5 * attempt))
                    continue
                }
                if let refused = Self.refusedValue(error) { throw refused }
                throw EnsembleError(.internalError, "The database refused a write: \(Self.describe(error)).")
            }
        }
    }

    /// Runs `body` on a pooled connection outside a transaction (single statements that only read).
    func read<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch let error as EnsembleError {
            throw error
        } catch {
            if let refused = Self.refusedValue(error) { throw refused }
            throw EnsembleError(.internalError, "The database could not answer: \(Self.describe(error)).")
        }
    }

    /// A request value PostgreSQL cannot take, as the caller's error rather than the server's: data
    /// exceptions (class 22: text with a NUL character, a number out of range) and a unique key
    /// taken by a concurrent request. nil for anything else.
    static func refusedValue(_ error: any Error) -> EnsembleError? {
        guard let psql = error as? PSQLError, let state = psql.serverInfo?[.sqlState] else { return nil }
        if state == "22021" {
            return .invalid("Text values cannot contain the NUL character (U+0000); remove it and try again.")
        }
        if state.hasPrefix("22") { return .invalid("The database refused a value: \(describe(psql)).") }
        if state == "23505" { return .alreadyExists("It already exists (created at the same moment by another request): \(describe(psql)).") }
        return nil
    }

    static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}

extension PostgresStore: MetadataStore {}
