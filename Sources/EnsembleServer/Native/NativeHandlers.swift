import EnsembleCore
import EnsembleJSON
import Hummingbird

/// Ensemble's own JSON API (`/api/v1/...`): what the MLflow API has no words for — dataset versions
/// with the runs that used them, and the history of a registered model. Described by
/// the OpenAPI document at `/api/v1/openapi.json`.
struct NativeHandlers: Sendable {
    let datasets: any DatasetCatalog
    let stored: any StoredDatasetStore
    let registry: any RegistryStore

    func listDatasets(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        var byName: [String: (logged: Int64, stored: StoredDatasetSummary?)] = [:]
        for item in try await datasets.datasetNames() { byName[item.name, default: (0, nil)].logged = Int64(item.versions) }
        for item in try await stored.storedDatasets() { byName[item.name, default: (0, nil)].stored = item }
        let names = byName.keys.sorted()
        return JSONResponse.list("datasets", names) { w, name in
            let entry = byName[name]!
            w.beginObject()
            w.member("name", name)
            w.member("versions", entry.logged)
            w.member("stored_versions", entry.stored?.versions ?? 0)
            w.optionalMember("latest_stored_version", entry.stored?.latest)
            w.endObject()
        }
    }

    func datasetVersions(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let name = try context.capture("name")
        let logged: [DatasetVersionUsage]
        do {
            logged = try await datasets.datasetVersions(name: name)
        } catch let error as EnsembleError where error.code == .resourceDoesNotExist {
            logged = []
        }
        let storedVersions = try await stored.storedDatasetVersions(name: name)
        guard !logged.isEmpty || !storedVersions.isEmpty else {
            throw EnsembleError.notFound("No dataset named '\(name)': no run logged it and no version of it was added with 'ensemble dataset add'.")
        }
        var w = JSONWriter(capacity: 512 * (logged.count + storedVersions.count) + 64)
        w.beginObject()
        w.key("versions")
        w.beginArray()
        for v in logged {
            w.beginObject()
            w.member("name", v.dataset.name)
            w.member("digest", v.dataset.digest)
            w.member("experiment_id", v.experimentID)
            w.member("source_type", v.dataset.sourceType)
            w.member("source", v.dataset.source)
            w.optionalMember("schema", v.dataset.schema)
            w.optionalMember("profile", v.dataset.profile)
            w.key("used_by")
            w.beginArray()
            for use in v.usedBy {
                w.beginObject()
                w.member("run_id", use.runID)
                w.member("run_name", use.runName)
                w.optionalMember("context", use.context)
                w.endObject()
            }
            w.endArray()
            w.endObject()
        }
        w.endArray()
        w.key("stored_versions")
        w.beginArray()
        for v in storedVersions { w.storedVersion(v, withFiles: false) }
        w.endArray()
        w.endObject()
        return JSONResponse.ok(w)
    }

    func modelHistory(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let name = TrackingHandlers.normalizedName(try context.capture("name"))
        _ = try await registry.registeredModel(name: name)
        let events = try await registry.registryEvents(name: name)
        return JSONResponse.list("events", events) { w, e in
            w.beginObject()
            w.member("model", e.name)
            w.optionalMember("version", e.version.map(String.init))
            w.member("kind", e.kind.rawValue)
            w.member("detail", e.detail)
            w.optionalMember("actor", e.actor)
            w.member("timestamp", e.timestamp)
            w.endObject()
        }
    }

    /// The document, compiled in from `Resources/openapi.json` (the one copy).
    static let openAPIDocument = ByteBuffer(bytes: PackageResources.openapi_json)

    func openAPI(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: Self.openAPIDocument))
    }
}

/// `GET /api/v1/lineage?model=NAME&version=N | model=NAME&alias=A | logged_model=ID | run=ID | dataset=NAME&digest=D | dataset=NAME&version=N [&format=dot]`.
struct LineageHandler: Sendable {
    let builder: LineageBuilder

    func lineage(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let root: LineageRoot
        if let model = try f.string("model"), let alias = try f.string("alias") {
            root = .modelAlias(name: TrackingHandlers.normalizedName(model), alias: alias)
        } else if let model = try f.string("model") {
            guard let raw = try f.string("version"), let version = Int64(raw) else {
                throw EnsembleError.invalid("A model lineage needs 'version' as an integer or an 'alias', e.g. ?model=churn&version=3 or ?model=churn&alias=champion.")
            }
            root = .modelVersion(name: TrackingHandlers.normalizedName(model), version: version)
        } else if let id = try f.string("logged_model") {
            guard LoggedModel.isValidID(id) else { throw EnsembleError.invalid("Invalid logged model ID '\(id)'.") }
            root = .loggedModel(id: id)
        } else if let id = try f.string("run") {
            root = .run(id: id)
        } else if let name = try f.string("dataset") {
            if let raw = try f.string("version") {
                guard let version = Int64(raw), version > 0 else {
                    throw EnsembleError.invalid("A stored dataset lineage needs 'version' as a positive integer, e.g. ?dataset=iris&version=2.")
                }
                root = .storedDataset(name: name, version: version)
            } else {
                root = .dataset(name: name, digest: try f.requiredString("digest"))
            }
        } else {
            throw EnsembleError.invalid(
                "Say where the lineage starts: ?model=NAME&version=N, ?model=NAME&alias=A, ?logged_model=ID, ?run=ID, ?dataset=NAME&digest=D or ?dataset=NAME&version=N.")
        }
        let graph = try await builder.graph(from: root)
        switch try f.string("format") ?? "json" {
        case "dot":
            return Response(status: .ok, headers: [.contentType: "text/vnd.graphviz; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: graph.dot())))
        case "json":
            var w = JSONWriter(capacity: 256 * graph.nodes.count + 128)
            w.beginObject()
            w.key("nodes")
            w.beginArray()
            for n in graph.nodes {
                w.beginObject()
                w.member("id", n.id)
                w.member("kind", n.kind.rawValue)
                w.member("label", n.label)
                w.keyValues("attributes", n.attributes)
                w.endObject()
            }
            w.endArray()
            w.key("edges")
            w.beginArray()
            for e in graph.edges {
                w.beginObject()
                w.member("from", e.from)
                w.member("to", e.to)
                w.member("relation", e.relation)
                w.endObject()
            }
            w.endArray()
            w.endObject()
            return JSONResponse.ok(w)
        case let other:
            throw EnsembleError.invalid("Unknown format '\(other)'; use json or dot.")
        }
    }
}

extension NativeHandlers {
    /// Dataset names and versions, model history and the OpenAPI document, under `/api/v1`.
    var routes: RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.get("datasets", .read, use: listDatasets)
        r.get("datasets/{name}/versions", .read, use: datasetVersions)
        r.get("models/{name}/history", .read, use: modelHistory)
        r.get("openapi.json", .open, use: openAPI)
        return r
    }
}

extension LineageHandler {
    /// `/api/v1/lineage`.
    var routes: RouteCollection<EnsembleRequestContext> {
        RouteCollection(context: EnsembleRequestContext.self).get("lineage", .read, use: lineage)
    }
}
