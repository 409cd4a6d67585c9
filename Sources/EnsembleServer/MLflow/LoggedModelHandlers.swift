import EnsembleArtifacts
import EnsembleCore
import EnsembleJSON
import Hummingbird

/// MLflow 3.x logged models: what every `mlflow.<flavor>.log_model` creates before it uploads the
/// model's files through the artifact proxy.
struct LoggedModelHandlers: Sendable {
    let models: any LoggedModelStore
    let files: ArtifactHandlers

    static func modelID(_ context: EnsembleRequestContext) throws -> String {
        let id = try context.capture("model_id")
        guard LoggedModel.isValidID(id) else {
            throw EnsembleError.invalid("Invalid logged model ID '\(id)'. Logged model ids look like 'm-' followed by 32 hexadecimal digits.")
        }
        return id
    }

    static func readKeyValues(_ f: RequestFields, _ name: String) throws -> [KeyValue] {
        let items = try f.keyValues(name)
        for kv in items { try Validation.validateKey(kv.key, kind: name == "params" ? "param" : "tag") }
        return items
    }

    func create(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let experimentID = try f.requiredString("experiment_id")
        try Validation.validateExperimentID(experimentID)
        let name = try f.string("name").flatMap { $0.isEmpty ? nil : $0 }
        if let name { try Validation.validateKey(name, kind: "model") }
        let model = try await models.createLoggedModel(
            NewLoggedModel(
                experimentID: experimentID, name: name, modelType: try f.string("model_type").flatMap { $0.isEmpty ? nil : $0 },
                sourceRunID: try f.string("source_run_id").flatMap { $0.isEmpty ? nil : $0 },
                params: try Self.readKeyValues(f, "params"), tags: try Self.readKeyValues(f, "tags")
            )
        )
        return JSONResponse.wrapped("model") { $0.loggedModel(model) }
    }

    func get(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let model = try await models.loggedModel(id: try Self.modelID(context), allowDeleted: try f.bool("allow_deleted") ?? false)
        return JSONResponse.wrapped("model") { $0.loggedModel(model) }
    }

    func finalize(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try Self.modelID(context)
        let raw = try f.requiredString("status")
        guard let status = LoggedModel.Status(wire: raw), status != .pending else {
            throw EnsembleError.invalid("Invalid value \"\(raw)\" for parameter 'status' supplied. Use LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED.")
        }
        let model = try await models.finalizeLoggedModel(id: id, status: status)
        return JSONResponse.wrapped("model") { $0.loggedModel(model) }
    }

    func delete(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        try await models.deleteLoggedModel(id: try Self.modelID(context))
        return JSONResponse.emptyObject
    }

    func setTags(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try Self.modelID(context)
        try await models.setLoggedModelTags(id: id, tags: try Self.readKeyValues(f, "tags"))
        return JSONResponse.emptyObject
    }

    func deleteTag(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        try await models.deleteLoggedModelTag(id: try Self.modelID(context), key: try context.capture("tag_key"))
        return JSONResponse.emptyObject
    }

    func logParams(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try Self.modelID(context)
        let params = try Self.readKeyValues(f, "params").map { (p) throws(EnsembleError) in try Validation.validateParam(p) }
        try await models.logLoggedModelParams(id: id, params: params)
        return JSONResponse.emptyObject
    }

    func search(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let experimentIDs = try f.strings("experiment_ids")
        for id in experimentIDs { try Validation.validateExperimentID(id) }
        let filter = try SearchFilterParser.parse(try f.string("filter"), for: .loggedModels)
        let orderBy = try f.objects("order_by").map { (o) throws(EnsembleError) -> OrderByClause in
            var clause = try SearchFilterParser.parseOrderBy(try o.requiredString("field_name"), for: .loggedModels)
            clause.ascending = try o.bool("ascending") ?? true
            return clause
        }
        var search = LoggedModelSearch(
            experimentIDs: experimentIDs, filter: filter, orderBy: orderBy,
            maxResults: try f.maxResults(default: 50, limit: 10000), offset: try PageToken.decode(try f.string("page_token"))
        )
        search.datasets = try f.objects("datasets").map { (d) throws(EnsembleError) -> LoggedModelSearch.DatasetRef in
            LoggedModelSearch.DatasetRef(name: try d.requiredString("dataset_name"), digest: try d.string("dataset_digest").flatMap { $0.isEmpty ? nil : $0 })
        }
        let page = try await models.searchLoggedModels(search)
        return JSONResponse.list("models", page.items, nextPageToken: page.nextPageToken, bytesPerItem: 1024) { $0.loggedModel($1) }
    }

