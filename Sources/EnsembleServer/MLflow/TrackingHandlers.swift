import EnsembleArtifacts
import EnsembleCore
import EnsembleJSON
import Foundation
import Hummingbird

/// The MLflow tracking API: experiments, runs, metrics, params, tags, inputs and outputs.
///
/// Handlers read and validate fields (``RequestFields``, ``Validation``), call one store method,
/// and write the answer; the rules that need stored state live in the store.
struct TrackingHandlers: Sendable {
    let store: any TrackingStore

    static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    // MARK: Experiments

    /// Names are compared after Unicode NFC normalisation, so two experiments can never have names
    /// that differ only in how an accent was encoded.
    static func normalizedName(_ name: String) -> String {
        name.precomposedStringWithCanonicalMapping
    }

    func createExperiment(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let name = Self.normalizedName(try f.requiredString("name"))
        try Validation.validateExperimentName(name)
        let tags = try f.keyValues("tags")
        for t in tags { try Validation.validateExperimentTag(t) }
        var location = try f.string("artifact_location").flatMap { $0.isEmpty ? nil : $0 }
        if let given = location {
            location = try Self.checkedArtifactLocation(given)
        }
        let id = try await store.createExperiment(name: name, artifactLocation: location, tags: tags)
        try await context.accessControl?.created(.experiment, id, by: context.principal)
        return JSONResponse.wrapped("experiment_id") { $0.string(id) }
    }

    /// A client-chosen artifact location is stored, never followed by the server: only locations in
    /// its own artifact store (`mlflow-artifacts:`) are ever read or written here. Locations that try
    /// to climb out of a folder or point at runs are refused.
    static func checkedArtifactLocation(_ location: String) throws -> String {
        if location.utf8.contains(0) { throw EnsembleError.invalid("Invalid artifact_location: it contains a NUL byte.") }
        if location.lowercased().hasPrefix("runs:") {
            throw EnsembleError.invalid("Invalid artifact_location '\(location)': 'runs:' URIs are not allowed as artifact locations. Omit it to use the server's artifact store.")
        }
        var decoded = location
        for _ in 0..<3 {
            if decoded.split(separator: "/", omittingEmptySubsequences: false).contains("..") || decoded.contains("\\..") {
                throw EnsembleError.invalid("Invalid artifact_location '\(location)': it must not contain '..' segments.")
            }
            guard let next = PercentDecoding.decode(decoded), next != decoded else { break }
            decoded = next
        }
        if location.hasPrefix("mlflow-artifacts:") {
            _ = try ArtifactPath(ArtifactHandlers.proxyPath(ofURI: location) ?? "")
        }
        if !location.contains(":"), !location.hasPrefix("/") {
            // MLflow resolves a relative path against the server's working folder.
            return URL(fileURLWithPath: location).standardizedFileURL.path
        }
        return location
    }

    func getExperiment(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try f.requiredString("experiment_id")
        try Validation.validateExperimentID(id)
        let e = try await store.experiment(id: id)
        return JSONResponse.wrapped("experiment") { $0.experiment(e) }
    }

    func getExperimentByName(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let name = Self.normalizedName(try f.requiredString("experiment_name"))
        guard let e = try await store.experiment(named: name) else {
            throw EnsembleError.notFound("Could not find experiment with name '\(name)'")
        }
        return JSONResponse.wrapped("experiment") { $0.experiment(e) }
    }

    func searchExperiments(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let maxResults = try f.maxResults(default: 1000, limit: 50000)
        let viewType = try Self.viewType(f, "view_type")
        let filter = try SearchFilterParser.parse(try f.string("filter"), for: .experiments)
        let orderBy = try f.strings("order_by").map { (s) throws(EnsembleError) in try SearchFilterParser.parseOrderBy(s, for: .experiments) }
        let offset = try PageToken.decode(try f.string("page_token"))
        let page = try await store.searchExperiments(
            ExperimentSearch(filter: filter, orderBy: orderBy, viewType: viewType, maxResults: maxResults, offset: offset)
        )
        return JSONResponse.list("experiments", page.items, nextPageToken: page.nextPageToken, bytesPerItem: 256) { $0.experiment($1) }
    }

