import ArgumentParser
import EnsembleClient
import EnsembleCore
import Foundation

/// `ensemble handoff`: hand a model from the person who built it to the person who will run it,
/// with a contract and evaluation sets whose claims the server recomputes.
struct HandoffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handoff",
        abstract: "Hand a model over with its contract and evaluation sets; the server recomputes every claim.",
        discussion: """
            Examples:
              ensemble handoff submit handoff.json          (uploads the predictions files, creates and submits)
              ensemble handoff submit handoff.json --id 4   (after fixing a refused or returned handoff)
              ensemble handoff list --to bob --status submitted
              ensemble handoff show 4
              ensemble handoff accept 4 --comment "serving it from Monday"
              ensemble handoff return 4 --reason "latency measured on a GPU we do not have in production"
            The file format is in docs/HANDOFF.md.
            """,
        subcommands: [Submit.self, Show.self, List.self, Accept.self, Return.self, Comment.self]
    )

    struct Answer: Decodable { let handoffs: [Handoff] }

    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create (or, with --id, update) a handoff from a JSON file and submit it. Exit 1 when it is refused.")
        @Argument(help: "The handoff JSON (paths of predictions files are relative to it).") var file: String
        @Option(help: "Update this draft or returned handoff instead of creating one.") var id: Int64?
        @Flag(help: "Save it as a draft without submitting.") var draft = false
        @Flag(help: "Print the stored handoff as JSON.") var json = false
        @OptionGroup var server: ServerOption

        func run() async throws {
            let client = try await server.client()
            var document = try Self.read(file)
            let transfer = DatasetTransfer(client: client)
            let base = URL(fileURLWithPath: file).deletingLastPathComponent()
            if var sets = document["sets"] as? [[String: Any]] {
                for i in sets.indices {
                    guard let path = sets[i]["predictions"] as? String else { continue }
                    let resolved = path.hasPrefix("/") ? path : base.appendingPathComponent(path).path
                    if !json { FileHandle.standardError.write(Data("uploading \(path)\n".utf8)) }
                    let (sha, size) = try await reportingErrors { try await transfer.uploadFile(resolved) }
                    sets[i]["predictions"] = ["sha256": sha, "size": size, "name": URL(fileURLWithPath: path).lastPathComponent]
                }
                document["sets"] = sets
            }
            let body = String(decoding: try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]), as: UTF8.self)
            let targetID = id ?? (document["id"] as? NSNumber)?.int64Value
            var stored: Handoff
            if let targetID {
                stored = try await reportingErrors { try decode(try await client.request("PUT", "/api/v1/handoffs/\(targetID)", json: body)) }
            } else {
                stored = try await reportingErrors { try decode(try await client.request("POST", "/api/v1/handoffs", json: body)) }
                if !json { print("Created handoff #\(stored.id) (draft).") }
            }
            if !stored.prefilled.isEmpty && !json {
                print("Filled from the model: \(stored.prefilled.joined(separator: ", ")).")
            }
            if draft {
                if json { print(try await client.text("/api/v1/handoffs/\(stored.id)")) }
                return
            }
            do {
                stored = try decode(try await client.request("POST", "/api/v1/handoffs/\(stored.id)/submit", json: "{}"))
            } catch let e as ClientError where e.status == 400 {
                let checked = try await reportingErrors { try await client.get("/api/v1/handoffs/\(stored.id)", as: Handoff.self) }
                if json {
                    print(try await client.text("/api/v1/handoffs/\(stored.id)"))
                } else {
                    printChecks(checked)
                }
                FileHandle.standardError.write(Data("""
                    Handoff #\(stored.id) was not submitted:
                    \((checked.checks?.problems ?? [e.message]).map { "  - " + $0 }.joined(separator: "\n"))
                    Fix \(file) and run: ensemble handoff submit \(file) --id \(stored.id)

                    """.utf8))
                throw ExitCode(1)
            }
            if json { return print(try await client.text("/api/v1/handoffs/\(stored.id)")) }
            printChecks(stored)
            print("Submitted handoff #\(stored.id) to \(stored.receiver).")
        }

        static func read(_ file: String) throws -> [String: Any] {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("Cannot read '\(file)'.") }
            guard let object = try? JSONSerialization.jsonObject(with: data), let document = object as? [String: Any] else {
                throw ValidationError("'\(file)' is not a JSON object; see docs/HANDOFF.md for the format.")
            }
            return document
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a handoff: contract, claims against their recomputation, targets, history.")
        @Argument var id: Int64
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOption
        func run() async throws {
            let client = try await server.client()
            let path = "/api/v1/handoffs/\(id)"
            if json { return print(try await reportingErrors { try await client.text(path) }) }
            let h = try await reportingErrors { try await client.get(path, as: Handoff.self) }
            print("#\(h.id) \(h.title)  [\(h.status.rawValue)]")
            print("model \(h.model)  from \(h.sender) to \(h.receiver)" + (h.project.map { "  project \($0)" } ?? ""))
            print("")
            let rows = (HandoffContract.fields + h.contract.extra.keys.sorted()).compactMap { f in
                h.contract.value(of: f).map { [f, $0, h.prefilled.contains(f) ? "from the model" : ""] }
            }
            if !rows.isEmpty { printTable(["CONTRACT", "VALUE", ""], rows) }
            print("")
            printChecks(h)
            print("")
            printTable(["WHEN", "WHO", "WHAT", ""], h.events.map { [formatTime($0.at), $0.by ?? "-", $0.kind, $0.text] })
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List handoffs, newest first (a receiver's inbox with --to NAME --status submitted).")
        @Option(help: "Only handoffs to this user.") var to: String?
        @Option(name: .customLong("from"), help: "Only handoffs from this user.") var sender: String?
        @Option(help: "Only this project's handoffs.") var project: String?
        @Option(help: "Only this status: draft, submitted, accepted, returned.") var status: String?
        @Option(help: "Only handoffs of this model URI (models:/NAME/VERSION).") var model: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOption
        func run() async throws {
            let client = try await server.client()
            let query = [("to", to), ("from", sender), ("project", project), ("status", status), ("model", model)]
                .compactMap { k, v in v.map { "\(k)=\(EnsembleClient.escape($0))" } }
            let path = "/api/v1/handoffs" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
            if json { return print(try await reportingErrors { try await client.text(path) }) }
            let list = try await reportingErrors { try await client.get(path, as: Answer.self) }.handoffs
            if list.isEmpty { return print("No handoffs match. Create one with: ensemble handoff submit handoff.json") }
            printTable(["ID", "STATUS", "MODEL", "FROM", "TO", "PROJECT", "CHECKS", "TITLE"], list.map { h in
                [String(h.id), h.status.rawValue, h.model, h.sender, h.receiver, h.project ?? "-", checksSummary(h), h.title]
            })
        }
    }

    struct Accept: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accept a submitted handoff (its receiver, or an admin).")
        @Argument var id: Int64
        @Option(help: "A note for the sender.") var comment: String?
        @OptionGroup var server: ServerOption
        func run() async throws {
            let client = try await server.client()
            let body = String(decoding: try JSONSerialization.data(withJSONObject: ["comment": comment ?? ""]), as: UTF8.self)
            let h: Handoff = try await reportingErrors { try decode(try await client.request("POST", "/api/v1/handoffs/\(id)/accept", json: body)) }
            print("Accepted handoff #\(h.id) (\(h.model)) from \(h.sender).")
        }
    }

    struct Return: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a submitted handoff back to its sender with the reason.")
        @Argument var id: Int64
        @Option(help: "What the sender must fix.") var reason: String
        @OptionGroup var server: ServerOption
        func run() async throws {
            let client = try await server.client()
            let body = String(decoding: try JSONSerialization.data(withJSONObject: ["reason": reason]), as: UTF8.self)
            let h: Handoff = try await reportingErrors { try decode(try await client.request("POST", "/api/v1/handoffs/\(id)/return", json: body)) }
            print("Returned handoff #\(h.id) to \(h.sender).")
        }
    }

    struct Comment: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Comment on a handoff (the conversation goes on after deployment).")
        @Argument var id: Int64
        @Argument var text: String
        @Option(help: "Who is commenting (without authentication).") var by: String?
        @OptionGroup var server: ServerOption
        func run() async throws {
            let client = try await server.client()
            var fields = ["text": text]
            if let by { fields["by"] = by }
            let body = String(decoding: try JSONSerialization.data(withJSONObject: fields), as: UTF8.self)
            let _: Handoff = try await reportingErrors { try decode(try await client.request("POST", "/api/v1/handoffs/\(id)/comments", json: body)) }
            print("Commented on handoff #\(id).")
        }
    }
}

