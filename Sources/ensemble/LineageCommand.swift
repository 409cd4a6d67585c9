import ArgumentParser
import EnsembleClient
import EnsembleCore
import Foundation

struct LineageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lineage",
        abstract: "Print the lineage graph around a model version, logged model, run or dataset version.",
        discussion: """
            Give exactly one start:
              models:/NAME/VERSION or models:/NAME@ALIAS   a registered model version
              models:/m-…                                  a logged model
              runs:/RUN_ID                                 a run
              datasets:/NAME@VERSION                       a dataset version added with 'ensemble dataset add'
            Examples:
              ensemble lineage models:/churn@champion
              ensemble lineage models:/churn/3 --format dot | dot -Tsvg > lineage.svg
            """
    )

    @Argument(help: "What to start from (see below).") var start: String
    @Option(help: "json or dot (Graphviz).") var format: Format = .json
    @OptionGroup var server: ServerOption

    enum Format: String, ExpressibleByArgument, CaseIterable { case json, dot }

    /// The `/api/v1/lineage` query for a start like `models:/churn@champion`.
    static func query(for start: String) throws -> String {
        func q(_ s: String) -> String { EnsembleClient.escape(s) }
        if start.hasPrefix("models:/") {
            let rest = String(start.dropFirst("models:/".count))
            if rest.hasPrefix("m-"), !rest.contains("/") { return "logged_model=\(q(rest))" }
            if let at = rest.lastIndex(of: "@") {
                let name = String(rest[..<at]), alias = String(rest[rest.index(after: at)...])
                guard !name.isEmpty, !alias.isEmpty else { throw ValidationError("Write a model alias as models:/NAME@ALIAS.") }
                return "model=\(q(name))&alias=\(q(alias))"
            }
            if let slash = rest.lastIndex(of: "/"), let version = Int64(rest[rest.index(after: slash)...]), version > 0 {
                return "model=\(q(String(rest[..<slash])))&version=\(version)"
            }
            throw ValidationError("'\(start)' names no model version; use models:/NAME/VERSION, models:/NAME@ALIAS or models:/m-ID.")
        }
        if start.hasPrefix("runs:/") {
            let id = start.dropFirst("runs:/".count).split(separator: "/").first.map(String.init) ?? ""
            guard !id.isEmpty else { throw ValidationError("Write a run as runs:/RUN_ID.") }
            return "run=\(q(id))"
        }
        if start.hasPrefix("datasets:/") {
            let (name, version) = try parseDatasetReference(String(start.dropFirst("datasets:/".count)))
            guard let version else { throw ValidationError("Give the dataset version: datasets:/NAME@VERSION.") }
            return "dataset=\(q(name))&version=\(version)"
        }
        throw ValidationError("Start from models:/NAME/VERSION, models:/NAME@ALIAS, models:/m-ID, runs:/RUN_ID or datasets:/NAME@VERSION; got '\(start)'.")
    }

    func run() async throws {
        let query = try Self.query(for: start)
        let client = try await server.client()
        let text = try await reportingErrors {
            try await client.text("/api/v1/lineage?\(query)&format=\(format.rawValue)")
        }
        if format == .json, let data = text.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data),
            let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        {
            print(String(decoding: pretty, as: UTF8.self))
        } else {
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        }
    }
}