    func updateExperiment(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try f.requiredString("experiment_id")
        try Validation.validateExperimentID(id)
        let name = Self.normalizedName(try f.requiredString("new_name"))
        try Validation.validateExperimentName(name)
        try await store.renameExperiment(id: id, newName: name)
        return JSONResponse.emptyObject
    }

    func deleteExperiment(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try f.requiredString("experiment_id")
        try Validation.validateExperimentID(id)
        try await store.deleteExperiment(id: id)
        return JSONResponse.emptyObject
    }

    func restoreExperiment(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try f.requiredString("experiment_id")
        try Validation.validateExperimentID(id)
        try await store.restoreExperiment(id: id)
        return JSONResponse.emptyObject
    }

    func setExperimentTag(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try f.requiredString("experiment_id")
        try Validation.validateExperimentID(id)
        let tag = KeyValue(key: try f.requiredString("key"), value: try f.string("value") ?? "")
        try Validation.validateExperimentTag(tag)
        try await store.setExperimentTag(id: id, tag: tag)
        return JSONResponse.emptyObject
    }

    func deleteExperimentTag(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try f.requiredString("experiment_id")
        try Validation.validateExperimentID(id)
        try await store.deleteExperimentTag(id: id, key: try f.requiredString("key"))
        return JSONResponse.emptyObject
    }

    func searchDatasets(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let ids = try f.strings("experiment_ids")
        guard !ids.isEmpty else { throw EnsembleError.invalid("SearchDatasets request must specify at least one experiment_id.") }
        guard ids.count <= 20 else {
            throw EnsembleError.invalid("SearchDatasets request cannot specify more than 20 experiment_ids. Received \(ids.count) experiment_ids.")
        }
        for id in ids { try Validation.validateExperimentID(id) }
        let summaries = try await store.datasetSummaries(experimentIDs: ids)
        return JSONResponse.list("dataset_summaries", summaries) { w, s in
            w.beginObject()
            w.member("experiment_id", s.experimentID)
            w.member("name", s.name)
            w.member("digest", s.digest)
            w.optionalMember("context", s.context)
            w.endObject()
        }
    }

    // MARK: Runs

    func createRun(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let experimentID = try f.string("experiment_id").flatMap { $0.isEmpty ? nil : $0 } ?? "0"
        try Validation.validateExperimentID(experimentID)
        let tags = try f.keyValues("tags").map { (t) throws(EnsembleError) in try Validation.validateRunTag(t) }
        let runName = try f.string("run_name").flatMap { $0.isEmpty ? nil : $0 }
        if let runName, runName.count > Validation.maxRunNameLength {
            throw EnsembleError.invalid("run_name exceeds the maximum length of \(Validation.maxRunNameLength) characters")
        }
        let run = try await store.createRun(
            NewRun(
                experimentID: experimentID, userID: try f.string("user_id") ?? "",
                runName: runName, startTime: try f.int64("start_time") ?? Self.now(), tags: tags
            )
        )
        return JSONResponse.wrapped("run") { $0.run(run) }
    }

    func getRun(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let run = try await store.run(id: try f.runID())
        return JSONResponse.wrapped("run") { $0.run(run) }
    }

    func updateRun(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try f.runID()
        var update = RunUpdate()
        if let status = try? f.string("status") {
            guard let s = RunStatus(wire: status) else {
                throw EnsembleError.invalid("Invalid value \"\(status)\" for parameter 'status' supplied. Use one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED.")
            }
            update.status = s
        } else if let n = try f.int64("status") {
            guard let s = RunStatus(wire: String(n)) else { throw EnsembleError.invalid("Invalid value \(n) for parameter 'status' supplied.") }
            update.status = s
        }
        update.endTime = try f.int64("end_time")
        if let name = try f.string("run_name"), !name.isEmpty { update.runName = name }
        let info = try await store.updateRun(id: id, update)
        return JSONResponse.wrapped("run_info") { $0.runInfo(info) }
    }

    func deleteRun(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        try await store.deleteRun(id: try f.runID())
        return JSONResponse.emptyObject
    }

