import ArgumentParser
import EnsembleClient
import Foundation

/// `--server`, shared by every command that talks to a running server.
struct ServerOption: ParsableArguments {
    @Option(name: .long, help: "Ensemble server URL. (env: ENSEMBLE_SERVER, else an http(s) MLFLOW_TRACKING_URI; default: http://127.0.0.1:5000)")
    var server: String?

    /// A client for the server, after checking that it answers.
    func client() async throws -> EnsembleClient {
        let client: EnsembleClient
        do {
            client = try EnsembleClient(server: server ?? EnsembleClient.defaultServer())
        } catch {
            throw ValidationError(error.message)
        }
        try await reportingErrors { try await client.ping() }
        return client
    }
}

/// Prints a one-line progress display on standard error: rewritten in place on a terminal, a line
/// every few seconds otherwise (CI logs).
final class ProgressLine: @unchecked Sendable {
    private let lock = NSLock()
    private let interactive = isatty(2) == 1
    private var lastPrint = Date.distantPast
    private var lastLength = 0
    private let quiet: Bool

    init(quiet: Bool = false) {
        self.quiet = quiet
    }

    func update(_ p: TransferProgress) {
        guard !quiet else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        let complete = p.phase == .reading ? p.bytesDone >= p.bytesTotal : p.filesDone == p.filesTotal
        guard complete || now.timeIntervalSince(lastPrint) >= (interactive ? 0.1 : 5) else { return }
        lastPrint = now
        let percent = p.bytesTotal > 0 ? Int(Double(p.bytesDone) * 100 / Double(p.bytesTotal)) : 100
        let files = p.phase == .reading ? "\(p.filesDone) rows, " : "\(p.filesDone)/\(p.filesTotal) files, "
        let line = "\(p.phase.rawValue): \(files)\(Self.bytes(p.bytesDone)) of \(Self.bytes(p.bytesTotal)) (\(percent)%)"
        if interactive {
            let pad = max(0, lastLength - line.count)
            FileHandle.standardError.write(Data(("\r" + line + String(repeating: " ", count: pad) + (complete ? "\n" : "")).utf8))
            lastLength = complete ? 0 : line.count
        } else {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    static func bytes(_ n: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(n)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
    }
}

/// Turns a client failure into the message ArgumentParser prints, with exit code 1.
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as ClientError {
        throw CLIFailure(message: error.message)
    }
}

struct CLIFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
