import EnsembleCore
import Hummingbird

/// Ensemble's own JSON API (`/api/v1/...`): what the MLflow API has no words for — dataset versions
/// with the runs that used them, and the history of a registered model. Described by
/// ``OpenAPIDocument`` at `/api/v1/openapi.json`.
struct NativeHandlers: Sendable {
    let datasets: any DatasetCatalog
    let registry: any RegistryStore

    func listDatasets(_ f: RequestFields, _ captures: [String: String]) async throws -> Response {
        let names = try await datasets.datasetNames()
        return JSONResponse.list("datasets", names) { w, item in
            w.beginObject()
            w.member("name", item.name)
            w.member("versions", Int64(item.versions))
            w.endObject()
        }
    }

    func datasetVersions(_ f: RequestFields, _ captures: [String: String]) async throws -> Response {
        let versions = try await datasets.datasetVersions(name: captures["name"] ?? "")
        return JSONResponse.list("versions", versions, bytesPerItem: 512) { w, v in
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
    }

    func modelHistory(_ f: RequestFields, _ captures: [String: String]) async throws -> Response {
        let name = TrackingHandlers.normalizedName(captures["name"] ?? "")
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

    func openAPI(_ f: RequestFields, _ captures: [String: String]) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
    }
}

/// `GET /api/v1/lineage?model=NAME&version=N | logged_model=ID | run=ID | dataset=NAME&digest=D [&format=dot]`.
struct LineageHandler: Sendable {
    let builder: LineageBuilder

    func lineage(_ f: RequestFields, _ captures: [String: String]) async throws -> Response {
        let root: LineageRoot
        if let model = try f.string("model") {
            guard let raw = try f.string("version"), let version = Int64(raw) else {
                throw EnsembleError.invalid("A model lineage needs 'version' as an integer, e.g. ?model=churn&version=3.")
            }
            root = .modelVersion(name: TrackingHandlers.normalizedName(model), version: version)
        } else if let id = try f.string("logged_model") {
            guard LoggedModel.isValidID(id) else { throw EnsembleError.invalid("Invalid logged model ID '\(id)'.") }
            root = .loggedModel(id: id)
        } else if let id = try f.string("run") {
            root = .run(id: id)
        } else if let name = try f.string("dataset") {
            root = .dataset(name: name, digest: try f.requiredString("digest"))
        } else {
            throw EnsembleError.invalid("Say where the lineage starts: ?model=NAME&version=N, ?logged_model=ID, ?run=ID or ?dataset=NAME&digest=D.")
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