    func restoreRun(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        try await store.restoreRun(id: try f.runID())
        return JSONResponse.emptyObject
    }

    static func readMetric(_ f: RequestFields) throws(EnsembleError) -> Metric {
        let key = try f.requiredString("key")
        guard let value = try f.double("value") else { throw .missing(f.path + "value") }
        guard let timestamp = try f.int64("timestamp") else { throw .missing(f.path + "timestamp") }
        let m = Metric(
            key: key, value: value, timestamp: timestamp, step: try f.int64("step") ?? 0,
            modelID: try f.string("model_id").flatMap { $0.isEmpty ? nil : $0 },
            datasetName: try f.string("dataset_name").flatMap { $0.isEmpty ? nil : $0 },
            datasetDigest: try f.string("dataset_digest").flatMap { $0.isEmpty ? nil : $0 }
        )
        try Validation.validateMetric(m)
        return m
    }

    func logMetric(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try f.runID()
        let metric = try Self.readMetric(f)
        try await store.logBatch(runID: id, metrics: [metric], params: [], tags: [])
        return JSONResponse.emptyObject
    }

    func logParameter(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try f.runID()
        let param = try Validation.validateParam(KeyValue(key: try f.requiredString("key"), value: try f.string("value") ?? ""))
        try await store.logBatch(runID: id, metrics: [], params: [param], tags: [])
        return JSONResponse.emptyObject
    }

    func setTag(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try f.runID()
        let tag = try Validation.validateRunTag(KeyValue(key: try f.requiredString("key"), value: try f.string("value") ?? ""))
        try await store.logBatch(runID: id, metrics: [], params: [], tags: [tag])
        return JSONResponse.emptyObject
    }

    func deleteTag(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        try await store.deleteTag(runID: try f.runID(), key: try f.requiredString("key"))
        return JSONResponse.emptyObject
    }

    func logBatch(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try f.runID()
        try Validation.validateRunID(id)
        let metricFields = try f.objects("metrics")
        let paramFields = try f.objects("params")
        let tagFields = try f.objects("tags")
        try Validation.validateBatchLimits(metrics: metricFields.count, params: paramFields.count, tags: tagFields.count)
        let metrics = try metricFields.map { (m) throws(EnsembleError) in try Self.readMetric(m) }
        let params = try paramFields.map { (p) throws(EnsembleError) in
            try Validation.validateParam(KeyValue(key: try p.requiredString("key"), value: try p.string("value") ?? ""))
        }
        try Validation.validateUniqueParamKeys(params)
        let tags = try tagFields.map { (t) throws(EnsembleError) in
            try Validation.validateRunTag(KeyValue(key: try t.requiredString("key"), value: try t.string("value") ?? ""))
        }
        if metrics.isEmpty && params.isEmpty && tags.isEmpty { return JSONResponse.emptyObject }
        try await store.logBatch(runID: id, metrics: metrics, params: params, tags: tags)
        return JSONResponse.emptyObject
    }

    func logInputs(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try f.runID()
        var inputs: [DatasetInput] = []
        for d in try f.objects("datasets") {
            guard let ds = try d.object("dataset") else { throw EnsembleError.missing(d.path + "dataset") }
            let input = DatasetInput(
                dataset: Dataset(
                    name: try ds.requiredString("name"), digest: try ds.requiredString("digest"),
                    sourceType: try ds.requiredString("source_type"), source: try ds.requiredString("source"),
                    schema: try ds.string("schema"), profile: try ds.string("profile")
                ),
                tags: try d.keyValues("tags")
            )
            try Validation.validateDatasetInput(input)
            inputs.append(input)
        }
        let models = try f.objects("models").map { (m) throws(EnsembleError) in try m.requiredString("model_id") }
        try await store.logInputs(runID: id, datasets: inputs, modelIDs: models)
        return JSONResponse.emptyObject
    }

    func logOutputs(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try f.runID()
        let models = try f.objects("models").map { (m) throws(EnsembleError) in
            ModelOutput(modelID: try m.requiredString("model_id"), step: try m.requiredInt64("step"))
        }
        guard !models.isEmpty else { throw EnsembleError.missing("models") }
        try await store.logOutputs(runID: id, models: models)
        return JSONResponse.emptyObject
    }

