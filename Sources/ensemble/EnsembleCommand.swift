import ArgumentParser
import EnsembleArtifacts
import EnsembleCore
import EnsemblePostgres
import EnsembleServer
import Foundation
import Logging

@main
struct EnsembleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ensemble",
        abstract: "Ensemble: a self-hosted hub for a machine-learning team's experiments, models, data and work.",
        version: ensembleVersion,
        subcommands: [Serve.self, BackupCommand.self, MigrateStoreCommand.self, MigrateFilesCommand.self, DatasetCommand.self, LineageCommand.self, EvalCommand.self, GateCommand.self, ABCommand.self, DriftCommand.self, HandoffCommand.self, DeployCommand.self, TeamCommand.self, ProjectCommand.self, PortfolioCommand.self, ForecastCommand.self, DemoCommand.self, AdminCommand.self, AuditCommand.self, LoginCommand.self, LogoutCommand.self]
    )

    /// ArgumentParser's own entry point, except that `ensemble gate` and `ensemble ab` exit 2 on a usage
    /// error (not 64), as on bad input: CI scripts read 1 as "the candidate failed" and 2 as "it could not run".
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch {
            if let command = CommandLine.arguments.dropFirst().first, ["gate", "ab", "drift"].contains(command), exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                exit(withError: ExitCode(2))
            }
            exit(withError: error)
        }
    }
}

enum AuthModeOption: String, ExpressibleByArgument, CaseIterable {
    case none, required
}

enum LogLevelOption: String, ExpressibleByArgument, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

