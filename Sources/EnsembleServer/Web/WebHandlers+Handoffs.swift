import EnsembleCore
import Foundation
import Hummingbird

struct HandoffRow {
    let id: Int64
    let title, status, statusClass, model, modelURL, sender, receiver, updated, checks: String
    /// The model URI with break points after `.`, `/` and `_` (escaped HTML).
    let modelHTML: String
    let project: String?
}

struct HandoffsView: PageView {
    let title: String
    let heading: String
    /// For a signed-in user: handoffs waiting for their decision.
    let inbox: [HandoffRow]
    let rows: [HandoffRow]
    struct Status { let name: String; let selected: Bool }
    let statuses: [Status]
    let to, from, project: String
}

struct HandoffView: PageView {
    struct Field { let name, nameHTML, value: String; let prefilled: Bool }
    struct Claim { let set, metric, claimed, recomputed, difference, tolerance, outcome, cls: String; let note: String? }
    struct Target { let metric, set, value, baseline, target, verdict, cls: String }
    struct SetRow { let name, task, columns, file: String; let dataset: String? }
    struct Event { let when, who, kind, text: String }
    let title: String
    /// The handoff's own title (`title` is the page's).
    let heading: String
    let id: Int64
    let status, statusClass, model, modelURL, modelHTML, sender, receiver: String
    let project: String?
    let contract: [Field]
    let sets: [SetRow]
    let checked: String?
    let claims: [Claim]
    let targets: [Target]
    let missing: [String]
    let events: [Event]
    /// The receiver (or an admin) sees the accept/return form while it is submitted.
    let canDecide: Bool
    let error: String?
}

struct ModelVersionView: PageView {
    struct Gate { let when, decision, cls, report: String; let who, commit, promoted: String?; let sets: [GateSet] }
    struct GateSet { let name: String; let n: Int64; let metrics: [GateMetric] }
    struct GateMetric { let name, baseline, candidate, difference, interval, rule, verdict, cls: String }
    let title: String
    let name, urlName: String
    let version: Int64
    let stage: String
    let aliases: [String]
    let runID: String?
    let source, created, description: String
    let gates: [Gate]
    let handoffs: [HandoffRow]
    var deploymentList = DeploymentList()
    var abTests: [ABView] = []
}

/// Handoff pages (a receiver's inbox, one handoff) and the model version page with its gate results.
extension WebHandlers {
    static func statusClass(_ s: HandoffStatus) -> String {
        switch s {
        case .accepted: "ok"
        case .returned: "bad"
        case .submitted: "warn"
        case .draft: ""
        }
    }

    /// The page of the model a handoff names (the version's model page, or the logged model's run).
    static func modelURL(_ uri: String) -> String {
        switch try? Handoff.parseModel(uri) {
        case .version(let name, let version)?: "/models/\(urlComponent(name))/versions/\(version)"
        default: "/models"
        }
    }

    static func handoffRow(_ h: Handoff, _ who: [String: String]) -> HandoffRow {
        let checks: String
        if let c = h.checks {
            checks = c.passed ? "\(c.claims.filter { $0.outcome == .ok }.count) claim(s) recomputed" : "\(c.problems.count) problem(s)"
        } else {
            checks = "not checked"
        }
        return HandoffRow(
            id: h.id, title: h.title, status: h.status.rawValue, statusClass: statusClass(h.status), model: h.model, modelURL: modelURL(h.model),
            sender: who[h.sender] ?? h.sender, receiver: who[h.receiver] ?? h.receiver, updated: when(h.updatedAt), checks: checks,
            modelHTML: breakableHTML(h.model), project: h.project)
    }

