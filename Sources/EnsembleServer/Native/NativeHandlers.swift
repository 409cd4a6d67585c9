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