    /// The model's artifact root inside the server's artifact store.
    func root(_ model: LoggedModel) throws -> ArtifactPath {
        guard let p = ArtifactHandlers.proxyPath(ofURI: model.artifactURI) else {
            throw EnsembleError.invalid("The artifacts of model \(model.modelID) are stored at '\(model.artifactURI)', outside this server's artifact store.")
        }
        return try ArtifactPath(p)
    }

    /// `GET logged-models/{id}/artifacts/directories?artifact_directory_path=`.
    func listArtifacts(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let model = try await models.loggedModel(id: try Self.modelID(context), allowDeleted: false)
        let sub = try ArtifactPath(try f.string("artifact_directory_path") ?? "")
        let entries = try await files.artifacts.list(try root(model).appending(sub)) ?? []
        var w = JSONWriter()
        w.beginObject()
        w.member("root_uri", model.artifactURI)
        w.key("files")
        w.beginArray()
        for e in entries { w.fileInfo(e, under: sub.isRoot ? nil : sub) }
        w.endArray()
        w.endObject()
        return JSONResponse.ok(w)
    }

    /// `GET logged-models/{id}/artifacts/files?artifact_file_path=`: one file of the model.
    func getArtifact(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let model = try await models.loggedModel(id: try Self.modelID(context), allowDeleted: false)
        let path = try ArtifactPath(try f.requiredString("artifact_file_path"))
        return try await files.download(try root(model).appending(path))
    }
}

extension JSONWriter {
    mutating func loggedModel(_ m: LoggedModel) {
        beginObject()
        key("info")
        beginObject()
        member("model_id", m.modelID)
        member("experiment_id", m.experimentID)
        member("name", m.name)
        member("creation_timestamp_ms", m.creationTimestamp)
        member("last_updated_timestamp_ms", m.lastUpdatedTimestamp)
        member("artifact_uri", m.artifactURI)
        member("status", m.status.rawValue)
        optionalMember("model_type", m.modelType)
        optionalMember("source_run_id", m.sourceRunID)
        optionalMember("status_message", m.statusMessage)
        keyValues("tags", m.tags)
        key("registrations")
        beginArray()
        endArray()
        endObject()
        key("data")
        beginObject()
        keyValues("params", m.params)
        key("metrics")
        beginArray()
        for metric in m.metrics { self.metric(metric) }
        endArray()
        endObject()
        endObject()
    }
}

extension LoggedModelHandlers {
    /// MLflow 3 logged models, under the MLflow prefixes.
    var routes: RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.post("logged-models", .edit, scope: .experiment, use: create)
        r.post("logged-models/search", .read, use: search)
        r.get("logged-models/{model_id}", .read, use: get)
        r.patch("logged-models/{model_id}", .edit, scope: .loggedModel, use: finalize)
        r.delete("logged-models/{model_id}", .manage, scope: .loggedModel, use: delete)
        r.patch("logged-models/{model_id}/tags", .edit, scope: .loggedModel, use: setTags)
        r.delete("logged-models/{model_id}/tags/{tag_key}", .edit, scope: .loggedModel, use: deleteTag)
        r.post("logged-models/{model_id}/params", .edit, scope: .loggedModel, use: logParams)
        r.get("logged-models/{model_id}/artifacts/directories", .read, use: listArtifacts)
        r.get("logged-models/{model_id}/artifacts/files", .read, use: getArtifact)
        return r
    }
}
