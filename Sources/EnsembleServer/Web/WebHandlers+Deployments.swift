import EnsembleCore
import Foundation
import Hummingbird

struct DeploymentRow {
    let id: Int64
    let model, modelURL, modelHTML, environment, status, statusClass, traffic, updated, by: String
    let commit, project: String?
}

/// A table of deployments inside another page (a model version's, a project's).
struct DeploymentList {
    var rows: [DeploymentRow] = []
}

struct DeploymentsView: PageView {
    struct Environment {
        let name, kind: String
        let url, region: String?
        let rows: [DeploymentRow]
    }
    struct Change { let when, model, modelURL, modelHTML, environment, status, statusClass, traffic, by: String; let commit, note: String? }
    let title: String
    let environments: [Environment]
    let changes: [Change]
}

/// "What runs where": every environment with its active deployments, and the history of changes.
extension WebHandlers {
    static func statusClass(_ s: DeploymentStatus) -> String {
        switch s {
        case .live: "ok"
        case .deploying: "warn"
        case .rolledBack: "bad"
        case .retired: ""
        }
    }

    static func versionURL(_ d: Deployment) -> String { "/models/\(urlComponent(d.name))/versions/\(d.version)" }

    /// One line of a deployment's history, for the tables of changes.
    static func change(_ d: Deployment, _ e: DeploymentEvent, _ who: [String: String]) -> DeploymentsView.Change {
        DeploymentsView.Change(
            when: when(e.at), model: d.model, modelURL: versionURL(d), modelHTML: breakableHTML(d.model), environment: d.environment, status: e.status.rawValue,
            statusClass: statusClass(e.status), traffic: e.status.isActive ? share(e.traffic) : "—", by: e.by.map { who[$0] ?? $0 } ?? "",
            commit: e.commit, note: e.note)
    }

    static func share(_ traffic: Double) -> String { "\(Int((traffic * 100).rounded()))%" }

    static func deploymentRow(_ d: Deployment, _ who: [String: String]) -> DeploymentRow {
        let last = d.history.last
        return DeploymentRow(
            id: d.id, model: d.model, modelURL: versionURL(d), modelHTML: breakableHTML(d.model), environment: d.environment,
            status: d.status.rawValue, statusClass: statusClass(d.status), traffic: d.status.isActive ? share(d.traffic) : "—", updated: when(d.updatedAt),
            by: last?.by.map { who[$0] ?? $0 } ?? "", commit: d.history.last { $0.commit != nil }?.commit, project: d.project)
    }

    func deploymentsPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        guard let deployments else { throw EnsembleError.notFound("Deployments are not served here.") }
        let who = await displayNames()
        let all = try await deployments.deployments(DeploymentQuery())
        let environments = try await deployments.environments().map { e in
            DeploymentsView.Environment(
                name: e.name, kind: e.kind.rawValue, url: e.url, region: e.region,
                rows: all.filter { $0.environment == e.name && $0.status.isActive }.sorted { $0.traffic > $1.traffic }.map { Self.deploymentRow($0, who) })
        }
        let changes = all.flatMap { d in d.history.map { (d, $0) } }.sorted { $0.1.at > $1.1.at }.prefix(200).map { Self.change($0, $1, who) }
        return render(c, "deployments", DeploymentsView(title: "What runs where", environments: environments, changes: Array(changes)))
    }
}

/// A stored A/B analysis on a project's or a model version's page.
struct ABView {
    struct Metric { let name, control, treatment, relative, interval, p, cls: String; let guardrail: Bool; let baseline, target, targetVerdict, targetClass: String? }
    let id: Int64
    let title, when, summary: String
    let controlModel, treatmentModel, controlURL, treatmentURL: String?
    let srmFlagged: Bool
    let metrics: [Metric]
}

extension WebHandlers {
    /// The analysis with each metric beside the project's business metric of the same name (its baseline
    /// and target), when there is one.
    static func abView(_ r: ABResult, business: [ProjectMetric]) -> ABView {
        let summary = try? ABSummary.decoder.decode(ABSummary.self, from: Data(r.result.utf8))
        func url(_ uri: String?) -> String? { uri.map(modelURL) }
        let metrics = (summary?.metrics ?? []).map { m -> ABView.Metric in
            let target = business.first { $0.name == m.name }
            let significant = m.ciLow > 0 || m.ciHigh < 0
            var verdict: (String, String)?
            if let target, let goal = target.target {
                let meets = target.higherIsBetter ? m.treatmentMean >= goal : m.treatmentMean <= goal
                verdict = meets ? ("the new model reaches the target", "ok") : ("short of the target", "warn")
            }
            return ABView.Metric(
                name: m.name, control: number(m.controlMean), treatment: number(m.treatmentMean),
                relative: m.relativeLift.isFinite ? String(format: "%+.1f%%", m.relativeLift * 100) : "—",
                interval: "[\(number(m.ciLow)), \(number(m.ciHigh))]", p: String(format: "%.2g", m.adjustedPValue),
                cls: m.gotWorse == true ? "bad" : (significant ? "ok" : ""), guardrail: m.guardrail ?? false,
                baseline: target?.baseline.map(number), target: target?.target.map(number), targetVerdict: verdict?.0, targetClass: verdict?.1)
        }
        return ABView(
            id: r.id, title: r.title, when: when(r.at), summary: r.summary, controlModel: r.controlModel, treatmentModel: r.treatmentModel,
            controlURL: url(r.controlModel), treatmentURL: url(r.treatmentModel), srmFlagged: r.srmPValue < 0.001, metrics: metrics)
    }
}

