import EnsembleArtifacts
import EnsembleCore
import EnsembleJSON
import Foundation
import Hummingbird
import Mustache
import NIOCore

/// The web UI: server-rendered pages over the same stores as the APIs.
struct WebHandlers: Sendable {
    let tracking: any TrackingStore
    let registry: any RegistryStore
    let team: any TeamStore
    let files: ArtifactHandlers
    let lineage: LineageBuilder
    let datasets: any DatasetCatalog
    let stored: any StoredDatasetStore
    let library: MustacheLibrary

    typealias Context = [String: Any]

    // MARK: Plumbing

    /// Security headers (CSP, nosniff, referrer policy) are added by ``SecurityHeadersMiddleware``.
    static let pageHeaders: HTTPFields = [.contentType: "text/html; charset=utf-8"]

    func render(_ template: String, _ context: Context, status: HTTPResponse.Status = .ok) -> Response {
        let html = library.render(Self.unwrapped(context) as Any, withTemplate: template) ?? "template \(template) missing"
        return Response(status: status, headers: Self.pageHeaders, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// Removes `nil` optionals (a template must see them as absent, not as the text "nil") and unwraps
    /// the others, through nested dictionaries and arrays.
    static func unwrapped(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let inner = mirror.children.first?.value else { return nil }
            return unwrapped(inner)
        }
        if let dict = value as? [String: Any] {
            var out: [String: Any] = [:]
            for (k, v) in dict { if let u = unwrapped(v) { out[k] = u } }
            return out
        }
        if let array = value as? [Any] { return array.compactMap { unwrapped($0) } }
        return value
    }

    /// The HTML error page (``ErrorMiddleware`` uses it for every page that fails).
    func errorPage(_ status: HTTPResponse.Status, heading: String, message: String) -> Response {
        render("error", ["title": "Error", "heading": heading, "message": message], status: status)
    }

    static func query(_ request: Request) -> [(String, String)] { (try? RequestFields.parseQuery(request.uri.query)) ?? [] }
    static func param(_ q: [(String, String)], _ name: String) -> String? { q.first { $0.0 == name }?.1 }

    static let timeFormat: DateFormatter = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm"
        return f
    }()
    static func when(_ ms: Int64) -> String { timeFormat.string(from: Date(timeIntervalSince1970: Double(ms) / 1000)) + " UTC" }
    static func number(_ v: Double) -> String { v.isFinite ? SVGChart.fmt(v) : (v.isNaN ? "NaN" : (v > 0 ? "∞" : "-∞")) }
    static func pct(_ v: Double?) -> String { v.map { String(format: "%.0f%%", $0 * 100) } ?? "—" }
    static func urlComponent(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
    static func statusClass(_ s: RunStatus) -> String {
        switch s {
        case .finished: "ok"
        case .failed, .killed: "bad"
        default: "warn"
        }
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=3600"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func css(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response { Self.asset(WebAssets.css, type: "text/css; charset=utf-8") }
    func js(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response { Self.asset(WebAssets.js, type: "text/javascript; charset=utf-8") }
    func favicon(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response { Self.asset(WebAssets.favicon, type: "image/svg+xml") }

    // MARK: Home

    /// Working days late (positive) or ahead at P80, for a project with tasks, a start and a due date.
    static func slip(_ p: Project, trials: Int = 2000) -> (p50: Int, p80: Int, result: ForecastResult)? {
        guard p.stage != .done, p.stage != .cancelled, let start = p.startDate, let due = p.dueDate, !p.tasks.isEmpty,
            let plan = try? ForecastPlan(tasks: p.tasks), let f = try? Forecast.simulate(plan, trials: trials, seed: 0),
            let s50 = Forecast.slip(finishDays: f.p50, start: start, due: due), let s80 = Forecast.slip(finishDays: f.p80, start: start, due: due)
        else { return nil }
        return (s50, s80, f)
    }

    static func lateness(_ p80: Int) -> (text: String, cls: String) {
        p80 > 0 ? ("late by \(p80) working day(s) at P80", "bad") : ("on track (P80 \(-p80) working day(s) early)", "ok")
    }

    func board(_ projects: [Project]) -> [Context] {
        ProjectStage.allCases.map { stage in
            let items = projects.filter { $0.stage == stage }
            return ["name": stage.rawValue, "count": items.count, "projects": items.map { p -> Context in
                var item: Context = ["id": p.id, "name": p.name, "owner": p.owners[stage.rawValue] as Any]
                if let s = Self.slip(p) {
                    let l = Self.lateness(s.p80)
                    item["late"] = l.text
                    item["lateClass"] = l.cls
                }
                return item
            }]
        }
    }

    func home(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let experiments = try await tracking.searchExperiments(ExperimentSearch(maxResults: 1000)).items
        let weekAgo = Int64(Date().timeIntervalSince1970 * 1000) - 7 * 86_400_000
        var recent: [Run] = []
        var count = 0
        if !experiments.isEmpty {
            let filter = try SearchFilterParser.parse("attributes.start_time >= \(weekAgo)", for: .runs)
            let order = try SearchFilterParser.parseOrderBy("attributes.start_time DESC", for: .runs)
            let page = try await tracking.searchRuns(RunSearch(experimentIDs: experiments.map(\.id), filter: filter, orderBy: [order], maxResults: 1001))
            count = page.items.count
            recent = Array(page.items.prefix(8))
        }
        let names = Dictionary(experiments.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let models = try await registry.searchRegisteredModels(RegistrySearch(filter: [], orderBy: [try SearchFilterParser.parseOrderBy("last_updated_timestamp DESC", for: .registeredModels)], maxResults: 6)).items
        let activity = try await team.activity(project: nil, limit: 15)
        // Counting stops at 1,000 so the home page stays one bounded query.
        var ctx: Context = ["title": "Home", "runsThisWeek": count > 1000 ? "1,000+" : String(count)]
        ctx["recentRuns"] = recent.map { run -> Context in
            ["id": run.info.runID, "name": run.info.runName, "experiment": names[run.info.experimentID] ?? run.info.experimentID, "when": Self.when(run.info.startTime)]
        }
        ctx["models"] = models.map { m -> Context in
            let latest: String = m.latestVersions.map(\.version).max().map { String($0) } ?? "-"
            return ["name": m.name, "urlName": Self.urlComponent(m.name), "aliases": m.aliases.map(\.key), "latest": latest]
        }
        ctx["activity"] = activity.map { a -> Context in ["when": Self.when(a.at), "project": a.project as Any, "summary": a.summary, "actor": a.actor as Any] }
        ctx["stages"] = board(try await team.projects())
        return render("home", ctx)
    }

    // MARK: Experiments and runs

    func experiments(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let q = Self.param(Self.query(r), "q") ?? ""
        var all = try await tracking.searchExperiments(ExperimentSearch(maxResults: 1000)).items
        if !q.isEmpty { all = all.filter { $0.name.localizedCaseInsensitiveContains(q) } }
        return render("experiments", [
            "title": "Experiments", "q": q,
            "experiments": all.map { ["id": $0.id, "name": $0.name, "updated": Self.when($0.lastUpdateTime)] },
        ])
    }

    static let pageSize = 50

    func experimentRuns(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let experiment = try await tracking.experiment(id: try c.capture("id"))
        let q = Self.query(r)
        let filterText = Self.param(q, "filter") ?? ""
        let orderText = Self.param(q, "order") ?? ""
        // Bounded so that the offset can neither overflow nor pass the store's largest offset.
        let pageNumber = min(max(1, Int(Self.param(q, "page") ?? "1") ?? 1), 1_000_000)
        var chosen = q.filter { $0.0 == "col" }.map(\.1)
        if chosen.isEmpty, let cols = Self.param(q, "cols"), !cols.isEmpty { chosen = cols.split(separator: ",").map(String.init) }
        var error: String?
        var status = HTTPResponse.Status.ok
        var runs: [Run] = []
        var hasNext = false
        do {
            let filter = try SearchFilterParser.parse(filterText, for: .runs)
            let order = orderText.isEmpty ? [] : [try SearchFilterParser.parseOrderBy(orderText, for: .runs)]
            let found = try await tracking.searchRuns(RunSearch(
                experimentIDs: [experiment.id], filter: filter, orderBy: order, maxResults: Self.pageSize + 1, offset: (pageNumber - 1) * Self.pageSize))
            hasNext = found.items.count > Self.pageSize
            runs = Array(found.items.prefix(Self.pageSize))
        } catch let e as EnsembleError {
            error = e.message
            status = .badRequest
        }
        let metricKeys = Set(runs.flatMap { $0.metrics.map(\.key) }).sorted()
        let paramKeys = Set(runs.flatMap { $0.params.map(\.key) }).sorted()
        let available = metricKeys.map { "metrics.\($0)" } + paramKeys.map { "params.\($0)" }
        if chosen.isEmpty { chosen = Array((metricKeys.prefix(4).map { "metrics.\($0)" }) + paramKeys.prefix(3).map { "params.\($0)" }) }
        chosen = chosen.filter { available.contains($0) || $0.hasPrefix("metrics.") || $0.hasPrefix("params.") }
        let cols = chosen.joined(separator: ",")
        func link(order: String? = nil, page: Int? = nil) -> String {
            var parts = ["filter=\(Self.urlComponent(filterText))", "cols=\(Self.urlComponent(cols))"]
            parts.append("order=\(Self.urlComponent(order ?? orderText))")
            if let page { parts.append("page=\(page)") }
            return "/experiments/\(Self.urlComponent(experiment.id))?" + parts.joined(separator: "&")
        }
        func sortLink(_ key: String) -> String {
            let quoted = key.contains(".") ? key.split(separator: ".", maxSplits: 1).map(String.init) : [key]
            let base = quoted.count == 2 ? "\(quoted[0]).`\(quoted[1])`" : key
            let descending = orderText == "\(base) DESC"
            return link(order: "\(base) \(descending ? "ASC" : "DESC")")
        }
        let rows: [Context] = runs.map { run in
            let metrics = Dictionary(run.metrics.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            let params = Dictionary(run.params.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            let cells = chosen.map { col -> String in
                if col.hasPrefix("metrics.") { return metrics[String(col.dropFirst(8))].map(Self.number) ?? "" }
                return params[String(col.dropFirst(7))] ?? ""
            }
            return ["id": run.info.runID, "name": run.info.runName, "started": Self.when(run.info.startTime), "status": run.info.status.rawValue,
                    "statusClass": Self.statusClass(run.info.status), "cells": cells]
        }
        var ctx: Context = ["title": experiment.name, "id": experiment.id, "name": experiment.name, "filter": filterText, "order": orderText, "cols": cols]
        ctx["error"] = error as Any
        ctx["rows"] = rows
        ctx["count"] = runs.count
        ctx["page"] = pageNumber
        if pageNumber > 1 { ctx["prev"] = link(page: pageNumber - 1) }
        if hasNext { ctx["next"] = link(page: pageNumber + 1) }
        ctx["sortName"] = link(order: "attributes.run_name " + (orderText == "attributes.run_name ASC" ? "DESC" : "ASC"))
        ctx["sortStart"] = link(order: "attributes.start_time " + (orderText == "attributes.start_time DESC" ? "ASC" : "DESC"))
        ctx["columns"] = chosen.map { col -> Context in ["label": col, "sortURL": sortLink(col)] }
        ctx["available"] = available.map { key -> Context in ["key": key, "on": chosen.contains(key)] }
        return render("runs", ctx, status: status)
    }

    func chartSeries(runID: String, key: String, byTime: Bool) async throws -> (points: [(Double, Double)], count: Int) {
        let history = try await tracking.metricHistory(runID: runID, key: key, limit: 1_000_000, offset: 0).items
        let first = history.map(\.timestamp).min() ?? 0
        let points = history.map { (byTime ? Double($0.timestamp - first) / 1000 : Double($0.step), $0.value) }.sorted { $0.0 < $1.0 }
        return (points, history.count)
    }

    func run(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let run = try await tracking.run(id: try c.capture("id"))
        let experiment = try? await tracking.experiment(id: run.info.experimentID)
        let q = Self.query(r)
        let logY = Self.param(q, "log") == "1"
        let byTime = Self.param(q, "x") == "time"
        var charts: [Context] = []
        for (i, metric) in run.metrics.sorted(by: { $0.key < $1.key }).prefix(12).enumerated() {
            let (points, count) = try await chartSeries(runID: run.info.runID, key: metric.key, byTime: byTime)
            let readout = "readout-\(i)"
            charts.append(["key": metric.key, "points": count, "readout": readout,
                           "svg": SVGChart.line([.init(name: metric.key, points: points)], xLabel: byTime ? "seconds" : "step", logY: logY, readout: readout)])
        }
        // The artifact folder being browsed (`?dir=`), checked like every artifact path.
        let dir = try ArtifactPath(Self.param(q, "dir") ?? "")
        var artifacts: [Context] = []
        if let root = try? files.runRoot(run), let entries = try? files.artifacts.list(root.appending(dir)) {
            artifacts = entries.map { e -> Context in
                let path = dir.isRoot ? e.name : "\(dir)/\(e.name)"
                return ["path": e.name, "urlPath": Self.urlComponent(path), "isDir": e.isDirectory, "size": e.size ?? 0, "runID": run.info.runID]
            }
        }
        let parent = dir.isRoot ? nil : dir.segments.dropLast().joined(separator: "/")
        let duration = run.info.endTime.map { end -> String in
            let s = Double(end - run.info.startTime) / 1000
            return s < 120 ? String(format: "%.0f s", s) : String(format: "%.1f min", s / 60)
        }
        return render("run", [
            "title": run.info.runName, "id": run.info.runID, "name": run.info.runName, "status": run.info.status.rawValue,
            "statusClass": Self.statusClass(run.info.status), "experimentID": run.info.experimentID, "experiment": experiment?.name ?? run.info.experimentID,
            "started": Self.when(run.info.startTime), "duration": duration as Any, "user": run.info.userID.isEmpty ? nil as Any? : run.info.userID,
            "params": run.params.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] },
            "metrics": run.metrics.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": Self.number($0.value), "step": $0.step] },
            "tags": run.tags.filter { !$0.key.hasPrefix("mlflow.") || $0.key == "mlflow.source.git.commit" || $0.key == "mlflow.source.name" }.map { ["key": $0.key, "value": $0.value] },
            "inputs": run.datasetInputs.map { ["name": $0.dataset.name, "digest": $0.dataset.digest, "context": $0.tags.first { $0.key == "mlflow.data.context" }?.value ?? "used"] },
            "charts": charts, "log": logY, "xStep": !byTime, "artifacts": artifacts, "dir": dir.isRoot ? nil as Any? : dir.description,
            "parentURL": parent.map { "/runs/\(run.info.runID)?dir=\(Self.urlComponent($0))" } as Any,
        ])
    }

    func compare(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let ids = Array(Self.query(r).filter { $0.0 == "run" }.map(\.1).prefix(10))
        guard ids.count >= 2 else { throw EnsembleError.invalid("Choose at least two runs to compare (tick them in an experiment's run table).") }
        var runs: [Run] = []
        for id in ids { runs.append(try await tracking.run(id: id)) }
        let keys = Set(runs.flatMap { $0.params.map(\.key) }).sorted()
        let params: [Context] = keys.map { key in
            let values = runs.map { r in r.params.first { $0.key == key }?.value ?? "—" }
            return ["key": key, "values": values, "differs": Set(values).count > 1]
        }.sorted { ($0["differs"] as! Bool) && !($1["differs"] as! Bool) }
        var charts: [Context] = []
        for (i, key) in Set(runs.flatMap { $0.metrics.map(\.key) }).sorted().prefix(8).enumerated() {
            var series: [SVGChart.Series] = []
            for run in runs where run.metrics.contains(where: { $0.key == key }) {
                series.append(.init(name: run.info.runName, points: try await chartSeries(runID: run.info.runID, key: key, byTime: false).points))
            }
            charts.append(["key": key, "readout": "cmp-\(i)", "svg": SVGChart.line(series, xLabel: "step", readout: "cmp-\(i)")])
        }
        let q = Self.query(r)
        let paramKeys = keys, metricKeys = Set(runs.flatMap { $0.metrics.map(\.key) }).sorted()
        let chosenParam = Self.param(q, "param").flatMap { paramKeys.contains($0) ? $0 : nil } ?? paramKeys.first
        let chosenMetric = Self.param(q, "metric").flatMap { metricKeys.contains($0) ? $0 : nil } ?? metricKeys.first
        var ctx: Context = ["title": "Compare runs", "count": runs.count, "runs": runs.map { ["id": $0.info.runID, "name": $0.info.runName] }, "params": params, "charts": charts]
        ctx["runIDs"] = runs.map { ["id": $0.info.runID] }
        ctx["paramOptions"] = paramKeys.map { ["key": $0, "selected": $0 == chosenParam] }
        ctx["metricOptions"] = metricKeys.map { ["key": $0, "selected": $0 == chosenMetric] }
        if let chosenParam, let chosenMetric { ctx["scatter"] = Self.scatter(runs: runs, param: chosenParam, metric: chosenMetric) }
        return render("compare", ctx)
    }

    // MARK: Models and lineage

    func models(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let models = try await registry.searchRegisteredModels(RegistrySearch(filter: [], maxResults: 1000)).items
        return render("models", ["title": "Models", "models": models.map { m -> Context in
            ["name": m.name, "urlName": Self.urlComponent(m.name), "aliases": m.aliases.map(\.key), "latest": m.latestVersions.map(\.version).max().map(String.init) ?? "-",
             "description": m.description ?? ""]
        }])
    }

    func model(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let name = try c.capture("name")
        let model = try await registry.registeredModel(name: name)
        let versions = try await registry.searchModelVersions(
            RegistrySearch(filter: try SearchFilterParser.parse("name = '\(name.replacingOccurrences(of: "'", with: "''"))'", for: .modelVersions), maxResults: 1000)).items
        let events = try await registry.registryEvents(name: name)
        return render("model", [
            "title": model.name, "name": model.name, "description": model.description ?? "",
            "versions": versions.sorted { $0.version > $1.version }.map { v -> Context in
                ["version": v.version, "stage": v.currentStage.rawValue, "aliases": v.aliases, "runID": v.runID as Any, "created": Self.when(v.creationTimestamp),
                 "urlName": Self.urlComponent(model.name)]
            },
            "history": events.reversed().map { ["when": Self.when($0.timestamp), "version": $0.version.map { "v\($0)" } ?? "", "kind": $0.kind.rawValue, "detail": $0.detail, "actor": $0.actor ?? ""] },
        ])
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
        return render("lineage", [
            "title": "Lineage", "root": label, "apiURL": api, "svg": Self.lineageSVG(graph),
            "edges": graph.edges.map { e -> Context in
                ["fromKind": nodes[e.from]?.kind.rawValue ?? "", "fromLabel": nodes[e.from]?.label ?? e.from, "relation": e.relation,
                 "toKind": nodes[e.to]?.kind.rawValue ?? "", "toLabel": nodes[e.to]?.label ?? e.to]
            },
        ])
    }

    // MARK: Team and projects

    func teamPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let people = try await team.people(), roles = try await team.roles(), projects = try await team.projects()
        let skillCounts = Dictionary(people.flatMap { $0.skills.keys.map { ($0, 1) } }, uniquingKeysWith: +)
        let skills = skillCounts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(16).map(\.key)
        let report = Coverage.report(people: people, roles: roles, projects: projects)
        func who(_ g: CoverageReport.Gap) -> String { g.people.isEmpty ? "nobody" : "only \(g.people.joined(separator: ", "))" }
        return render("team", [
            "title": "Team",
            "people": people.map { p -> Context in
                ["id": p.id, "name": p.name, "roles": p.roles.joined(separator: ", "), "free": Self.pct(p.freeCapacity), "success": Self.pct(p.successRate),
                 "learning": p.learningGoals.joined(separator: ", "),
                 "worksOn": p.assignments.map { ["project": $0.project, "share": Self.pct($0.allocation)] }]
            },
            "skills": skills, "matrix": people.map { p -> Context in ["name": p.name, "levels": skills.map { p.skills[$0] ?? 0 }] },
            "stageGaps": report.stages.map { ["subject": $0.subject, "who": who($0)] },
            "skillGaps": report.skills.map { ["subject": $0.subject, "who": who($0)] },
            "missingRoles": report.missingRoles.isEmpty ? "none" : report.missingRoles.joined(separator: ", "),
        ])
    }

    func personPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let p = try await team.person(id: try c.capture("id"))
        return render("person", [
            "title": p.name, "id": p.id, "name": p.name, "email": p.email, "roles": p.roles.joined(separator: ", "),
            "skillsText": p.skills.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: "; "),
            "learningText": p.learningGoals.joined(separator: "; "),
            "skills": p.skills.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] },
            "capacity": Self.pct(p.capacity), "free": Self.pct(p.freeCapacity),
            "assignments": p.assignments.map { ["project": $0.project, "share": Self.pct($0.allocation)] },
            "learning": p.learningGoals.joined(separator: ", "), "expertise": p.expertise.joined(separator: ", "), "success": Self.pct(p.successRate),
            "history": p.history.map { ["project": $0.project, "outcome": $0.outcome.rawValue] },
        ])
    }

    func projectsPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let projects = try await team.projects(), people = try await team.people()
        let ranked = Portfolio.rank(projects: projects, people: people)
        return render("projects", [
            "title": "Projects", "stages": board(projects), "freeFTE": String(format: "%.1f", people.reduce(0) { $0 + $1.freeCapacity }),
            "portfolio": ranked.map { e -> Context in
                ["rank": e.rank, "project": e.project, "name": e.name, "stage": e.stage.rawValue, "score": String(format: "%.2f", e.score),
                 "fte": String(format: "%.1f", e.requiredFTE), "fits": e.fits ? "fits" : "does not fit", "fitClass": e.fits ? "ok" : "bad", "note": e.note]
            },
        ])
    }

    func projectPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        try await renderProject(try c.capture("id"), gateError: nil)
    }

    func renderProject(_ id: String, gateError: String?) async throws -> Response {
        do {
            let p = try await team.project(id: id)
            // Best value of each technical metric in the linked experiments: one ordered query per metric,
            // reading a single run, instead of loading every run.
            var experimentIDs: [String] = []
            for name in p.experiments { if let e = try await tracking.experiment(named: name) { experimentIDs.append(e.id) } }
            var bestValues: [String: (String, Double)] = [:]
            if !experimentIDs.isEmpty {
                for m in p.technicalMetrics {
                    let key = "metrics.`\(m.name.replacingOccurrences(of: "`", with: ""))`"
                    guard let order = try? SearchFilterParser.parseOrderBy("\(key) \(m.higherIsBetter ? "DESC" : "ASC")", for: .runs) else { continue }
                    let top = try await tracking.searchRuns(RunSearch(experimentIDs: experimentIDs, orderBy: [order], maxResults: 1)).items.first
                    if let top, let value = top.metrics.first(where: { $0.key == m.name })?.value, value.isFinite { bestValues[m.name] = (top.info.runID, value) }
                }
            }
            func best(_ m: ProjectMetric) -> (String, Double)? { bestValues[m.name] }
            let metrics: [Context] = p.technicalMetrics.map { ($0, "technical") } .map { m, kind in
                let b = best(m)
                return ["name": m.name, "kind": kind, "baseline": m.baseline.map(Self.number) ?? "—", "target": m.target.map(Self.number) ?? "—",
                        "best": b.map { Self.number($0.1) } ?? "", "bestRun": b?.0 as Any]
            } + p.businessMetrics.map { m -> Context in
                ["name": m.name, "kind": "business", "baseline": m.baseline.map(Self.number) ?? "—", "target": m.target.map(Self.number) ?? "—", "bestRun": nil as Any?]
            }
            var forecast: Context? = nil
            var due: Context? = nil
            if let dueDate = p.dueDate {
                due = ["date": dueDate]
                if let s = Self.slip(p, trials: 10_000) {
                    let l = Self.lateness(s.p80)
                    due?["verdict"] = l.text + (s.p50 > 0 ? "; late by \(s.p50) at P50" : "")
                    due?["cls"] = l.cls
                }
            }
            if !p.tasks.isEmpty, let plan = try? ForecastPlan(tasks: p.tasks), let f = try? Forecast.simulate(plan, trials: 10_000, seed: 0) {
                func label(_ days: Double) -> String { String(format: "%.1f d", days) + (p.startDate.flatMap { Forecast.date(after: days, from: $0) }.map { " (\($0))" } ?? "") }
                forecast = ["p50": label(f.p50), "p80": label(f.p80), "p95": label(f.p95), "trials": f.trials, "start": p.startDate ?? "the start",
                            "svg": SVGChart.histogram(f.histogram.map { ($0.from, $0.to, $0.count) }, markers: [("P50", f.p50), ("P80", f.p80), ("P95", f.p95)], xLabel: "working days")]
            }
            let stage = ProjectStage.working.contains(p.stage) ? p.stage : .scoping
            let staffing = Staffing.rank(project: p, stage: stage, people: try await team.people(), roles: try await team.roles()).prefix(3)
            let activity = try await team.activity(project: p.id, limit: 20)
            return render("project", [
                "title": p.name, "id": p.id, "name": p.name, "stage": p.stage.rawValue,
                "problem": p.brd.problem, "objective": p.brd.objective, "framing": p.brd.mlFraming, "delivery": p.brd.delivery,
                "risks": p.brd.risks.joined(separator: "; "), "stakeholders": p.brd.stakeholders.joined(separator: "; "),
                "metrics": metrics, "forecast": forecast as Any, "due": due as Any,
                "history": p.history.reversed().map { ["when": Self.when($0.at), "from": $0.from.rawValue, "to": $0.to.rawValue, "by": $0.by as Any, "why": $0.why.isEmpty ? nil as Any? : $0.why] },
                "staffing": staffing.map { ["person": $0.person, "name": $0.name, "score": String(format: "%.2f", $0.score), "reasons": $0.reasons.joined(separator: "; ")] },
                "experiments": p.experiments, "models": p.models,
                "activity": activity.map { ["when": Self.when($0.at), "kind": $0.kind, "summary": $0.summary, "actor": $0.actor as Any] },
                "checklist": p.checklist(for: p.stage).enumerated().map { ["index": $0.offset, "text": $0.element.text, "done": $0.element.done] },
                "stageOptions": ProjectStage.allCases.filter { $0 != p.stage }.map(\.rawValue),
                "gateError": gateError as Any,
            ], status: gateError == nil ? .ok : .badRequest)
        }
    }

    /// The update form: a urlencoded POST, answered with a redirect to the project page.
    func postUpdate(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let id = try c.capture("id")
        let body = try await r.body.collect(upTo: 64 * 1024)
        let fields = try RequestFields.parseQuery(String(buffer: body))
        func field(_ name: String) -> String { fields.first { $0.0 == name }?.1 ?? "" }
        _ = try await team.addUpdate(ProjectUpdate(project: id, author: field("author"), done: field("done"), next: field("next"), blocked: field("blocked")))
        return Response(status: .seeOther, headers: [.location: "/projects/\(Self.urlComponent(id))"])
    }
}

// MARK: Forms and datasets

extension WebHandlers {
    static func form(_ r: Request) async throws -> [(String, String)] {
        let body = try await r.body.collect(upTo: 256 * 1024)
        return try RequestFields.parseQuery(String(buffer: body))
    }

