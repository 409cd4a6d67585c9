import EnsembleArtifacts
import EnsembleCore
import EnsembleJSON
import Foundation
import Hummingbird

/// The MLflow model registry: registered models, versions, aliases and legacy stages.
struct RegistryHandlers: Sendable {
    let registry: any RegistryStore
    let tracking: any TrackingStore
    let models: any LoggedModelStore
    let files: ArtifactHandlers

    // MARK: Field helpers

    static func name(_ f: RequestFields, _ field: String = "name") throws -> String {
        let name = TrackingHandlers.normalizedName(try f.requiredString(field))
        try Validation.validateModelName(name)
        return name
    }

    static func version(_ f: RequestFields) throws -> Int64 {
        let raw = try f.requiredString("version")
        guard let v = Int64(raw.trimmingCharacters(in: .whitespaces)), v >= 1 else {
            throw EnsembleError.invalid("Parameter 'version' must be an integer, got '\(raw)'.")
        }
        return v
    }

    static func tags(_ f: RequestFields) throws -> [KeyValue] {
        let tags = try f.keyValues("tags")
        for t in tags { try validateTag(t) }
        return tags
    }

    static func validateTag(_ t: KeyValue) throws {
        try Validation.validateKey(t.key, kind: "tag")
        if t.value.count > 100_000 { throw EnsembleError.invalid("'value' exceeds the maximum length of 100000 characters") }
    }

    // MARK: Registered models

    func create(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let model = try await registry.createRegisteredModel(name: try Self.name(f), description: try f.string("description"), tags: try Self.tags(f))
        try await context.accessControl?.created(.registeredModel, model.name, by: context.principal)
        return JSONResponse.wrapped("registered_model") { $0.registeredModel(model) }
    }

    func get(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let model = try await registry.registeredModel(name: try Self.name(f))
        return JSONResponse.wrapped("registered_model") { $0.registeredModel(model) }
    }

    func rename(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let old = try Self.name(f)
        let model = try await registry.renameRegisteredModel(name: old, newName: try Self.name(f, "new_name"))
        // Grants follow the model to its new name (the table is shared by all servers).
        try await context.accessControl?.grants.renameGrants(.registeredModel, from: old, to: model.name)
        return JSONResponse.wrapped("registered_model") { $0.registeredModel(model) }
    }

    func update(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let model = try await registry.updateRegisteredModel(name: try Self.name(f), description: try f.string("description"))
        return JSONResponse.wrapped("registered_model") { $0.registeredModel(model) }
    }

    func delete(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let name = try Self.name(f)
        try await registry.deleteRegisteredModel(name: name)
        // A later model of the same name starts without the old one's grants.
        try await context.accessControl?.forget(.registeredModel, name)
        return JSONResponse.emptyObject
    }

    func search(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let search = RegistrySearch(
            filter: try SearchFilterParser.parse(try f.string("filter"), for: .registeredModels),
            orderBy: try f.strings("order_by").map { (s) throws(EnsembleError) in try SearchFilterParser.parseOrderBy(s, for: .registeredModels) },
            maxResults: try f.maxResults(default: 100, limit: 1000), offset: try PageToken.decode(try f.string("page_token"))
        )
        let page = try await registry.searchRegisteredModels(search)
        return JSONResponse.list("registered_models", page.items, nextPageToken: page.nextPageToken, bytesPerItem: 512) { $0.registeredModel($1) }
    }

    func latestVersions(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let stages = try f.strings("stages").map { raw -> ModelStage in
            guard let stage = ModelStage(wire: raw) else {
                throw EnsembleError.invalid("Invalid Model Version stage: \(raw). Use None, Staging, Production or Archived.")
            }
            return stage
        }
        let versions = try await registry.latestVersions(name: try Self.name(f), stages: stages)
        return JSONResponse.list("model_versions", versions) { $0.modelVersion($1) }
    }

    func setTag(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let tag = KeyValue(key: try f.requiredString("key"), value: try f.string("value") ?? "")
        try Self.validateTag(tag)
        try await registry.setRegisteredModelTag(name: try Self.name(f), tag: tag)
        return JSONResponse.emptyObject
    }