struct DeploymentView: PageView {
    struct Cell { let text, cls, title: String }
    struct HeatRow { let column, kind: String; let cells: [Cell] }
    struct Chart { let name, readout, svg, claim: String }
    let title: String
    let id: Int64
    let model, modelURL, modelHTML, environment, status, statusClass, traffic: String
    let project: String?
    /// The reference data windows are compared with (`datasets:/NAME@V`), its page and where it came from;
    /// or why there is none.
    let reference, referenceHTML, referenceURL, referenceSource, referenceMissing: String?
    let changes: [DeploymentsView.Change]
    let windows: [String]
    let shares: [Cell]
    let heat: [HeatRow]
    let charts: [Chart]
}

extension WebHandlers {
    /// One deployment: its history, a column × window drift heatmap, and each production metric's series
    /// against the value claimed at handoff.
    func deploymentPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        guard let deployments else { throw EnsembleError.notFound("Deployments are not served here.") }
        let id = try DeploymentHandlers.deploymentID(c)
        let d = try await deployments.deployment(id: id)
        let windows = try await deployments.driftWindows(deployment: id)
        let who = await displayNames()
        let modelURL = Self.versionURL(d)
        let changes = d.history.reversed().map { Self.change(d, $0, who) }
        var names: [String] = [], kinds: [String: String] = [:]
        for w in windows {
            for col in w.columns where kinds[col.column] == nil {
                names.append(col.column)
                kinds[col.column] = col.kind
            }
        }
        let heat = names.map { name in
            DeploymentView.HeatRow(
                column: name, kind: kinds[name] ?? "",
                cells: windows.map { w in
                    guard let col = w.columns.first(where: { $0.column == name }) else { return DeploymentView.Cell(text: "—", cls: "", title: "not in this window") }
                    let distance = col.kind == "numeric" ? col.wassersteinNormed ?? col.statistic : col.jensenShannon ?? col.statistic
                    return DeploymentView.Cell(
                        text: SVGChart.fmt(distance), cls: col.drifted ? "drift" : "calm",
                        title: "\(col.kind == "numeric" ? "Wasserstein / sd" : "Jensen–Shannon") \(SVGChart.fmt(distance)), p = \(String(format: "%.3g", col.pValue))\(col.drifted ? ", drifted" : "")")
                })
        }
        // The claims made at handoff for this version (checked on submit): an accepted handoff's, else a
        // submitted one's, the test set first.
        var claims: [String: Double] = [:]
        if let handoffs {
            let acceptedOne = try await handoffs.handoffs(HandoffQuery(status: .accepted, model: d.model)).first
            let submittedOne = try await handoffs.handoffs(HandoffQuery(status: .submitted, model: d.model)).first
            let accepted = acceptedOne ?? submittedOne
            for set in (accepted?.sets ?? []).sorted(by: { ($0.name == "test" ? 0 : 1) < ($1.name == "test" ? 0 : 1) }) {
                for claim in set.claims where claims[claim.metric] == nil { claims[claim.metric] = claim.value }
            }
        }
        let metricNames = Set(windows.flatMap { $0.metrics.keys }).sorted()
        var reference: DeploymentReference?, referenceMissing: String?
        do { reference = try await references?.resolve(d) } catch let error as EnsembleError { referenceMissing = error.message }
        let referenceName = reference.map { String($0.reference.dropFirst("datasets:/".count)) }
        let charts = metricNames.enumerated().map { i, name in
            let points = windows.enumerated().compactMap { k, w in w.metrics[name].map { (Double(k + 1), $0) } }
            var series = [SVGChart.Series(name: "production", points: points)]
            if let claim = claims[name], let first = points.first, let last = points.last {
                series.append(SVGChart.Series(name: "claimed at handoff", points: [(first.0, claim), (last.0, claim)], color: "#888"))
            }
            return DeploymentView.Chart(
                name: name, readout: "metric-\(i)", svg: SVGChart.line(series, xLabel: "window", readout: "metric-\(i)"),
                claim: claims[name].map { "claimed at handoff: \(ClaimCheck.format($0))" } ?? "no claim at handoff")
        }
        return render(
            c, "deployment",
            DeploymentView(
                title: "\(d.model) in \(d.environment)", id: d.id, model: d.model, modelURL: modelURL, modelHTML: breakableHTML(d.model), environment: d.environment, status: d.status.rawValue,
                statusClass: Self.statusClass(d.status), traffic: d.status.isActive ? Self.share(d.traffic) : "—", project: d.project,
                reference: referenceName, referenceHTML: referenceName.map(breakableHTML), referenceURL: referenceName.map { "/datasets/" + Self.urlComponent(String($0.prefix { $0 != "@" })) },
                referenceSource: reference?.source, referenceMissing: referenceMissing, changes: changes,
                windows: windows.map(\.label),
                shares: windows.map { DeploymentView.Cell(text: "\(Int((($0.driftShare) * 100).rounded()))%", cls: $0.drifted ? "drift" : "calm", title: $0.drifted ? "the dataset drifted" : "") },
                heat: heat, charts: charts))
    }
}