    static func redirect(_ to: String) -> Response { Response(status: .seeOther, headers: [.location: to]) }

    func saveChecklist(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let id = try c.capture("id")
        let done = Set(try await Self.form(r).filter { $0.0 == "item" }.compactMap { Int($0.1) })
        var p = try await team.project(id: id)
        p.checklists[p.stage.rawValue] = p.checklist(for: p.stage).enumerated().map { ChecklistItem(text: $0.element.text, done: done.contains($0.offset)) }
        try await team.saveProject(p, create: false, actor: c.actor)
        return Self.redirect("/projects/\(Self.urlComponent(id))")
    }

    func moveStage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let id = try c.capture("id")
        let fields = try await Self.form(r)
        func field(_ n: String) -> String { fields.first { $0.0 == n }?.1 ?? "" }
        guard let target = ProjectStage(rawValue: field("to")) else { throw EnsembleError.invalid("Choose a stage to move to.") }
        let people = try await team.people(), roles = try await team.roles()
        do {
            _ = try await team.moveProject(id: id, to: target, why: field("why"), actor: c.actor ?? (field("by").isEmpty ? nil : field("by"))) { project in
                let problems = StageGate.problems(moving: project, to: target, people: people, roles: roles)
                if !problems.isEmpty { throw EnsembleError.invalid(problems.joined(separator: " ")) }
            }
        } catch let error as EnsembleError where error.code == .invalidParameterValue {
            return try await renderProject(id, gateError: "Cannot move to \(target.rawValue): " + error.message)
        }
        return Self.redirect("/projects/\(Self.urlComponent(id))")
    }