extension EnsembleCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the Ensemble server (MLflow-compatible tracking API on embedded SQLite).",
            discussion: """
                Point the MLflow client at it with MLFLOW_TRACKING_URI=http://HOST:PORT.
                Every option can also be set by an environment variable: ENSEMBLE_HOST, ENSEMBLE_PORT,
                ENSEMBLE_DATA, ENSEMBLE_DATABASE, ENSEMBLE_ARTIFACTS, ENSEMBLE_LOG_LEVEL. Options given on the command line win.
                """
        )

        @Option(help: "Address to listen on. Use 0.0.0.0 to accept connections from other machines. (env: ENSEMBLE_HOST; default: 127.0.0.1)")
        var host: String?

        @Option(help: "Port to listen on. (env: ENSEMBLE_PORT; default: 5000, like MLflow)")
        var port: Int?

        @Option(name: .customLong("data"), help: "Data folder: holds ensemble.sqlite and artifacts/. Created if missing. (env: ENSEMBLE_DATA; default: ./ensemble-data)")
        var dataDirectory: String?

        @Option(help: "Keep the metadata in this PostgreSQL database, postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=require], instead of ensemble.sqlite in the data folder; several servers may share it (docs/DEPLOYMENT.md). The password may come from PGPASSWORD. (env: ENSEMBLE_DATABASE; default: SQLite)")
        var database: String?

        @Option(help: "Keep artifacts and stored datasets' contents in this S3-compatible bucket, s3://BUCKET[/PREFIX], instead of the data folder; several servers may share it. Credentials and endpoint come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ENDPOINT_URL (MinIO, Ceph…). (env: ENSEMBLE_ARTIFACTS; default: DATA/artifacts and DATA/blobs)")
        var artifacts: String?

        @Flag(help: "With --artifacts s3://…: the web UI's downloads and image previews send the browser straight to the bucket with a 15-minute presigned URL, and the MLflow client downloads files from the bucket in parallel ranges (1-hour URLs); browsers and clients must be able to reach the bucket's endpoint. (env: ENSEMBLE_PRESIGNED_DOWNLOADS=1)")
        var presignedDownloads = false

        @Flag(help: "With --artifacts s3://…: the MLflow client's multipart uploads (MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true) send large files' parts straight to the bucket with 4-hour presigned URLs; clients must be able to reach the bucket's endpoint. Off, they upload through Ensemble. (env: ENSEMBLE_PRESIGNED_UPLOADS=1)")
        var presignedUploads = false

        @Option(help: "Log level. (env: ENSEMBLE_LOG_LEVEL; default: info)")
        var logLevel: LogLevelOption?

        @Option(help: "Seconds a client has to send a request's head (from connecting or from the previous answer) before the connection is closed. (env: ENSEMBLE_REQUEST_HEAD_TIMEOUT; default: 15)")
        var requestHeadTimeout: Int?

        @Flag(help: "Log one line per request (method, path, status, milliseconds, user) at info level. (env: ENSEMBLE_ACCESS_LOG=1)")
        var accessLog = false

        @Option(help: "required: every request needs a token, a password or a session (roles and permissions apply); none: single-user, no checks. (env: ENSEMBLE_AUTH; default: none on a loopback address; any other address refuses to start without it)")
        var auth: AuthModeOption?

        @Option(help: "With --auth required: a member's permission on experiments, models and projects they were not granted anything on: EDIT (share by default) or READ (private to creators and grantees). (env: ENSEMBLE_DEFAULT_PERMISSION; default: EDIT)")
        var defaultPermission: String?

        @Flag(help: "Mark the session cookie Secure (when browsers reach Ensemble over HTTPS, through a TLS proxy). (env: ENSEMBLE_SECURE_COOKIES=1)")
        var secureCookies = false

        @Option(help: "Delete audit log entries older than this many days (checked hourly); 0 keeps them for ever. (env: ENSEMBLE_AUDIT_RETENTION_DAYS; default: 365)")
        var auditRetentionDays: Int?

        @Option(name: .customLong("protected-alias"), help: "An alias that means production; setting or deleting it needs MANAGE (repeatable). (default: champion, production)")
        var protectedAliases: [String] = []

        /// An on/off setting from the environment: 1, true, yes or on; 0, false, no, off or empty. Anything
        /// else stops the server with the setting's name rather than silently meaning off.
        static func switchOn(_ name: String, _ environment: [String: String]) throws -> Bool {
            switch environment[name]?.lowercased() {
            case nil, "", "0", "false", "no", "off": return false
            case "1", "true", "yes", "on": return true
            case let other?: throw ValidationError("\(name) must be 1 or 0 (true/false, yes/no, on/off), got '\(other)'.")
            }
        }

        /// A whole-number setting: the option if given, else the environment variable, else nil; a value
        /// that is not a number or is out of `range` stops the server, naming both spellings.
        static func whole(
            _ option: Int?, _ flag: String, _ name: String, _ environment: [String: String], in range: ClosedRange<Int>, unit: String
        ) throws -> Int? {
            var value = option
            if value == nil, let raw = environment[name], !raw.isEmpty {
                guard let n = Int(raw) else { throw ValidationError("\(name) must be a whole number (\(unit)), got '\(raw)'.") }
                value = n
            }
            if let value, !range.contains(value) {
                throw ValidationError("\(flag) (\(name)) must be between \(range.lowerBound) and \(range.upperBound) (\(unit)), got \(value).")
            }
            return value
        }

        func configuration(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServerConfiguration {
            var config = ServerConfiguration()
            if let host = host ?? environment["ENSEMBLE_HOST"] { config.host = host }
            if let p = try Self.whole(port, "--port", "ENSEMBLE_PORT", environment, in: 0...65535, unit: "a port number; 0 picks a free one") {
                config.port = p
            }
            if let url = database ?? environment["ENSEMBLE_DATABASE"], !url.isEmpty { config.databaseURL = url }
            if let url = artifacts ?? environment["ENSEMBLE_ARTIFACTS"], !url.isEmpty {
                guard url.hasPrefix("s3://") else {
                    throw ValidationError("--artifacts takes an S3 location, s3://BUCKET[/PREFIX], got '\(url)'. For a local folder use --data: artifacts go to DATA/artifacts.")
                }
                do {
                    _ = try S3Location(url: url, environment: environment)
                } catch {
                    throw ValidationError(error.message)
                }
                config.artifactsURL = url
            }
            config.presignedDownloads = try Self.switchOn("ENSEMBLE_PRESIGNED_DOWNLOADS", environment) || presignedDownloads
            if config.presignedDownloads, config.artifactsURL == nil {
                throw ValidationError("--presigned-downloads needs --artifacts s3://…: files in the data folder are only served by Ensemble itself.")
            }
            config.presignedUploads = try Self.switchOn("ENSEMBLE_PRESIGNED_UPLOADS", environment) || presignedUploads
            if config.presignedUploads, config.artifactsURL == nil {
                throw ValidationError("--presigned-uploads needs --artifacts s3://…: files in the data folder are only written by Ensemble itself.")
            }
            config.environment = environment
            if let data = dataDirectory ?? environment["ENSEMBLE_DATA"] {
                guard !data.isEmpty else { throw ValidationError("The data folder must not be empty; give a path such as ./ensemble-data.") }
                config.dataDirectory = data
            }
            if let level = logLevel {
                config.logLevel = Logger.Level(rawValue: level.rawValue) ?? .info
            } else if let raw = environment["ENSEMBLE_LOG_LEVEL"] {
                guard let level = Logger.Level(rawValue: raw.lowercased()) else {
                    throw ValidationError("ENSEMBLE_LOG_LEVEL must be one of \(LogLevelOption.allCases.map(\.rawValue).joined(separator: ", ")), got '\(raw)'.")
                }
                config.logLevel = level
            }
            if let seconds = try Self.whole(requestHeadTimeout, "--request-head-timeout", "ENSEMBLE_REQUEST_HEAD_TIMEOUT", environment, in: 1...3600, unit: "seconds") {
                config.requestHeadTimeoutSeconds = Int64(seconds)
            }
            config.accessLog = try Self.switchOn("ENSEMBLE_ACCESS_LOG", environment) || accessLog
            if let auth {
                config.auth = AuthMode(rawValue: auth.rawValue)
            } else if let raw = environment["ENSEMBLE_AUTH"], !raw.isEmpty {
                guard let mode = AuthMode(rawValue: raw.lowercased()) else { throw ValidationError("ENSEMBLE_AUTH must be none or required, got '\(raw)'.") }
                config.auth = mode
            }
            if let raw = defaultPermission ?? environment["ENSEMBLE_DEFAULT_PERMISSION"], !raw.isEmpty {
                guard let p = Permission(rawValue: raw.uppercased()), p != .manage else {
                    throw ValidationError("--default-permission must be READ or EDIT, got '\(raw)'.")
                }
                config.memberDefaultPermission = p
            }
            config.secureCookies = try Self.switchOn("ENSEMBLE_SECURE_COOKIES", environment) || secureCookies
            if !protectedAliases.isEmpty { config.protectedAliases = Set(protectedAliases.map { $0.lowercased() }) }
            if let days = try Self.whole(
                auditRetentionDays, "--audit-retention-days", "ENSEMBLE_AUDIT_RETENTION_DAYS", environment, in: 0...36_500, unit: "days; 0 keeps entries for ever")
            {
                config.auditRetentionDays = days
            }
            return config
        }

        func run() async throws {
            var resolved = try configuration()
            do {
                resolved.auth = try resolved.resolvedAuth()
            } catch {
                throw CLIFailure(message: error.message)
            }
            let config = resolved
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = config.logLevel
                return handler
            }
            var logger = Logger(label: "ensemble")
            logger.logLevel = config.logLevel
            let app: any ApplicationRunner
            do {
                app = try await makeServer(configuration: config, logger: logger)
            } catch let error as StorageUnavailable {
                throw CLIFailure(message: error.message)
            } catch let error as EnsembleError where config.databaseURL != nil {
                throw CLIFailure(message: "\(error.message) Check --database (or ENSEMBLE_DATABASE), and that the server accepts this user.")
            } catch {
                throw ValidationError("Could not open the data folder '\(config.dataDirectory)': \(error). Check that it is writable, or choose another with --data.")
            }
            logger.info(
                "Ensemble \(ensembleVersion) serving MLflow-compatible API",
                metadata: [
                    "address": "http://\(config.host):\(config.port)", "data": "\(config.dataDirectory)",
                    "database": "\(config.databaseURL.map(PostgresStore.redacted) ?? "sqlite")",
                    "artifacts": "\(config.artifactsURL ?? config.artifactDirectory)", "auth": "\(config.auth?.rawValue ?? "none")",
                ]
            )
            if config.auth == AuthMode.none, !config.isLoopback {
                logger.warning("AUTHENTICATION IS OFF on \(config.host): anyone who can reach port \(config.port) can read, change and delete everything (--auth none).")
            }
            if config.auth == .required, try await app.userCount() == 0 {
                let target = config.databaseURL.map { "--database '\(PostgresStore.redacted($0))'" } ?? "--data \(config.dataDirectory)"
                logger.notice("No users yet. Create the first admin, then sign in with it: ensemble admin create-user NAME --email E --admin \(target)")
            }
            try await app.run()
        }
    }
}