    func deleteTag(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        try await registry.deleteRegisteredModelTag(name: try Self.name(f), key: try f.requiredString("key"))
        return JSONResponse.emptyObject
    }

    // MARK: Aliases

    func setAlias(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let alias = try f.requiredString("alias")
        try Validation.validateAlias(alias)
        try await registry.setAlias(name: try Self.name(f), alias: alias, version: try Self.version(f), actor: context.actor)
        return JSONResponse.emptyObject
    }

    func deleteAlias(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        try await registry.deleteAlias(name: try Self.name(f), alias: try f.requiredString("alias"), actor: context.actor)
        return JSONResponse.emptyObject
    }

    func getByAlias(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let version = try await registry.versionByAlias(name: try Self.name(f), alias: try f.requiredString("alias"))
        return JSONResponse.wrapped("model_version") { $0.modelVersion(version) }
    }

    // MARK: Versions

    func createVersion(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let name = try Self.name(f)
        let source = try f.requiredString("source")
        let resolved = try await resolveSource(
            source, runID: try f.string("run_id").flatMap { $0.isEmpty ? nil : $0 }, modelID: try f.string("model_id").flatMap { $0.isEmpty ? nil : $0 }
        )
        let version = try await registry.createModelVersion(
            NewModelVersion(
                name: name, source: source, storageLocation: resolved.storage, runID: resolved.runID,
                runLink: try f.string("run_link").flatMap { $0.isEmpty ? nil : $0 }, modelID: resolved.modelID,
                description: try f.string("description"), tags: try Self.tags(f)
            ),
            actor: context.actor
        )
        return JSONResponse.wrapped("model_version") { $0.modelVersion(version) }
    }

    func getVersion(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let version = try await registry.modelVersion(name: try Self.name(f), version: try Self.version(f))
        return JSONResponse.wrapped("model_version") { $0.modelVersion(version) }
    }

    func updateVersion(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let version = try await registry.updateModelVersion(name: try Self.name(f), version: try Self.version(f), description: try f.string("description"))
        return JSONResponse.wrapped("model_version") { $0.modelVersion(version) }
    }

    func transition(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let raw = try f.requiredString("stage")
        guard let stage = ModelStage(wire: raw) else {
            throw EnsembleError.invalid("Invalid Model Version stage: \(raw). Use None, Staging, Production or Archived.")
        }
        let version = try await registry.transitionStage(
            name: try Self.name(f), version: try Self.version(f), stage: stage, archiveExisting: try f.bool("archive_existing_versions") ?? false,
            actor: context.actor
        )
        return JSONResponse.wrapped("model_version") { $0.modelVersion(version) }
    }

    func deleteVersion(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        try await registry.deleteModelVersion(name: try Self.name(f), version: try Self.version(f), actor: context.actor)
        return JSONResponse.emptyObject
    }

    func searchVersions(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let search = RegistrySearch(
            filter: try SearchFilterParser.parse(try f.string("filter"), for: .modelVersions),
            orderBy: try f.strings("order_by").map { (s) throws(EnsembleError) in try SearchFilterParser.parseOrderBy(s, for: .modelVersions) },
            maxResults: try f.maxResults(default: 10000, limit: 200_000), offset: try PageToken.decode(try f.string("page_token"))
        )
        let page = try await registry.searchModelVersions(search)
        return JSONResponse.list("model_versions", page.items, nextPageToken: page.nextPageToken, bytesPerItem: 512) { $0.modelVersion($1) }
    }

    func downloadURI(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let version = try await registry.modelVersion(name: try Self.name(f), version: try Self.version(f))
        return JSONResponse.wrapped("artifact_uri") { $0.string(version.storageLocation) }
    }

    func setVersionTag(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let tag = KeyValue(key: try f.requiredString("key"), value: try f.string("value") ?? "")
        try Self.validateTag(tag)
        try await registry.setModelVersionTag(name: try Self.name(f), version: try Self.version(f), tag: tag)
        return JSONResponse.emptyObject
    }

