import EnsembleArtifacts
import EnsembleCore
import EnsembleJSON
import Foundation
import Hummingbird
import Mustache
import NIOCore

/// Registered models and the lineage page.
extension WebHandlers {
    // MARK: Models and lineage

    static func modelRow(_ m: RegisteredModel) -> ModelRow {
        ModelRow(
            name: m.name, urlName: urlComponent(m.name), aliases: m.aliases.map(\.key),
            latest: m.latestVersions.map(\.version).max().map(String.init) ?? "-", description: m.description ?? "")
    }

    func models(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let models = try await registry.searchRegisteredModels(RegistrySearch(filter: [], maxResults: 1000)).items
        return render(c, "models", ModelsView(models: models.map(Self.modelRow)))
    }

    func model(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let name = try c.capture("name")
        let model = try await registry.registeredModel(name: name)
        let versions = try await registry.searchModelVersions(
            RegistrySearch(filter: try SearchFilterParser.parse("name = '\(name.replacingOccurrences(of: "'", with: "''"))'", for: .modelVersions), maxResults: 1000)).items
        let events = try await registry.registryEvents(name: name)
        let who = await displayNames()
        return render(
            c,
            "model",
            ModelView(
                title: model.name, name: model.name, description: model.description ?? "",
                versions: versions.sorted { $0.version > $1.version }.map { v in
                    ModelView.Version(
                        version: v.version, stage: v.currentStage.rawValue, aliases: v.aliases, runID: v.runID, created: Self.when(v.creationTimestamp),
                        urlName: Self.urlComponent(model.name))
                },
                history: events.reversed().map {
                    ModelView.Event(
                        when: Self.when($0.timestamp), version: $0.version.map { "v\($0)" } ?? "", kind: $0.kind.rawValue, detail: $0.detail,
                        actor: $0.actor.map { who[$0] ?? $0 } ?? "")
                }))
    }

    func lineagePage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let q = Self.query(r)
        let root: LineageRoot
        let label: String
        if let model = Self.param(q, "model"), let v = Self.param(q, "version").flatMap({ Int64($0) }) {
            root = .modelVersion(name: model, version: v)
            label = "\(model) v\(v)"
        } else if let run = Self.param(q, "run") {
            root = .run(id: run)
            label = "run \(run)"
        } else {
            throw EnsembleError.invalid("Open lineage from a run or a model version page.")
        }
        let graph = try await lineage.graph(from: root)
        let nodes = Dictionary(graph.nodes.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let api = "/api/v1/lineage?" + (r.uri.query ?? "") + "&format=dot"
        return render(
            c,
            "lineage",
            LineageView(
                root: label, apiURL: api, svg: Self.lineageSVG(graph),
                edges: graph.edges.map { e in
                    LineageView.Edge(
                        fromKind: nodes[e.from]?.kind.rawValue ?? "", fromLabel: nodes[e.from]?.label ?? e.from, relation: e.relation,
                        toKind: nodes[e.to]?.kind.rawValue ?? "", toLabel: nodes[e.to]?.label ?? e.to)
                }))
    }
}