    func projectFormContext(_ p: Project, heading: String, action: String, cancel: String, error: String?) -> Context {
        func metricLines(_ ms: [ProjectMetric]) -> String {
            ms.map { "\($0.name), \($0.baseline.map(Self.number) ?? ""), \($0.target.map(Self.number) ?? "")" }.joined(separator: "\n")
        }
        let scoreFields: [(String, String, Int)] = [("impact", "Impact", p.scores.impact), ("cost", "Cost", p.scores.cost), ("bandwidth", "Bandwidth", p.scores.bandwidth),
                                                    ("urgency", "Urgency", p.scores.urgency), ("confidence", "Confidence", p.scores.confidence)]
        var ctx: Context = ["title": heading, "heading": heading, "action": action, "cancel": cancel, "error": error as Any, "name": p.name]
        ctx["problem"] = p.brd.problem
        ctx["objective"] = p.brd.objective
        ctx["framing"] = p.brd.mlFraming
        ctx["delivery"] = p.brd.delivery
        ctx["risks"] = p.brd.risks.joined(separator: "\n")
        ctx["stakeholders"] = p.brd.stakeholders.joined(separator: "\n")
        ctx["technical"] = metricLines(p.technicalMetrics)
        ctx["business"] = metricLines(p.businessMetrics)
        ctx["experiments"] = p.experiments.joined(separator: ", ")
        ctx["models"] = p.models.joined(separator: ", ")
        ctx["fte"] = Self.number(p.requiredFTE)
        ctx["scores"] = scoreFields.map { key, label, value -> Context in
            ["key": key, "label": label, "options": (1...5).map { ["value": $0, "selected": $0 == value] }]
        }
        return ctx
    }