private func decode(_ text: String) throws -> Handoff {
    do {
        return try JSONDecoder().decode(Handoff.self, from: Data(text.utf8))
    } catch {
        throw CLIFailure(message: "The server's answer is not a handoff: \(error)")
    }
}

private func checksSummary(_ h: Handoff) -> String {
    guard let c = h.checks else { return "not checked" }
    if c.passed { return "\(c.claims.filter { $0.outcome == .ok }.count) ok" + (c.claims.contains { $0.outcome == .unverified } ? ", some unverified" : "") }
    return "\(c.problems.count) problem(s)"
}

private func printChecks(_ h: Handoff) {
    guard let c = h.checks else { return print("Not checked yet (it is checked on submit).") }
    if !c.claims.isEmpty {
        printTable(["SET", "METRIC", "CLAIMED", "RECOMPUTED", "DIFFERENCE", "TOLERANCE", "OUTCOME"], c.claims.map { k in
            [k.set, k.metric, ClaimCheck.format(k.claimed), k.recomputed.map(ClaimCheck.format) ?? "-", k.difference.map(ClaimCheck.format) ?? "-",
             ClaimCheck.format(k.tolerance), k.outcome.rawValue + (k.note.map { ": " + $0 } ?? "")]
        })
    }
    if !c.targets.isEmpty {
        print("")
        printTable(["PROJECT METRIC", "SET", "VALUE", "BASELINE", "TARGET", "MEETS TARGET"], c.targets.map { t in
            [t.metric, t.set ?? "-", t.value.map(ClaimCheck.format) ?? "-", t.baseline.map(ClaimCheck.format) ?? "-", t.target.map(ClaimCheck.format) ?? "-",
             t.meetsTarget.map { $0 ? "yes" : "no" } ?? "?"]
        })
    }
    for m in c.missing { print("missing: \(m)") }
}

private func formatTime(_ ms: Int64) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = "yyyy-MM-dd HH:mm"
    return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
}
