import ArgumentParser
import EnsembleCore
import EnsembleServer
import EnsemblePostgres
import EnsembleStore
import Foundation

/// `ensemble admin …`: accounts and tokens, offline on the data folder (bootstrap and recovery).
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Create users and tokens directly in a data folder (first admin, recovery). Works with the server running or stopped.",
        subcommands: [CreateUser.self, CreateToken.self, ListUsers.self, SetPassword.self, Audit.self]
    )

    /// `--data` or `--database`, shared by the admin commands.
    struct DataOption: ParsableArguments {
        @Option(name: .customLong("data"), help: "The server's data folder. (env: ENSEMBLE_DATA; default: ./ensemble-data)")
        var dataDirectory: String?

        @Option(help: "The server's PostgreSQL database, when it runs with --database. (env: ENSEMBLE_DATABASE)")
        var database: String?

        func store() async throws -> any MetadataStore {
            if let url = database ?? ProcessInfo.processInfo.environment["ENSEMBLE_DATABASE"], !url.isEmpty {
                do {
                    return try await PostgresStore.open(url: url)
                } catch let error as EnsembleError {
                    throw CLIFailure(message: "\(error.message) Give the server's database with --database.")
                }
            }
            let dir = dataDirectory ?? ProcessInfo.processInfo.environment["ENSEMBLE_DATA"] ?? "./ensemble-data"
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                return try SQLiteStore(path: dir + "/ensemble.sqlite")
            } catch {
                throw CLIFailure(message: "Cannot open the data folder '\(dir)': \(error). Give the server's folder with --data.")
            }
        }
    }

    /// A password from standard input (one line), or asked for twice on a terminal without echo.
    static func readPassword(fromStdin: Bool, confirm: Bool = true) throws -> String {
        if fromStdin {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw CLIFailure(message: "No password on standard input.") }
            return line
        }
        guard isatty(0) == 1 else { throw CLIFailure(message: "Give the password with --password-stdin (standard input is not a terminal).") }
        let first = String(cString: getpass(confirm ? "Password (at least 12 characters): " : "Password: "))
        guard confirm else { return first }
        let second = String(cString: getpass("Again: "))
        guard first == second else { throw CLIFailure(message: "The two passwords differ; nothing was changed.") }
        return first
    }

    static func failing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as EnsembleError {
            throw CLIFailure(message: error.message)
        }
    }

    struct CreateUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-user",
            abstract: "Create an account (asks for the password unless --password-stdin or --service-account).",
            discussion: """
                Examples:
                  ensemble admin create-user ana --email ana@example.com --admin --data ./ensemble-data
                  echo "$PASSWORD" | ensemble admin create-user bo --email bo@example.com --password-stdin
                  ensemble admin create-user ci-nightly --service-account --role member
                """)
        @Argument(help: "User name: letters, digits, '.', '_', '-', '@'.") var name: String
        @Option(help: "E-mail address.") var email: String = ""
        @Option(help: "Name shown on pages (default: the user name).") var displayName: String = ""
        @Option(help: "viewer, member or admin.") var role: String = "member"
        @Flag(help: "Same as --role admin.") var admin = false
        @Flag(help: "No password: the account authenticates with API tokens only (for CI).") var serviceAccount = false
        @Flag(help: "Read the password from the first line of standard input.") var passwordStdin = false
        @Option(help: "Link the account to this person of the team directory.") var person: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var data: DataOption

        func run() async throws {
            guard let parsedRole = InstanceRole(rawValue: admin ? "admin" : role) else {
                throw ValidationError("--role must be viewer, member or admin; got '\(role)'.")
            }
            let store = try await data.store()
            let user = User(name: name, displayName: displayName, email: email, role: parsedRole, isServiceAccount: serviceAccount, personID: person)
            try await failing { try User.validateName(name) }
            let password = serviceAccount ? nil : try AdminCommand.readPassword(fromStdin: passwordStdin)
            let created = try await failing { try await AccountAdmin.createUser(user, password: password, store: store) }
            try await store.appendAudit([AuditEvent(at: Int64(Date().timeIntervalSince1970 * 1000), actor: nil, action: "user.created", target: "user \(created.name)", detail: "by ensemble admin (offline), role \(created.role.rawValue)")])
            if json {
                print("{\"name\": \"\(created.name)\", \"role\": \"\(created.role.rawValue)\", \"service_account\": \(created.isServiceAccount)}")
            } else {
                print("Created \(created.isServiceAccount ? "service account" : "user") '\(created.name)' (\(created.role.rawValue)).")
                if created.isServiceAccount { print("Give it a token: ensemble admin create-token \(created.name) --name ci") }
            }
        }
    }

    struct CreateToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-token",
            abstract: "Create an API token for a user and print it once (use it as MLFLOW_TRACKING_TOKEN or ENSEMBLE_TOKEN).")
        @Argument(help: "The user (or service account) the token acts as.") var user: String
        @Option(name: .customLong("name"), help: "What the token is for, e.g. laptop or ci-nightly.") var label: String = ""
        @Option(help: "Lifetime: 30m, 12h, 90d, 1y. Default: no expiry.") var expiresIn: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var data: DataOption

        func run() async throws {
            let store = try await data.store()
            let (secret, token) = try await failing { try await AccountAdmin.createToken(user: user, label: label, expiresIn: expiresIn, store: store) }
            try await store.appendAudit([AuditEvent(at: token.createdAt, actor: nil, action: "token.created", target: "token \(token.id) of \(user)", detail: "by ensemble admin (offline), \(token.hint)")])
            if json {
                print("{\"token\": \"\(secret)\", \"id\": \(token.id), \"user\": \"\(user)\", \"expires_at\": \(token.expiresAt.map(String.init) ?? "null")}")
            } else {
                print(secret)
                FileHandle.standardError.write(Data("Token \(token.id) for '\(user)' created. It is shown only this once; Ensemble keeps only its hash.\n".utf8))
            }
        }
    }

    struct ListUsers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "users", abstract: "List the accounts.")
        @OptionGroup var data: DataOption

        func run() async throws {
            let users = try await data.store().users()
            if users.isEmpty { print("No users. Create the first admin: ensemble admin create-user NAME --email E --admin"); return }
            printTable(
                ["NAME", "ROLE", "KIND", "STATE", "EMAIL"],
                users.map { [$0.name, $0.role.rawValue, $0.isServiceAccount ? "service" : "person", $0.disabled ? "disabled" : "active", $0.email] })
        }
    }

    struct SetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-password", abstract: "Set a user's password (recovery); signs out their sessions and voids cached checks.")
        @Argument var user: String
        @Flag(help: "Read the password from the first line of standard input.") var passwordStdin = false
        @OptionGroup var data: DataOption

        func run() async throws {
            let store = try await data.store()
            let password = try AdminCommand.readPassword(fromStdin: passwordStdin)
            try await failing {
                try User.validatePassword(password)
                try await store.setPassword(user: user, hash: try await AccountAdmin.hashPassword(password))
            }
            try await store.appendAudit([AuditEvent(at: Int64(Date().timeIntervalSince1970 * 1000), actor: nil, action: "user.password_changed", target: "user \(user)", detail: "by ensemble admin (offline)")])
            print("Password of '\(user)' changed.")
        }
    }

    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "audit", abstract: "Show the newest audit log entries.")
        @Option(help: "Only this user's actions.") var actor: String?
        @Option(help: "Only actions starting with this (token., auth., POST /api/2.0/mlflow/registered-models).") var action: String?
        @Option(help: "How many.") var limit: Int = 50
        @Flag(help: "Print JSON Lines.") var json = false
        @OptionGroup var data: DataOption

        func run() async throws {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10000.") }
            let events = try await data.store().audit(AuditQuery(actor: actor, actionPrefix: action, limit: limit))
            try AuditOutput.print(events, json: json)
        }
    }
}