    /// Applies the form's fields to a project; the error names the field.
    static func apply(_ fields: [(String, String)], to p: inout Project) throws {
        func field(_ n: String) -> String { fields.first { $0.0 == n }?.1 ?? "" }
        func lines(_ n: String) -> [String] { field(n).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        func list(_ n: String) -> [String] { field(n).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        func metrics(_ n: String, _ label: String) throws -> [ProjectMetric] {
            try lines(n).map { line in
                let parts = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                guard !parts[0].isEmpty, parts.count <= 3 else { throw EnsembleError.invalid("\(label): '\(line)' must be name, baseline, target.") }
                func number(_ i: Int) throws -> Double? {
                    guard parts.count > i, !parts[i].isEmpty else { return nil }
                    guard let v = Double(parts[i]) else { throw EnsembleError.invalid("\(label): '\(parts[i])' in '\(line)' is not a number.") }
                    return v
                }
                return ProjectMetric(name: parts[0], baseline: try number(1), target: try number(2))
            }
        }
        p.name = field("name").trimmingCharacters(in: .whitespaces)
        p.brd.problem = field("problem")
        p.brd.objective = field("objective")
        p.brd.mlFraming = field("framing")
        p.brd.delivery = field("delivery")
        p.brd.risks = lines("risks")
        p.brd.stakeholders = lines("stakeholders")
        p.technicalMetrics = try metrics("technical", "Technical metrics")
        p.businessMetrics = try metrics("business", "Business metrics")
        p.experiments = list("experiments")
        p.models = list("models")
        if !field("fte").isEmpty {
            guard let fte = Double(field("fte")) else { throw EnsembleError.invalid("Required FTE: '\(field("fte"))' is not a number.") }
            p.requiredFTE = fte
        }
        func score(_ n: String, _ current: Int) -> Int { Int(field(n)) ?? current }
        p.scores = ProjectScores(impact: score("impact", p.scores.impact), cost: score("cost", p.scores.cost), bandwidth: score("bandwidth", p.scores.bandwidth),
                                 urgency: score("urgency", p.scores.urgency), confidence: score("confidence", p.scores.confidence))
    }

    func newProjectForm(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        render("projectForm", projectFormContext(Project(id: "", name: ""), heading: "New project", action: "/projects/new", cancel: "/projects", error: nil))
    }

    func createProject(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let fields = try await Self.form(r)
        var p = Project(id: "", name: "")
        do {
            try Self.apply(fields, to: &p)
            p.id = RoleCatalog.slug(p.name)
            guard !p.id.isEmpty, p.id != "new" else { throw EnsembleError.invalid("Name: give the project a name (letters or digits).") }
            try await team.saveProject(p, create: true, actor: c.actor)
        } catch let error as EnsembleError where error.code != .resourceDoesNotExist {
            return render("projectForm", projectFormContext(p, heading: "New project", action: "/projects/new", cancel: "/projects", error: error.message), status: .badRequest)
        }
        return Self.redirect("/projects/\(Self.urlComponent(p.id))")
    }

    func editProjectForm(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let p = try await team.project(id: try c.capture("id"))
        let path = "/projects/\(Self.urlComponent(p.id))"
        return render("projectForm", projectFormContext(p, heading: "Edit \(p.name)", action: path + "/edit", cancel: path, error: nil))
    }

    func saveProject(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        var p = try await team.project(id: try c.capture("id"))
        let path = "/projects/\(Self.urlComponent(p.id))"
        do {
            try Self.apply(try await Self.form(r), to: &p)
            try await team.saveProject(p, create: false, actor: c.actor)
        } catch let error as EnsembleError where error.code == .invalidParameterValue {
            return render("projectForm", projectFormContext(p, heading: "Edit \(p.name)", action: path + "/edit", cancel: path, error: error.message), status: .badRequest)
        }
        return Self.redirect(path)
    }

    func saveSkills(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        var person = try await team.person(id: try c.capture("id"))
        let fields = try await Self.form(r)
        func field(_ n: String) -> String { fields.first { $0.0 == n }?.1 ?? "" }
        let parsed = try TeamSpreadsheet.person(from: ["name": person.name, "email": person.email, "id": person.id, "skills": field("skills"), "learning_goals": field("learning")])
        person.skills = parsed.skills
        person.learningGoals = parsed.learningGoals
        try await team.savePerson(person, create: false)
        return Self.redirect("/people/\(Self.urlComponent(person.id))")
    }

    func datasetsPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        var byName: [String: (Int, Int64)] = [:]
        for d in try await datasets.datasetNames() { byName[d.name, default: (0, 0)].0 = d.versions }
        for d in try await stored.storedDatasets() { byName[d.name, default: (0, 0)].1 = d.versions }
        return render("datasets", ["title": "Datasets", "datasets": byName.keys.sorted().map { name -> Context in
            ["name": name, "urlName": Self.urlComponent(name), "logged": byName[name]!.0, "stored": byName[name]!.1]
        }])
    }

    func datasetPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let name = try c.capture("name")
        let logged = (try? await datasets.datasetVersions(name: name)) ?? []
        let storedVersions = try await stored.storedDatasetVersions(name: name)
        guard !logged.isEmpty || !storedVersions.isEmpty else { throw EnsembleError.notFound("No dataset named '\(name)'.") }
        func users(_ digest: String) -> [Context] {
            logged.filter { $0.dataset.digest == digest }.flatMap { $0.usedBy }.map { ["runID": $0.runID, "runName": $0.runName, "context": $0.context ?? "used"] }
        }
        var storedCtx: [Context] = []
        for v in storedVersions {
            let full = try await stored.storedDatasetVersion(name: name, version: v.version)
            storedCtx.append([
                "version": v.version, "files": v.fileCount, "size": v.totalSize, "when": Self.when(v.createdAt), "by": v.createdBy as Any,
                "description": v.description ?? "", "digest": v.digest, "users": users(v.mlflowDigest) + users(v.digest),
                "manifest": full.files.prefix(500).map { ["path": $0.path, "size": $0.size, "sha": $0.sha256] },
            ])
        }
        return render("dataset", [
            "title": name, "name": name, "stored": storedCtx,
            "logged": logged.map { ["digest": $0.dataset.digest, "sourceType": $0.dataset.sourceType, "users": users($0.dataset.digest)] },
        ])
    }
}

