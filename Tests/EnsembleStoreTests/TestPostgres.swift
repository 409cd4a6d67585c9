import EnsembleCore
import EnsemblePostgres
import EnsembleStore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One implementation of a store protocol under test, named in the test's arguments.
struct Backend<Store>: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable () async throws -> Store
    var testDescription: String { name }

    /// SQLite and PostgreSQL, for a protocol both implement (`{ $0 }` twice: each store as the protocol).
    static func sqliteAndPostgres(_ sqlite: @escaping @Sendable (SQLiteStore) -> Store, _ postgres: @escaping @Sendable (PostgresStore) -> Store) -> [Backend] {
        [
            Backend(name: "SQLite") {
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-store-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                return sqlite(try SQLiteStore(path: dir.appendingPathComponent("db.sqlite").path))
            },
            Backend(name: "PostgreSQL") { postgres(try await TestPostgres.store()) },
        ]
    }
}

/// A real PostgreSQL for the contract suites, started once per test process from the server binaries
/// of Debian's packages: `initdb` into a temporary folder (as the `postgres` user when the tests run
/// as root, since PostgreSQL refuses root), a free loopback port, trust authentication, no fsync (the
/// data is thrown away), stopped and removed when the process exits. Each test gets a new database.
enum TestPostgres {
    struct Server {
        let bin: String
        let folder: String
        let port: Int
        var url: String { "postgresql://ensemble@127.0.0.1:\(port)" }
    }

    static let server: Result<Server, any Error> = Result { try start() }
    nonisolated(unsafe) static var stopCommand: [String] = []
    nonisolated(unsafe) static var folderToRemove = ""

    /// Small pools and a patient start: the whole test process opens a few hundred stores, all
    /// while other suites keep both cores busy.
    static var settings: PostgresStore.Settings {
        var s = PostgresStore.Settings()
        s.maximumConnections = 3
        s.connectTimeoutSeconds = 120
        return s
    }

    /// A store on a new, migrated database with no data in it.
    static func store() async throws -> PostgresStore {
        try await PostgresStore.open(url: try await database(migrated: true), settings: settings)
    }

    /// A database every migration has been applied to, made once (by the first test that asks) and
    /// copied by `createdb --template` for each test: a file copy instead of the migrations again.
    actor Template {
        private var making: Task<String, any Error>?
        func name() async throws -> String {
            if let making { return try await making.value }
            let task = Task<String, any Error> {
                let url = try await TestPostgres.database(migrated: false)
                let store = try await PostgresStore.open(url: url, settings: TestPostgres.settings)
                await store.close()
                return String(url.split(separator: "/").last!)
            }
            making = task
            return try await task.value
        }
    }

    static let template = Template()

    /// The URL of a new database: empty (`migrated: false`), or a copy of the migrated template.
    static func database(migrated: Bool = false) async throws -> String {
        let server = try server.get()
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let template = migrated ? ["--template", try await self.template.name()] : []
        try run([server.bin + "/createdb", "-h", "127.0.0.1", "-p", String(server.port), "-U", "ensemble"] + template + [name], asPostgres: false)
        return server.url + "/" + name
    }

    static func start() throws -> Server {
        let candidates = ["17", "16", "15"].map { "/usr/lib/postgresql/\($0)/bin" }
        guard let bin = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") }) else {
            throw EnsembleError(.internalError, "No PostgreSQL server binaries in \(candidates.joined(separator: ", ")): install Debian's postgresql package.")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-pg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if getuid() == 0 { try run(["/bin/chown", "postgres:postgres", folder], asPostgres: false) }
        let port = freePort()
        try run([bin + "/initdb", "-D", folder + "/data", "-U", "ensemble", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], asPostgres: true)
        let options = "-p \(port) -k \(folder) -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=1000 -c shared_buffers=64MB"
        try run([bin + "/pg_ctl", "-D", folder + "/data", "-l", folder + "/log", "-o", options, "-w", "-t", "60", "start"], asPostgres: true)
        stopCommand = (getuid() == 0 ? ["/sbin/runuser", "-u", "postgres", "--"] : []) + [bin + "/pg_ctl", "-D", folder + "/data", "-m", "immediate", "-w", "stop"]
        folderToRemove = folder
        atexit {
            try? TestPostgres.run(TestPostgres.stopCommand, asPostgres: false)
            try? FileManager.default.removeItem(atPath: TestPostgres.folderToRemove)
        }
        return Server(bin: bin, folder: folder, port: port)
    }

    /// Runs a command to its end; its output is in the error when it fails. posix_spawn and waitpid,
    /// not Foundation's Process: its waitUntilExit never returned for `pg_ctl start`, whose server
    /// lives on after it.
    static func run(_ command: [String], asPostgres: Bool) throws {
        let full = asPostgres && getuid() == 0 ? ["/sbin/runuser", "-u", "postgres", "--"] + command : command
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-pg-cmd-\(UUID().uuidString)").path
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = full.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, full[0], &actions, nil, argv, environ)
        guard spawned == 0 else { throw EnsembleError(.internalError, "Cannot run \(full[0]): \(String(cString: strerror(spawned))).") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = (status & 0x7f) == 0, code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            throw EnsembleError(.internalError, "\(full.joined(separator: " ")) failed (status \(status)): \(text.suffix(2000))")
        }
    }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