    /// Legacy `runs/log-model` (MLflow 2.x clients): appends the model's JSON to the run tag
    /// `mlflow.log-model.history`.
    func logModel(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try f.runID()
        let modelJSON = try f.requiredString("model_json")
        let model: JSONValue
        do {
            model = try JSONParser.parse(Array(modelJSON.utf8))
        } catch {
            throw EnsembleError.invalid("Invalid value for parameter 'model_json': it must be a JSON object describing the model.")
        }
        guard case .object = model else {
            throw EnsembleError.invalid("Invalid value for parameter 'model_json': it must be a JSON object describing the model.")
        }
        let run = try await store.run(id: id)
        var history: [JSONValue] = []
        if let existing = run.tags.first(where: { $0.key == Self.logModelHistoryTag })?.value,
            case .array(let items)? = try? JSONParser.parse(Array(existing.utf8))
        {
            history = items
        }
        history.append(model)
        let tag = KeyValue(key: Self.logModelHistoryTag, value: JSONValue.array(history).jsonText)
        try await store.logBatch(runID: id, metrics: [], params: [], tags: [tag])
        return JSONResponse.emptyObject
    }

    static let logModelHistoryTag = "mlflow.log-model.history"

    func searchRuns(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let experimentIDs = try f.strings("experiment_ids")
        for id in experimentIDs { try Validation.validateExperimentID(id) }
        let maxResults = try f.maxResults(default: 1000, limit: 50000)
        let filter = try SearchFilterParser.parse(try f.string("filter"), for: .runs)
        let orderBy = try f.strings("order_by").map { (s) throws(EnsembleError) in try SearchFilterParser.parseOrderBy(s, for: .runs) }
        let viewType = try Self.viewType(f, "run_view_type")
        let offset = try PageToken.decode(try f.string("page_token"))
        let page = try await store.searchRuns(
            RunSearch(experimentIDs: experimentIDs, filter: filter, orderBy: orderBy, viewType: viewType, maxResults: maxResults, offset: offset)
        )
        return JSONResponse.list("runs", page.items, nextPageToken: page.nextPageToken, bytesPerItem: 1024) { $0.run($1) }
    }

    static func viewType(_ f: RequestFields, _ name: String) throws -> ViewType {
        if let raw = try? f.string(name) {
            guard let v = ViewType(wire: raw) else {
                throw EnsembleError.invalid("Invalid value \"\(raw)\" for parameter '\(name)' supplied. Use ACTIVE_ONLY, DELETED_ONLY or ALL.")
            }
            return v
        }
        if let n = try f.int64(name) {
            guard let v = ViewType(wire: String(n)) else { throw EnsembleError.invalid("Invalid value \(n) for parameter '\(name)' supplied.") }
            return v
        }
        return .activeOnly
    }

    // MARK: Metric history

    func metricHistory(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let id = try f.runID()
        let key = try f.requiredString("metric_key")
        var limit: Int? = nil
        if let max = try f.int64("max_results") {
            guard max >= 1 else { throw EnsembleError.invalid("Invalid value \(max) for parameter 'max_results' supplied. It must be at least 1.") }
            limit = Int(Swift.min(max, 1_000_000))
        }
        let offset = try PageToken.decode(try f.string("page_token"))
        let page = try await store.metricHistory(runID: id, key: key, limit: limit, offset: offset)
        return JSONResponse.list("metrics", page.items, nextPageToken: page.nextPageToken, bytesPerItem: 96) { $0.metric($1) }
    }

    func metricHistoryBulkInterval(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let runIDs = try f.strings("run_ids")
        guard !runIDs.isEmpty else { throw EnsembleError.missing("run_ids") }
        guard runIDs.count <= 100 else {
            throw EnsembleError.invalid("GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received \(runIDs.count) run_ids.")
        }
        let key = try f.requiredString("metric_key")
        let start = try f.int64("start_step")
        let end = try f.int64("end_step")
        if (start == nil) != (end == nil) {
            throw EnsembleError.invalid("If either start step or end step are specified, both must be specified.")
        }
        if let start, let end, start > end {
            throw EnsembleError.invalid("end_step must be greater than start_step. Found start_step=\(start) and end_step=\(end).")
        }
        let maxResults = Int(clamping: try f.int64("max_results") ?? 2500)
        guard (1...2500).contains(maxResults) else {
            throw EnsembleError.invalid("max_results must be between 1 and 2500.")
        }
        let points = try await store.metricHistoryBulkInterval(runIDs: runIDs, key: key, startStep: start, endStep: end, maxResults: maxResults)
        return JSONResponse.list("metrics", points) { $0.metric($1) }
    }