// MARK: Artifact previews, scatter, lineage drawing

extension WebHandlers {
    static let previewLimit: Int64 = 256 * 1024

    /// `/runs/{id}/artifact?path=`: text and JSON shown (pretty-printed JSON), images shown, anything
    /// else offered for download; every path goes through `ArtifactPath`.
    func artifactPreview(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let run = try await tracking.run(id: try c.capture("id"))
        let raw = Self.param(Self.query(r), "path") ?? ""
        let path = try ArtifactPath(raw)
        guard !path.isRoot else { throw EnsembleError.invalid("Choose a file to preview.") }
        let reader = try files.artifacts.openForReading(try files.runRoot(run).appending(path))
        defer { reader.close() }
        let ext = path.name.split(separator: ".").last.map { $0.lowercased() } ?? ""
        let download = "/get-artifact?run_id=\(run.info.runID)&path=\(Self.urlComponent(path.description))"
        var ctx: Context = ["title": path.name, "name": path.name, "runID": run.info.runID, "runName": run.info.runName, "download": download, "size": reader.size]
        if ["png", "jpg", "jpeg", "gif", "webp", "svg", "bmp"].contains(ext) {
            ctx["image"] = download
        } else if reader.size <= Self.previewLimit {
            let bytes = try reader.readAll()
            if let text = String(validating: bytes, as: UTF8.self) {
                if ext == "json", let value = try? JSONParser.parse(bytes) {
                    ctx["text"] = Self.prettyJSON(value)
                } else {
                    ctx["text"] = text
                }
            }
        }
        if ctx["text"] == nil && ctx["image"] == nil { ctx["note"] = reader.size > Self.previewLimit ? "Too large to preview." : "Binary file." }
        return render("artifact", ctx)
    }

