import EnsembleArtifacts
import EnsembleCore
import EnsembleEval
import Foundation
import Hummingbird

/// Recomputes a handoff's claims from its stored predictions with EnsembleEval, and checks the
/// handoff against its project's checklist.
struct HandoffReviewer: Sendable {
    let content: any BlobStorage

    /// Every claim of every set, against Ensemble's own computation.
    func recompute(_ handoff: Handoff) async -> [ClaimCheck] {
        var out: [ClaimCheck] = []
        for set in handoff.sets {
            out += await recompute(set)
        }
        return out
    }

    func recompute(_ set: HandoffSet) async -> [ClaimCheck] {
        func all(_ outcome: ClaimCheck.Outcome, _ note: String) -> [ClaimCheck] {
            set.claims.map { ClaimCheck(set: set.name, metric: $0.metric, claimed: $0.value, recomputed: nil, tolerance: $0.allowed, outcome: outcome, note: note) }
        }
        guard let task = EvalTask(rawValue: set.task) else {
            return all(.error, "set '\(set.name)' has task '\(set.task)'; tasks are \(EvalTask.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let file = set.predictions else { return all(.error, "set '\(set.name)' has no predictions file") }
        let computable = set.claims.map(\.metric).filter { task.metrics.contains($0) }
        let report: EvalReport
        do {
            // A bucket's content is copied to a scratch file for the evaluator, and removed after.
            let evaluated: Result<EvalReport, EvalFailure>? = try await content.withLocalFile(file.sha256) { path in
                var options = EvalOptions(file: path, task: task)
                options.format = TableReader.Format.guess(file.name)
                options.metrics = computable
                options.labelColumn = set.labelColumn
                options.predictionColumn = set.predictionColumn
                options.scoreColumn = set.scoreColumn
                options.posLabel = set.posLabel
                options.average = set.average
                let o = options
                do {
                    return .success(try await Task.detached { try Evaluation.run(o) }.value)
                } catch {
                    // Name the file the sender knows, not the blob's path on the server.
                    return .failure(EvalFailure(message: "\(error)".replacingOccurrences(of: path, with: file.name)))
                }
            }
            guard let evaluated else { return all(.error, "the predictions file \(file.name) was never uploaded") }
            switch evaluated {
            case .success(let r): report = r
            case .failure(let failure): return all(.error, "\(file.name) could not be evaluated: \(failure.message)")
            }
        } catch {
            return all(.error, "\(error)")
        }
        return set.claims.map { claim in
            guard task.metrics.contains(claim.metric) else {
                return ClaimCheck(
                    set: set.name, metric: claim.metric, claimed: claim.value, recomputed: nil, tolerance: claim.allowed, outcome: .unverified,
                    note: "Ensemble cannot compute '\(claim.metric)' for \(task.rawValue); the claim rests on the sender's word")
            }
            guard let value = report.value(claim.metric) else {
                return ClaimCheck(
                    set: set.name, metric: claim.metric, claimed: claim.value, recomputed: nil, tolerance: claim.allowed, outcome: .error,
                    note: "\(claim.metric) could not be computed from \(file.name)")
            }
            let ok = value.isFinite && abs(value - claim.value) <= claim.allowed
            return ClaimCheck(set: set.name, metric: claim.metric, claimed: claim.value, recomputed: value, tolerance: claim.allowed, outcome: ok ? .ok : .mismatch)
        }
    }

    /// The checklist and the recomputation together.
    func review(_ handoff: Handoff, project: Project?, at: Int64) async -> HandoffChecks {
        let checklist = project?.handoffChecklist ?? .standard
        let technical = project?.technicalMetrics ?? []
        let missing = checklist.missing(in: handoff, projectMetrics: technical) { EvalTask.allMetrics.contains($0) }
        let claims = await recompute(handoff)
        return HandoffChecks(at: at, missing: missing, claims: claims, targets: HandoffChecks.targets(project: technical, handoff: handoff, claims: claims))
    }
}

/// Why a predictions file could not be evaluated, in the sender's terms.
struct EvalFailure: Error {
    var message: String
}

/// `/api/v1/handoffs`: a model handed from its builder to the person who runs it, and
/// `/api/v1/models/{name}/versions/{version}/gates`: release gate results on a model version.
struct HandoffHandlers: Sendable {
    let handoffs: any HandoffStore
    let team: any TeamStore
    let registry: any RegistryStore
    let tracking: any TrackingStore
    let models: any LoggedModelStore
    let datasets: any StoredDatasetStore
    let identity: any IdentityStore
    let reviewer: HandoffReviewer

    static func now() -> Int64 { TrackingHandlers.now() }

    // MARK: Reading

    func list(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        var q = HandoffQuery(receiver: try f.string("to"), sender: try f.string("from"), project: try f.string("project"), model: try f.string("model"))
        if let raw = try f.string("status") {
            guard let s = HandoffStatus(rawValue: raw) else {
                throw EnsembleError.invalid("status: '\(raw)' is not a handoff status; use \(HandoffStatus.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            q.status = s
        }
        q.limit = try f.maxResults(default: 100, limit: 1000)
        struct Answer: Encodable { let handoffs: [Handoff] }
        return try CodableResponse.ok(Answer(handoffs: try await handoffs.handoffs(q)))
    }

    func get(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        try CodableResponse.ok(try await handoffs.handoff(id: try Self.id(context)))
    }

    static func id(_ context: EnsembleRequestContext) throws -> Int64 {
        try context.positiveCapture("id", of: "A handoff id")
    }

    // MARK: Writing

    /// `POST /handoffs`: a new draft. With authentication on, the sender is the caller.
    func create(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        var h = try await request.decodeJSON(Handoff.self, context)
        if context.authenticationRequired, let actor = context.actor { h.sender = actor }
        h.events = []
        h.checks = nil
        try await checkReferences(&h, context: context)
        let stored = try await handoffs.createHandoff(h)
        return try CodableResponse.ok(stored, status: .created)
    }

    /// `PUT /handoffs/{id}`: the sender edits a draft or a returned handoff.
    func update(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let id = try Self.id(context)
        var edited = try await request.decodeJSON(Handoff.self, context)
        let current = try await handoffs.handoff(id: id)
        try requireSender(current, context)
        edited.sender = current.sender
        edited.prefilled = []
        try await checkReferences(&edited, context: context)
        let actor = context.actor ?? current.sender
        let next = edited
        let saved = try await handoffs.updateHandoff(id: id) { h in
            guard h.status == .draft || h.status == .returned else {
                throw EnsembleError.invalid("Handoff #\(h.id) is \(h.status.rawValue); only a draft or a returned handoff can be edited.")
            }
            (h.title, h.project, h.model, h.receiver, h.contract, h.sets, h.prefilled) = (next.title, next.project, next.model, next.receiver, next.contract, next.sets, next.prefilled)
            h.checks = nil
            h.events.append(HandoffEvent(kind: "edited", by: actor, at: Self.now()))
        }
        return try CodableResponse.ok(saved)
    }

    /// `POST /handoffs/{id}/submit`: checks completeness and recomputes every claim. When both
    /// hold, the handoff goes to the receiver; otherwise it stays with the sender and the answer is a
    /// 400 listing every problem (the checks are kept on the handoff either way).
    func submit(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let id = try Self.id(context)
        let current = try await handoffs.handoff(id: id)
        try requireSender(current, context)
        guard current.status == .draft || current.status == .returned else {
            throw EnsembleError.invalid("Handoff #\(id) is \(current.status.rawValue); only a draft or a returned handoff can be submitted.")
        }
        let project: Project? = if let p = current.project { try await team.project(id: p) } else { nil }
        let now = Self.now()
        let checks = await reviewer.review(current, project: project, at: now)
        let actor = context.actor ?? current.sender
        let revision = current.revision
        let saved = try await handoffs.updateHandoff(id: id) { h in
            guard h.revision == revision else {
                throw EnsembleError.invalid("Handoff #\(h.id) changed while it was being checked; submit it again.")
            }
            h.checks = checks
            if checks.passed {
                h.status = .submitted
                let recomputed = checks.claims.filter { $0.outcome == .ok }.count, unverified = checks.claims.count - recomputed
                h.events.append(HandoffEvent(kind: "submitted", by: actor, at: now, text: "\(recomputed) claim(s) recomputed" + (unverified > 0 ? ", \(unverified) unverified" : "")))
            } else {
                h.events.append(HandoffEvent(kind: "refused", by: actor, at: now, text: checks.problems.joined(separator: " ")))
            }
        }
        guard checks.passed else {
            throw EnsembleError.invalid("Handoff #\(id) was not submitted: " + checks.problems.joined(separator: " ") + " Fix them and submit again.")
        }
        return try CodableResponse.ok(saved)
    }

    /// `POST /handoffs/{id}/accept {"comment"}`: the receiver takes the model over.
    func accept(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        return try await decide(context, .accepted, text: try f.string("comment") ?? "")
    }

    /// `POST /handoffs/{id}/return {"reason"}`: back to the sender, with the reason.
    func sendBack(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let reason = (try f.string("reason") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw EnsembleError.invalid("reason: say why the handoff goes back, so the sender knows what to fix.") }
        return try await decide(context, .returned, text: reason)
    }

    /// The receiver's decision on a submitted handoff: accepting needs its checks passed.
    func decide(_ context: EnsembleRequestContext, _ status: HandoffStatus, text: String) async throws -> Response {
        let id = try Self.id(context)
        guard text.count <= 4000 else { throw EnsembleError.invalid("At most 4000 characters of comment or reason.") }
        let current = try await handoffs.handoff(id: id)
        try requireReceiver(current, context)
        let actor = context.actor ?? current.receiver
        let verb = status == .accepted ? "accepted" : "returned"
        let saved = try await handoffs.updateHandoff(id: id) { h in
            guard h.status == .submitted else {
                throw EnsembleError.invalid("Handoff #\(h.id) is \(h.status.rawValue); only a submitted handoff can be \(verb).")
            }
            if status == .accepted, !(h.checks?.passed ?? false) {
                throw EnsembleError.invalid("Handoff #\(h.id) cannot be accepted: " + (h.checks?.problems ?? ["it was never checked."]).joined(separator: " "))
            }
            h.status = status
            h.events.append(HandoffEvent(kind: verb, by: actor, at: Self.now(), text: text))
        }
        return try CodableResponse.ok(saved)
    }

    /// `POST /handoffs/{id}/comments {"text", "by"}`: anyone who reads it may comment, at any status.
    func comment(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let id = try Self.id(context)
        let f = try await request.fields(context)
        let text = (try f.string("text") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, text.count <= 4000 else { throw EnsembleError.invalid("text: a comment is 1 to 4000 characters.") }
        let given = try f.string("by")
        let by = context.actor ?? given
        let saved = try await handoffs.updateHandoff(id: id) { h in
            h.events.append(HandoffEvent(kind: "commented", by: by, at: Self.now(), text: text))
        }
        return try CodableResponse.ok(saved)
    }

    // MARK: Checks

    func requireSender(_ h: Handoff, _ context: EnsembleRequestContext) throws {
        guard context.authenticationRequired, let p = context.principal, p.role != .admin else { return }
        guard p.name == h.sender else { throw EnsembleError.denied("Only the sender '\(h.sender)' (or an admin) can change handoff #\(h.id).") }
    }

    func requireReceiver(_ h: Handoff, _ context: EnsembleRequestContext) throws {
        guard context.authenticationRequired, let p = context.principal, p.role != .admin else { return }
        guard p.name == h.receiver else { throw EnsembleError.denied("Only the receiver '\(h.receiver)' (or an admin) can accept or return handoff #\(h.id).") }
    }

    /// The model, project, receiver, datasets and files must exist; contract fields left out are
    /// filled from the model's params, metrics and tags.
    func checkReferences(_ h: inout Handoff, context: EnsembleRequestContext) async throws {
        try h.validate()
        var values: [String: String] = [:]
        func add(_ pairs: [(String, String)]) {
            for (k, v) in pairs where values[k] == nil { values[k] = v }
        }
        switch try Handoff.parseModel(h.model) {
        case .version(let name, let version):
            let v = try await registry.modelVersion(name: name, version: version)
            add(v.tags.map { ($0.key, $0.value) })
            if let modelID = v.modelID, let m = try? await models.loggedModel(id: modelID, allowDeleted: false) {
                add(Self.values(m))
            }
            if let runID = v.runID, let run = try? await tracking.run(id: runID) {
                add(run.params.map { ($0.key, $0.value) } + run.metrics.map { ($0.key, Self.text($0.value)) } + run.tags.map { ($0.key, $0.value) })
            }
        case .logged(let id):
            let m = try await models.loggedModel(id: id, allowDeleted: false)
            add(Self.values(m))
            if let runID = m.sourceRunID, let run = try? await tracking.run(id: runID) {
                add(run.params.map { ($0.key, $0.value) } + run.metrics.map { ($0.key, Self.text($0.value)) })
            }
        }
        h.prefilled = h.contract.prefill(from: values)
        if let project = h.project { _ = try await team.project(id: project) }
        if context.authenticationRequired {
            guard let user = try await identity.user(named: h.receiver), !user.disabled else {
                throw EnsembleError.invalid("receiver: there is no active user '\(h.receiver)'.")
            }
        }
        for s in h.sets {
            if let d = s.dataset {
                let (name, version) = try Handoff.parseDataset(d, set: s.name)
                do { _ = try await datasets.storedDatasetVersion(name: name, version: version) } catch let e as EnsembleError where e.code == .resourceDoesNotExist {
                    throw EnsembleError.invalid("sets.\(s.name).dataset: \(e.message)")
                }
            }
            if let file = s.predictions {
                guard let size = try await reviewer.content.size(of: file.sha256) else {
                    throw EnsembleError.invalid("sets.\(s.name).predictions: \(file.name) (\(file.sha256.prefix(12))…) is not uploaded; PUT it to /api/v1/blobs/{sha256} first.")
                }
                guard size == file.size else { throw EnsembleError.invalid("sets.\(s.name).predictions: \(file.name) is \(size) bytes on the server, not \(file.size).") }
            }
        }
    }

    static func values(_ m: LoggedModel) -> [(String, String)] {
        m.params.map { ($0.key, $0.value) } + m.metrics.map { ($0.key, text($0.value)) } + m.tags.map { ($0.key, $0.value) }
    }

    static func text(_ v: Double) -> String { v == v.rounded() && abs(v) < 9e15 ? String(Int64(v)) : String(v) }

    // MARK: Release gates

    struct GateUpload: Decodable {
        var result: GateSummary
        var report: String?
        var commit: String?
        var promote: String?
    }

    /// `POST /models/{name}/versions/{version}/gates {"result": <ensemble gate --json>, "report", "commit", "promote"}`.
    /// Recording needs EDIT on the model; `promote` (an alias moved only when the gate passed) needs MANAGE.
    func recordGate(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let name = try context.capture("name")
        let version = try context.positiveCapture("version", of: "A model version")
        let body = try await request.decodeJSON(GateUpload.self, context)
        try body.result.validate()
        if let commit = body.commit, commit.count > 200 { throw EnsembleError.invalid("commit: at most 200 characters.") }
        try await context.requireOnModel(body.promote == nil ? .edit : .manage, name)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let record = GateRecord(
            name: name, version: version, decision: body.result.decision, commit: body.commit, actor: context.actor,
            result: String(decoding: try encoder.encode(body.result), as: UTF8.self), report: body.report ?? "")
        return try CodableResponse.ok(try await handoffs.recordGate(record, promote: body.promote), status: .created)
    }

    func gates(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let name = try context.capture("name")
        let version = try context.positiveCapture("version", of: "A model version")
        _ = try await registry.modelVersion(name: name, version: version)
        struct Answer: Encodable { let gates: [GateRecord] }
        return try CodableResponse.ok(Answer(gates: try await handoffs.gateRecords(name: name, version: version)))
    }

    var routes: RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.get("handoffs", .read, use: list)
        r.post("handoffs", .edit, use: create)
        r.get("handoffs/{id}", .read, use: get)
        r.put("handoffs/{id}", .edit, use: update)
        r.post("handoffs/{id}/submit", .edit, use: submit)
        r.post("handoffs/{id}/accept", .edit, use: accept)
        r.post("handoffs/{id}/return", .edit, use: sendBack)
        r.post("handoffs/{id}/comments", .edit, use: comment)
        r.get("models/{name}/versions/{version}/gates", .read, use: gates)
        r.post("models/{name}/versions/{version}/gates", .edit, use: recordGate)
        return r
    }
}