    /// The UI's bulk history: whole series of one key for up to 100 runs.
    func metricHistoryBulk(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let runIDs = try f.strings("run_id")
        // MLflow's wording: scripts match on it.
        guard !runIDs.isEmpty else { throw EnsembleError.invalid("GetMetricHistoryBulk request must specify at least one run_id.") }
        guard runIDs.count <= 100 else { throw EnsembleError.invalid("GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received \(runIDs.count) run_ids.") }
        guard let key = try f.string("metric_key"), !key.isEmpty else { throw EnsembleError.invalid("GetMetricHistoryBulk request must specify a metric_key.") }
        let maxResults = try f.maxResults(default: 25000, limit: 25000)
        var all: [Metric] = []
        for id in runIDs {
            let page = try await store.metricHistory(runID: id, key: key, limit: maxResults, offset: 0)
            all += page.items.map { var m = $0; m.runID = id; return m }
        }
        all.sort { ($0.runID!, $0.timestamp, $0.step) < ($1.runID!, $1.timestamp, $1.step) }
        return JSONResponse.list("metrics", all.prefix(maxResults)) { $0.metric($1) }
    }
}

extension TrackingHandlers {
    /// Experiments, runs and metric histories, under the MLflow prefixes.
    func routes(_ limits: BodyLimits) -> RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.post("experiments/create", .edit, use: createExperiment)
        r.get("experiments/get", .read, use: getExperiment)
        r.get("experiments/get-by-name", .read, use: getExperimentByName)
        r.post("experiments/search", .read, use: searchExperiments)
        r.get("experiments/search", .read, use: searchExperiments)
        r.post("experiments/update", .edit, scope: .experiment, use: updateExperiment)
        r.post("experiments/delete", .manage, scope: .experiment, use: deleteExperiment)
        r.post("experiments/restore", .manage, scope: .experiment, use: restoreExperiment)
        r.post("experiments/set-experiment-tag", .edit, scope: .experiment, use: setExperimentTag)
        r.post("experiments/delete-experiment-tag", .edit, scope: .experiment, use: deleteExperimentTag)
        r.post("experiments/search-datasets", .read, use: searchDatasets)
        r.post("runs/create", .edit, scope: .experiment, use: createRun)
        r.get("runs/get", .read, use: getRun)
        r.post("runs/update", .edit, scope: .run, use: updateRun)
        r.post("runs/delete", .manage, scope: .run, use: deleteRun)
        r.post("runs/restore", .manage, scope: .run, use: restoreRun)
        r.post("runs/search", .read, use: searchRuns)
        r.get("runs/search", .read, use: searchRuns)
        r.post("runs/log-metric", .edit, scope: .run, use: logMetric)
        r.post("runs/log-parameter", .edit, scope: .run, use: logParameter)
        r.post("runs/set-tag", .edit, scope: .run, use: setTag)
        r.post("runs/delete-tag", .edit, scope: .run, use: deleteTag)
        r.on("runs/log-batch", method: .post, .edit, scope: .run, bodyLimit: limits.large, use: logBatch)
        r.on("runs/log-inputs", method: .post, .edit, scope: .run, bodyLimit: limits.large, use: logInputs)
        r.post("runs/outputs", .edit, scope: .run, use: logOutputs)
        r.post("runs/log-model", .edit, scope: .run, use: logModel)
        r.get("metrics/get-history", .read, use: metricHistory)
        r.get("metrics/get-history-bulk-interval", .read, use: metricHistoryBulkInterval)
        r.get("metrics/get-history-bulk", .read, use: metricHistoryBulk)
        return r
    }
}