    func deleteVersionTag(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        try await registry.deleteModelVersionTag(name: try Self.name(f), version: try Self.version(f), key: try f.requiredString("key"))
        return JSONResponse.emptyObject
    }

    /// `GET .../model-versions/get-artifact?name=&version=&path=`: one file of a version, for the UI.
    func getArtifact(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try request.queryFields()
        // The path is checked before the version is looked up, as MLflow does ("Invalid path", 400).
        let path = try ArtifactPath(try f.requiredString("path"))
        let version = try await registry.modelVersion(name: try Self.name(f), version: try Self.version(f))
        guard let root = ArtifactHandlers.proxyPath(ofURI: version.storageLocation) else {
            throw EnsembleError.invalid("The files of this version are stored at '\(version.storageLocation)', outside this server's artifact store.")
        }
        return try await files.download(try ArtifactPath(root).appending(path))
    }

    // MARK: Source validation

    static let relativeSourceMessage =
        "If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path."

    /// Resolves a version's `source` to where its files are, enforcing that it cannot point the
    /// server at arbitrary places: `runs:/` and `models:/m-…` must match the given ids, proxied
    /// locations must lie inside the run's or model's artifact root, local paths are refused, and
    /// `..` or NUL (even percent-encoded, repeatedly) are refused everywhere.
    func resolveSource(_ source: String, runID: String?, modelID: String?) async throws -> (storage: String, runID: String?, modelID: String?) {
        var decoded = source
        for _ in 0..<4 {
            if decoded.utf8.contains(0) || decoded.split(whereSeparator: { $0 == "/" || $0 == "\\" }).contains("..") {
                throw EnsembleError.invalid(Self.relativeSourceMessage)
            }
            guard let next = PercentDecoding.decode(decoded), next != decoded else { break }
            decoded = next
        }
        let lower = source.lowercased()
        if lower.hasPrefix("runs:/") {
            let rest = source.dropFirst("runs:/".count).drop { $0 == "/" }
            let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            let id = String(parts.first ?? "")
            guard !id.isEmpty else { throw EnsembleError.invalid("Invalid source '\(source)': a runs:/ source needs a run id, as in runs:/<run_id>/<path>.") }
            if let runID, runID != id {
                throw EnsembleError.invalid("The run_id request parameter (\(runID)) does not match the run of the source '\(source)'.")
            }
            let run = try await tracking.run(id: id)
            let path = parts.count > 1 ? String(parts[1]) : ""
            _ = try ArtifactPath(path)
            let storage = path.isEmpty ? run.info.artifactURI : run.info.artifactURI + "/" + path
            return (storage, id, modelID)
        }
        if lower.hasPrefix("models:/") {
            let id = String(source.dropFirst("models:/".count).drop { $0 == "/" }.prefix { $0 != "/" })
            guard LoggedModel.isValidID(id) else {
                throw EnsembleError.invalid("Invalid source '\(source)'. Register from runs:/<run_id>/<path>, models:/m-<model_id>, or a storage URI.")
            }
            if let modelID, modelID != id {
                throw EnsembleError.invalid("The model_id request parameter (\(modelID)) does not match the model of the source '\(source)'.")
            }
            let model = try await models.loggedModel(id: id, allowDeleted: false)
            return (model.artifactURI, runID ?? model.sourceRunID, id)
        }
        if let proxied = ArtifactHandlers.proxyPath(ofURI: source) {
            let target = try ArtifactPath(proxied)
            var roots: [String] = []
            if let runID { roots.append(try await tracking.run(id: runID).info.artifactURI) }
            if let modelID { roots.append(try await models.loggedModel(id: modelID, allowDeleted: false).artifactURI) }
            let inside = try roots.contains { root in
                guard let rootPath = ArtifactHandlers.proxyPath(ofURI: root) else { return false }
                let r = try ArtifactPath(rootPath).segments
                return target.segments.starts(with: r)
            }
            guard inside else {
                throw EnsembleError.invalid(
                    "Invalid source '\(source)': a source in the server's artifact store must lie inside the artifact root of the run (run_id) or logged model (model_id) it comes from."
                )
            }
            return (source, runID, modelID)
        }
        let scheme = source.firstIndex(of: ":").map { String(source[..<$0]).lowercased() } ?? ""
        if scheme.isEmpty || scheme == "file" || scheme.count == 1 {
            throw EnsembleError.invalid(
                "To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id. This server keeps artifacts in its own store: register from runs:/<run_id>/<path> instead."
            )
        }
        // Remote storage (s3://, gs://, …) is recorded as given; the server never fetches it.
        return (source, runID, modelID)
    }
}

