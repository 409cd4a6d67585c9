import ArgumentParser
import EnsembleClient
import EnsembleCore
import EnsembleEval
import Foundation

/// Prints rows as aligned columns.
func printTable(_ header: [String], _ rows: [[String]]) {
    let widths = header.indices.map { i in max(header[i].count, rows.map { $0.count > i ? $0[i].count : 0 }.max() ?? 0) }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
    }
    print(line(header))
    for r in rows { print(line(r)) }
}

extension EnsembleClient {
    /// GET a native API path and decode it.
    func get<T: Decodable>(_ path: String, as type: T.Type = T.self) async throws -> T {
        let text = try await self.text(path)
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw ClientError("The server's answer to \(path) was not what this client expects (\(error)).")
        }
    }

}

struct TeamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "team",
        abstract: "The people on the team: list, import and export the skills spreadsheet, roles, coverage gaps.",
        subcommands: [List.self, Show.self, Import.self, Export.self, Roles.self, CoverageCommand.self]
    )

    struct PeopleAnswer: Decodable { let people: [PersonRow] }
    struct PersonRow: Decodable {
        let person: Person
        let successRate: Double?
        let freeCapacity: Double
        enum K: String, CodingKey { case success_rate, free_capacity }
        init(from decoder: any Decoder) throws {
            person = try Person(from: decoder)
            let c = try decoder.container(keyedBy: K.self)
            successRate = try c.decodeIfPresent(Double.self, forKey: .success_rate)
            freeCapacity = try c.decodeIfPresent(Double.self, forKey: .free_capacity) ?? 0
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the people with roles, top skills, free capacity and success rate.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOption

        func run() async throws {
            let client = try await server.client()
            if json { return print(try await reportingErrors { try await client.text("/api/v1/people") }) }
            let people = try await reportingErrors { try await client.get("/api/v1/people", as: PeopleAnswer.self) }.people
            if people.isEmpty { return print("Nobody yet. Import a spreadsheet with: ensemble team import people.csv (or run ensemble demo).") }
            printTable(
                ["ID", "NAME", "ROLES", "TOP SKILLS", "FREE", "SUCCESS"],
                people.map { r in
                    let p = r.person
                    let top = p.skills.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(3).map { "\($0.key):\($0.value)" }
                    return [p.id, p.name, p.roles.joined(separator: ","), top.joined(separator: " "), String(format: "%.0f%%", r.freeCapacity * 100),
                            r.successRate.map { String(format: "%.0f%%", $0 * 100) } ?? "-"]
                })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one person (JSON).")
        @Argument(help: "Person id.") var id: String
        @OptionGroup var server: ServerOption
        func run() async throws {
            let client = try await server.client()
            print(try await reportingErrors { try await client.text("/api/v1/people/\(EnsembleClient.escape(id))") })
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import the team spreadsheet (CSV, one row per person).",
            discussion: """
                Columns: name, email (required), id, roles, skills, expertise, learning_goals, capacity, assignments, history.
                Lists use ';': roles 'data-scientist;ml-engineer', skills 'python:4;sql:3', assignments 'churn:0.5',
                history 'old-churn:delivered:churn|tabular'. Every row is checked first; any bad row (reported with its
                line number) means nothing is imported, unless --skip-invalid imports the good ones.
                """)
        @Argument(help: "CSV file.") var file: String
        @Flag(help: "Import the valid rows and report the others.") var skipInvalid = false
        @OptionGroup var server: ServerOption

        func run() async throws {
            let client = try await server.client()
            let roles = Set(try await reportingErrors { try await client.get("/api/v1/roles", as: RolesAnswer.self) }.roles.map(\.id))
            var people: [Person] = [], problems: [String] = []
            do {
                let probe = try TableReader(path: file, format: .csv, columns: [])
                let available = TeamSpreadsheet.columns.filter { probe.header.contains($0) }
                for required in ["name", "email"] where !available.contains(required) {
                    throw InputError(message: "\(file) has no '\(required)' column. Its columns are: \(probe.header.joined(separator: ", ")).")
                }
                let reader = try TableReader(path: file, format: .csv, columns: available)
                var ids: [String: Int] = [:], emails: [String: Int] = [:]
                while try reader.nextRow() {
                    var row: [String: String] = [:]
                    for (i, c) in available.enumerated() { row[c] = reader.string(i) }
                    do {
                        let p = try TeamSpreadsheet.person(from: row)
                        try p.validate(knownRoles: roles)
                        if let other = ids[p.id] { throw EnsembleError.invalid("id: '\(p.id)' is also on line \(other).") }
                        if let other = emails[p.email] { throw EnsembleError.invalid("email: '\(p.email)' is also on line \(other).") }
                        ids[p.id] = reader.line
                        emails[p.email] = reader.line
                        people.append(p)
                    } catch let error as EnsembleError {
                        problems.append("\(file):\(reader.line): \(error.message)")
                    }
                }
            } catch let error as InputError {
                throw CLIFailure(message: error.message)
            }
            for p in problems { FileHandle.standardError.write(Data((p + "\n").utf8)) }
            if !problems.isEmpty && !skipInvalid {
                throw CLIFailure(message: "\(problems.count) invalid row(s); nothing was imported. Fix them, or pass --skip-invalid to import the \(people.count) valid row(s).")
            }
            guard !people.isEmpty else { throw CLIFailure(message: "No valid rows in \(file); nothing was imported.") }
            struct Body: Encodable { let people: [Person] }
            let body = String(decoding: try JSONEncoder().encode(Body(people: people)), as: UTF8.self)
            _ = try await reportingErrors { try await client.request("POST", "/api/v1/people/import", json: body) }
            print("Imported \(people.count) person(s)" + (problems.isEmpty ? "." : "; skipped \(problems.count) invalid row(s)."))
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Export the team as the spreadsheet layout import reads (CSV to stdout or a file).")
        @Argument(help: "Output file (default: standard output).") var file: String?
        @OptionGroup var server: ServerOption
        func run() async throws {
            let client = try await server.client()
            let people = try await reportingErrors { try await client.get("/api/v1/people", as: PeopleAnswer.self) }.people.map(\.person)
            var text = TeamSpreadsheet.columns.joined(separator: ",") + "\n"
            for p in people { text += TeamSpreadsheet.row(of: p).map(TeamSpreadsheet.csvField).joined(separator: ",") + "\n" }
            if let file {
                try Data(text.utf8).write(to: URL(fileURLWithPath: file))
                print("Exported \(people.count) person(s) to \(file).")
            } else {
                print(text, terminator: "")
            }
        }
    }

    struct RolesAnswer: Decodable { let roles: [Role] }

    struct Roles: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the role catalog: stages each role leads or supports, and its skills.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOption
        func run() async throws {
            let client = try await server.client()
            if json { return print(try await reportingErrors { try await client.text("/api/v1/roles") }) }
            let roles = try await reportingErrors { try await client.get("/api/v1/roles", as: RolesAnswer.self) }.roles
            printTable(["ROLE", "LEADS", "SUPPORTS", "SKILLS"], roles.map {
                [$0.id, $0.leads.map(\.rawValue).joined(separator: ","), $0.supports.map(\.rawValue).joined(separator: ","), $0.skills.joined(separator: ", ")]
            })
        }
    }

    struct CoverageCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "coverage", abstract: "Stages and skills covered by nobody or one person, and missing roles.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var server: ServerOption
        func run() async throws {
            let client = try await server.client()
            let text = try await reportingErrors { try await client.text("/api/v1/coverage") }
            if json { return print(text) }
            struct Gap: Decodable { let subject: String, people: [String], severity: String }
            struct Answer: Decodable { let stages: [Gap], skills: [Gap], missing_roles: [String] }
            let a = try JSONDecoder().decode(Answer.self, from: Data(text.utf8))
            func show(_ title: String, _ gaps: [Gap]) {
                print(title)
                if gaps.isEmpty { print("  none") }
                for g in gaps { print("  \(g.subject): " + (g.people.isEmpty ? "nobody" : "only \(g.people.joined(separator: ", ")) (bus factor 1)")) }
            }
            show("Lifecycle stages with nobody or one person:", a.stages)
            show("Skills (level 3+) with nobody or one person:", a.skills)
            print("Roles nobody holds: " + (a.missing_roles.isEmpty ? "none" : a.missing_roles.joined(separator: ", ")))
        }
    }
}