    func handoffsPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        guard let handoffs else { throw EnsembleError.notFound("Handoffs are not served here.") }
        let q = Self.query(r)
        func field(_ name: String) -> String? { Self.param(q, name).flatMap { $0.isEmpty ? nil : $0 } }
        var query = HandoffQuery(receiver: field("to"), sender: field("from"), project: field("project"), limit: 500)
        if let s = field("status") {
            guard let status = HandoffStatus(rawValue: s) else { throw EnsembleError.invalid("status: '\(s)' is not a handoff status.") }
            query.status = status
        }
        let who = await displayNames()
        var inbox: [HandoffRow] = []
        if let me = c.actor {
            inbox = try await handoffs.handoffs(HandoffQuery(receiver: me, status: .submitted)).map { Self.handoffRow($0, who) }
        }
        let rows = try await handoffs.handoffs(query).map { Self.handoffRow($0, who) }
        return render(
            c, "handoffs",
            HandoffsView(
                title: "Handoffs", heading: "Handoffs", inbox: inbox, rows: rows,
                statuses: HandoffStatus.allCases.map { HandoffsView.Status(name: $0.rawValue, selected: $0 == query.status) }, to: field("to") ?? "",
                from: field("from") ?? "", project: field("project") ?? ""))
    }

    func handoffPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        try await renderHandoff(c, try HandoffHandlers.id(c), error: nil)
    }

    func renderHandoff(_ c: EnsembleRequestContext, _ id: Int64, error: String?) async throws -> Response {
        guard let handoffs else { throw EnsembleError.notFound("Handoffs are not served here.") }
        let h = try await handoffs.handoff(id: id)
        let who = await displayNames()
        let contract = (HandoffContract.fields + h.contract.extra.keys.sorted()).compactMap { f in
            h.contract.value(of: f).map { HandoffView.Field(name: f, nameHTML: breakableHTML(f), value: $0, prefilled: h.prefilled.contains(f)) }
        }
        let checks = h.checks
        let claims = (checks?.claims ?? []).map { k in
            HandoffView.Claim(
                set: k.set, metric: k.metric, claimed: ClaimCheck.format(k.claimed), recomputed: k.recomputed.map(ClaimCheck.format) ?? "—",
                difference: k.difference.map { ($0 >= 0 ? "+" : "") + ClaimCheck.format($0) } ?? "—", tolerance: "±" + ClaimCheck.format(k.tolerance),
                outcome: k.outcome.rawValue, cls: k.outcome == .ok ? "ok" : (k.outcome == .unverified ? "warn" : "bad"), note: k.note)
        }
        let targets = (checks?.targets ?? []).map { t in
            let verdict: (String, String) =
                switch (t.meetsTarget, t.beatsBaseline) {
                case (true?, _): ("meets the target", "ok")
                case (false?, true?): ("beats the baseline, short of the target", "warn")
                case (false?, _): ("short of the target", "bad")
                default: ("no value", "")
                }
            return HandoffView.Target(
                metric: t.metric, set: t.set ?? "contract",
                value: (t.value.map(ClaimCheck.format) ?? "—") + (t.source == "claimed" ? " (claimed)" : ""), baseline: t.baseline.map(ClaimCheck.format) ?? "—",
                target: t.target.map(ClaimCheck.format) ?? "—", verdict: verdict.0, cls: verdict.1)
        }
        let isAdmin = c.principal?.role == .admin
        let canDecide = h.status == .submitted && (!c.authenticationRequired || c.actor == h.receiver || isAdmin)
        let view = HandoffView(
            title: "Handoff #\(h.id)", heading: h.title, id: h.id, status: h.status.rawValue, statusClass: Self.statusClass(h.status), model: h.model,
            modelURL: Self.modelURL(h.model), modelHTML: breakableHTML(h.model), sender: who[h.sender] ?? h.sender, receiver: who[h.receiver] ?? h.receiver, project: h.project,
            contract: contract,
            sets: h.sets.map { s in
                HandoffView.SetRow(
                    name: s.name, task: s.task,
                    columns: "label \(s.labelColumn), prediction \(s.predictionColumn)" + (s.scoreColumn.map { ", score \($0)" } ?? ""),
                    file: s.predictions.map { "\($0.name) (\($0.size) bytes, sha256 \($0.sha256.prefix(12))…)" } ?? "—", dataset: s.dataset)
            },
            checked: checks.map { Self.when($0.at) }, claims: claims, targets: targets, missing: checks?.missing ?? [],
            events: h.events.reversed().map { HandoffView.Event(when: Self.when($0.at), who: $0.by.map { who[$0] ?? $0 } ?? "", kind: $0.kind, text: $0.text) },
            canDecide: canDecide, error: error)
        return render(c, "handoff", view, status: error == nil ? .ok : .badRequest)
    }

    struct DecisionForm: Decodable {
        var decision: String?
        var text: String?
    }

    /// The receiver's accept / return form on the handoff page.
    func decideHandoff(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        guard let actions = handoffActions else { throw EnsembleError.notFound("Handoffs are not served here.") }
        let id = try HandoffHandlers.id(c)
        let form = try await Self.form(DecisionForm.self, r)
        let text = (form.text ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            switch form.decision {
            case "accept": _ = try await actions.decide(c, .accepted, text: text)
            case "return":
                guard !text.isEmpty else { throw EnsembleError.invalid("Say why the handoff goes back, so the sender knows what to fix.") }
                _ = try await actions.decide(c, .returned, text: text)
            default: throw EnsembleError.invalid("Choose accept or return.")
            }
        } catch let e as EnsembleError where e.code == .invalidParameterValue {
            return try await renderHandoff(c, id, error: e.message)
        }
        return Self.redirect("/handoffs/\(id)")
    }

    func modelVersionPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let name = try c.capture("name")
        let number = try c.positiveCapture("version", of: "A model version")
        let v = try await registry.modelVersion(name: name, version: number)
        let who = await displayNames()
        let records = try await handoffs?.gateRecords(name: name, version: number) ?? []
        let gates = records.map { g in
            let summary = try? JSONDecoder().decode(GateSummary.self, from: Data(g.result.utf8))
            return ModelVersionView.Gate(
                when: Self.when(g.at), decision: g.decision, cls: g.decision == "pass" ? "ok" : "bad", report: g.report,
                who: g.actor.map { who[$0] ?? $0 }, commit: g.commit, promoted: g.promoted,
                sets: (summary?.sets ?? []).map { s in
                    ModelVersionView.GateSet(
                        name: s.name, n: s.n,
                        metrics: s.metrics.map { m in
                            ModelVersionView.GateMetric(
                                name: m.name, baseline: ClaimCheck.format(m.baseline), candidate: ClaimCheck.format(m.candidate),
                                difference: (m.difference >= 0 ? "+" : "") + ClaimCheck.format(m.difference),
                                interval: "[\(ClaimCheck.format(m.ciLow)), \(ClaimCheck.format(m.ciHigh))]",
                                rule: m.rule + (m.floor.map { " ≥ \(ClaimCheck.format($0))" } ?? (m.margin.map { $0 == 0 ? "" : " δ \(ClaimCheck.format($0))" } ?? "")),
                                verdict: m.passed ? "pass" : "fail", cls: m.passed ? "ok" : "bad")
                        })
                })
        }
        let handoffRows = try await handoffs?.handoffs(HandoffQuery(model: "models:/\(name)/\(number)")).map { Self.handoffRow($0, who) } ?? []
        var view = ModelVersionView(
                title: "\(name) v\(number)", name: name, urlName: Self.urlComponent(name), version: number, stage: v.currentStage.rawValue, aliases: v.aliases,
                runID: v.runID, source: v.source, created: Self.when(v.creationTimestamp), description: v.description ?? "", gates: gates, handoffs: handoffRows)
        view.deploymentList.rows = try await deployments?.deployments(DeploymentQuery(name: name, version: number)).map { Self.deploymentRow($0, who) } ?? []
        view.abTests = try await deployments?.abResults(project: nil, model: "models:/\(name)/\(number)").map { Self.abView($0, business: []) } ?? []
        return render(c, "modelVersion", view)
    }
}