extension JSONWriter {
    mutating func modelVersion(_ v: ModelVersion) {
        beginObject()
        member("name", v.name)
        member("version", String(v.version))
        member("creation_timestamp", v.creationTimestamp)
        member("last_updated_timestamp", v.lastUpdatedTimestamp)
        member("current_stage", v.currentStage.rawValue)
        optionalMember("description", v.description)
        member("source", v.source)
        optionalMember("run_id", v.runID)
        optionalMember("run_link", v.runLink)
        optionalMember("model_id", v.modelID)
        // Registration is synchronous here: a version exists only once it is complete.
        member("status", "READY")
        keyValues("tags", v.tags)
        key("aliases")
        beginArray()
        for a in v.aliases { string(a) }
        endArray()
        endObject()
    }

    mutating func registeredModel(_ m: RegisteredModel) {
        beginObject()
        member("name", m.name)
        member("creation_timestamp", m.creationTimestamp)
        member("last_updated_timestamp", m.lastUpdatedTimestamp)
        optionalMember("description", m.description)
        key("latest_versions")
        beginArray()
        for v in m.latestVersions { modelVersion(v) }
        endArray()
        keyValues("tags", m.tags)
        key("aliases")
        beginArray()
        for a in m.aliases {
            beginObject()
            member("alias", a.key)
            member("version", a.value)
            endObject()
        }
        endArray()
        endObject()
    }
}

extension RegistryHandlers {
    /// Registered models, versions, tags and aliases, under the MLflow prefixes.
    var routes: RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.post("registered-models/create", .edit, use: create)
        r.get("registered-models/get", .read, use: get)
        r.post("registered-models/rename", .manage, scope: .registeredModel, use: rename)
        r.patch("registered-models/update", .edit, scope: .registeredModel, use: update)
        r.delete("registered-models/delete", .manage, scope: .registeredModel, use: delete)
        r.get("registered-models/search", .read, use: search)
        r.post("registered-models/search", .read, use: search)
        r.post("registered-models/get-latest-versions", .read, use: latestVersions)
        r.get("registered-models/get-latest-versions", .read, use: latestVersions)
        r.post("registered-models/set-tag", .edit, scope: .registeredModel, use: setTag)
        r.delete("registered-models/delete-tag", .edit, scope: .registeredModel, use: deleteTag)
        r.post("registered-models/alias", .edit, scope: .modelAlias, use: setAlias)
        r.delete("registered-models/alias", .edit, scope: .modelAlias, use: deleteAlias)
        r.get("registered-models/alias", .read, use: getByAlias)
        r.post("model-versions/create", .edit, scope: .registeredModel, use: createVersion)
        r.get("model-versions/get", .read, use: getVersion)
        r.patch("model-versions/update", .edit, scope: .registeredModel, use: updateVersion)
        r.post("model-versions/transition-stage", .edit, scope: .modelStage, use: transition)
        r.delete("model-versions/delete", .manage, scope: .registeredModel, use: deleteVersion)
        r.get("model-versions/search", .read, use: searchVersions)
        r.post("model-versions/search", .read, use: searchVersions)
        r.get("model-versions/get-download-uri", .read, use: downloadURI)
        r.post("model-versions/set-tag", .edit, scope: .registeredModel, use: setVersionTag)
        r.delete("model-versions/delete-tag", .edit, scope: .registeredModel, use: deleteVersionTag)
        r.get("model-versions/get-artifact", .read, use: getArtifact)
        return r
    }
}
