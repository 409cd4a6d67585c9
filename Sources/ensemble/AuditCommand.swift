import ArgumentParser
import EnsembleClient
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

    struct Page: Decodable {
        struct Event: Codable {
            let id: Int64
            let at: Int64
            let actor: String?
            let action: String
            let target: String
            let status: Int
            let requestId: String?
            let client: String?
            let detail: String
        }
        let events: [Event]
    }

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
        let page: Page = try await reportingErrors { try await client.json(.GET, "/api/v1/audit?" + query.joined(separator: "&")) }
        let iso = ISO8601DateFormatter()
        for e in page.events {
            if json {
                let encoder = JSONEncoder()
                encoder.keyEncodingStrategy = .convertToSnakeCase
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(e), as: UTF8.self))
            } else {
                let when = iso.string(from: Date(timeIntervalSince1970: Double(e.at) / 1000))
                print("\(when)  \(e.actor ?? "-")  \(e.status)  \(e.action)  \(e.target)\(e.detail.isEmpty ? "" : "  (\(e.detail))")")
            }
        }
        if page.events.isEmpty, !json { print("Nothing recorded that matches.") }
    }
}