    static func prettyJSON(_ v: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch v {
        case .array(let items):
            if items.isEmpty { return "[]" }
            return "[\n" + items.map { inner + prettyJSON($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .object(let members):
            if members.isEmpty { return "{}" }
            return "{\n" + members.map { inner + JSONValue.string($0.0).jsonText + ": " + prettyJSON($0.1, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "}"
        default:
            return v.jsonText
        }
    }

    /// One parameter against one metric over the compared runs (numbers on a numeric axis, other
    /// values as categories in order of appearance).
    static func scatter(runs: [Run], param: String, metric: String) -> String {
        var categories: [String] = []
        var points: [(x: Double, y: Double, label: String)] = []
        let numeric = runs.allSatisfy { r in r.params.first { $0.key == param }.map { Double($0.value) != nil } ?? true }
        for r in runs {
            guard let p = r.params.first(where: { $0.key == param })?.value, let m = r.metrics.first(where: { $0.key == metric })?.value, m.isFinite else { continue }
            let x: Double
            if numeric, let v = Double(p) { x = v } else {
                if !categories.contains(p) { categories.append(p) }
                x = Double(categories.firstIndex(of: p)!)
            }
            points.append((x, m, "\(r.info.runName): \(param)=\(p), \(metric)=\(SVGChart.fmt(m))"))
        }
        guard let xMin = points.map(\.x).min(), let xMax = points.map(\.x).max(), let yMin = points.map(\.y).min(), let yMax = points.map(\.y).max() else {
            return "<p class=\"muted\">No run has both \(htmlEscape(param)) and \(htmlEscape(metric)).</p>"
        }
        let w = 640.0, h = 300.0, l = 56.0, b = 34.0, t = 12.0, rgt = 16.0
        func px(_ x: Double) -> Double { l + (xMax > xMin ? (x - xMin) / (xMax - xMin) : 0.5) * (w - l - rgt) }
        func py(_ y: Double) -> Double { t + (h - t - b) - (yMax > yMin ? (y - yMin) / (yMax - yMin) : 0.5) * (h - t - b) }
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"\(htmlEscape(param)) against \(htmlEscape(metric))\">"
        svg += "<line class=\"axis\" x1=\"\(l)\" y1=\"\(h - b)\" x2=\"\(w - rgt)\" y2=\"\(h - b)\"/><line class=\"axis\" x1=\"\(l)\" y1=\"\(t)\" x2=\"\(l)\" y2=\"\(h - b)\"/>"
        for p in points {
            svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#2456a6\" fill-opacity=\"0.75\">", px(p.x), py(p.y)) + "<title>\(htmlEscape(p.label))</title></circle>"
        }
        let xLow = categories.isEmpty ? SVGChart.fmt(xMin) : categories.first!, xHigh = categories.isEmpty ? SVGChart.fmt(xMax) : categories.last!
        svg += "<text x=\"\(l - 4)\" y=\"\(h - b)\" text-anchor=\"end\">\(SVGChart.fmt(yMin))</text><text x=\"\(l - 4)\" y=\"\(t + 10)\" text-anchor=\"end\">\(SVGChart.fmt(yMax))</text>"
        svg += "<text x=\"\(l)\" y=\"\(h - 8)\">\(htmlEscape(xLow))</text><text x=\"\(w - rgt)\" y=\"\(h - 8)\" text-anchor=\"end\">\(htmlEscape(xHigh))</text>"
        svg += "<text x=\"\(w / 2)\" y=\"\(h - 8)\" text-anchor=\"middle\">\(htmlEscape(param)) → \(htmlEscape(metric))</text>"
        return svg + "</svg>"
    }

    /// The lineage graph drawn in columns by kind (models, runs, code, data), edges as lines.
    static func lineageSVG(_ graph: LineageGraph) -> String {
        let columns: [LineageGraph.Kind] = [.modelVersion, .loggedModel, .run, .code, .dataset]
        var position: [String: (Double, Double)] = [:]
        let colWidth = 210.0, rowHeight = 46.0
        var maxRows = 1
        for (ci, kind) in columns.enumerated() {
            let nodes = graph.nodes.filter { $0.kind == kind }
            maxRows = max(maxRows, nodes.count)
            for (ri, n) in nodes.enumerated() { position[n.id] = (20 + Double(ci) * colWidth, 30 + Double(ri) * rowHeight) }
        }
        let width = Int(40 + Double(columns.count) * colWidth), height = Int(50 + Double(maxRows) * rowHeight)
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"lineage graph\">"
        for (ci, kind) in columns.enumerated() {
            svg += "<text x=\"\(20 + Double(ci) * colWidth)\" y=\"16\">\(kind.rawValue.replacingOccurrences(of: "_", with: " "))</text>"
        }
        for e in graph.edges {
            guard let a = position[e.from], let b = position[e.to] else { continue }
            svg += String(format: "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#9aa5b8\" stroke-width=\"1.4\">", a.0 + 90, a.1 + 14, b.0 + 90, b.1 + 14)
                + "<title>\(htmlEscape(e.relation))</title></line>"
        }
        let fills: [LineageGraph.Kind: String] = [.modelVersion: "#e3f1e4", .loggedModel: "#e8edf6", .run: "#fff", .code: "#fbefdc", .dataset: "#efe6f7"]
        for n in graph.nodes {
            guard let p = position[n.id] else { continue }
            let label = n.label.count > 26 ? String(n.label.prefix(25)) + "…" : n.label
            svg += String(format: "<rect x=\"%.0f\" y=\"%.0f\" width=\"180\" height=\"28\" rx=\"6\" fill=\"%@\" stroke=\"#9aa5b8\"/>", p.0, p.1, fills[n.kind] ?? "#fff")
            svg += String(format: "<text x=\"%.0f\" y=\"%.0f\">", p.0 + 8, p.1 + 18) + htmlEscape(label) + "<title>\(htmlEscape(n.label))</title></text>"
        }
        return svg + "</svg>"
    }
}

extension WebHandlers {
    /// The pages of the web UI and their static assets, at the root.
    var routes: RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.get("static/app.css", use: css)
        r.get("static/app.js", use: js)
        r.get("favicon.ico", use: favicon)
        r.get("/", use: home)
        r.get("experiments", use: experiments)
        r.get("experiments/{id}", use: experimentRuns)
        r.get("runs/{id}", use: run)
        r.get("runs/{id}/artifact", use: artifactPreview)
        r.get("compare", use: compare)
        r.get("models", use: models)
        r.get("models/{name}", use: model)
        r.get("lineage", use: lineagePage)
        r.get("team", use: teamPage)
        r.get("people/{id}", use: personPage)
        r.post("people/{id}/skills", use: saveSkills)
        r.get("projects", use: projectsPage)
        r.get("projects/new", use: newProjectForm)
        r.post("projects/new", use: createProject)
        r.get("projects/{id}", use: projectPage)
        r.get("projects/{id}/edit", use: editProjectForm)
        r.post("projects/{id}/edit", use: saveProject)
        r.post("projects/{id}/checklist", use: saveChecklist)
        r.post("projects/{id}/stage", use: moveStage)
        r.post("projects/{id}/updates", use: postUpdate)
        r.get("datasets", use: datasetsPage)
        r.get("datasets/{name}", use: datasetPage)
        return r
    }
}
