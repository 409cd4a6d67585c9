import ArgumentParser
import EnsembleClient
import EnsembleCore
import Foundation

/// `ensemble audit`: the audit log of a running server (admins), newest first.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show a server's audit log (every write and security event), newest first. Needs an admin's token.",
        discussion: """
            Examples:
              ensemble audit --actor ana --limit 20
              ensemble audit --action token. --json
              ensemble audit --action "POST /api/2.0/mlflow/registered-models" --since 2026-12-01
            Offline, on the data folder: ensemble admin audit.
            """)

    @Option(help: "Only this user's actions.") var actor: String?
    @Option(help: "Only actions starting with this (token., auth., user., POST /api/2.0/mlflow/runs).") var action: String?
    @Option(help: "Only events from this day on (YYYY-MM-DD, UTC).") var since: String?
    @Option(help: "How many (1-1000).") var limit: Int = 50
    @Flag(help: "Print JSON Lines.") var json = false
    @OptionGroup var server: ServerOption

    func run() async throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000.") }
        var query = ["limit=\(limit)"]
        if let actor { query.append("actor=" + EnsembleClient.escape(actor)) }
        if let action { query.append("action=" + EnsembleClient.escape(action)) }
        if let since {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "UTC")
            f.dateFormat = "yyyy-MM-dd"
            guard let day = f.date(from: since) else { throw ValidationError("--since is a day like 2026-12-01; got '\(since)'.") }
            query.append("since=\(Int64(day.timeIntervalSince1970 * 1000))")
        }
        let client = try await server.client()
        struct Page: Decodable { let events: [AuditEvent] }
        let text = try await reportingErrors { try await client.text("/api/v1/audit?" + query.joined(separator: "&")) }
        guard let page = try? JSONDecoder().decode(Page.self, from: Data(text.utf8)) else {
            throw CLIFailure(message: "The server's audit answer was not what this client expects. Are the client and server the same version?")
        }
        try AuditOutput.print(page.events, json: json)
        if page.events.isEmpty, !json { print("Nothing recorded that matches.") }
    }
}

/// Audit events as lines for people, or JSON Lines (`ensemble audit` and `ensemble admin audit`).
enum AuditOutput {
    static func print(_ events: [AuditEvent], json: Bool) throws {
        let iso = ISO8601DateFormatter()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for e in events {
            if json {
                Swift.print(String(decoding: try encoder.encode(e), as: UTF8.self))
            } else {
                let when = iso.string(from: Date(timeIntervalSince1970: Double(e.at) / 1000))
                Swift.print("\(when)  \(e.actor ?? "-")  \(e.status)  \(e.action)  \(e.target)\(e.detail.isEmpty ? "" : "  (\(e.detail))")")
            }
        }
    }
}
