import EnsembleArtifacts
import EnsembleCore
import EnsembleJSON
import Foundation
import Hummingbird
import Mustache
import NIOCore

/// Projects: the portfolio, a project, and its forms (create, edit, checklist, stage, updates).
extension WebHandlers {
    func projectsPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let projects = try await team.projects(), people = try await team.people()
        let ranked = Portfolio.rank(projects: projects, people: people)
        return render(
            c,
            "projects",
            ProjectsView(
                stages: board(projects), freeFTE: String(format: "%.1f", people.reduce(0) { $0 + $1.freeCapacity }),
                portfolio: ranked.map { e in
                    ProjectsView.Entry(
                        rank: e.rank, project: e.project, name: e.name, stage: e.stage.rawValue, score: String(format: "%.2f", e.score),
                        fte: String(format: "%.1f", e.requiredFTE), fits: e.fits ? "fits" : "does not fit", fitClass: e.fits ? "ok" : "bad", note: e.note)
                }))
    }

    func projectPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        try await renderProject(c, try c.capture("id"), gateError: nil)
    }

    func renderProject(_ c: EnsembleRequestContext, _ id: String, gateError: String?) async throws -> Response {
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
            let metrics =
                p.technicalMetrics.map { m in
                    let b = bestValues[m.name]
                    return ProjectView.Metric(
                        name: m.name, kind: "technical", baseline: m.baseline.map(Self.number) ?? "—", target: m.target.map(Self.number) ?? "—",
                        best: b.map { Self.number($0.1) } ?? "", bestRun: b?.0)
                }
                + p.businessMetrics.map { m in
                    ProjectView.Metric(
                        name: m.name, kind: "business", baseline: m.baseline.map(Self.number) ?? "—", target: m.target.map(Self.number) ?? "—",
                        best: "", bestRun: nil)
                }
            var due: ProjectView.Due?
            if let dueDate = p.dueDate {
                let verdict = slip(p, trials: 10_000).map { s -> (String, String) in
                    let l = Self.lateness(s.p80)
                    return (l.text + (s.p50 > 0 ? "; late by \(s.p50) at P50" : ""), l.cls)
                }
                due = ProjectView.Due(date: dueDate, verdict: verdict?.0, cls: verdict?.1)
            }
            let forecast = forecasts.forecast(tasks: p.tasks, trials: 10_000).map { f in
                func label(_ days: Double) -> String {
                    String(format: "%.1f d", days) + (p.startDate.flatMap { Forecast.date(after: days, from: $0) }.map { " (\($0))" } ?? "")
                }
                return ProjectView.Forecast(
                    p50: label(f.p50), p80: label(f.p80), p95: label(f.p95), trials: f.trials, start: p.startDate ?? "the start",
                    svg: SVGChart.histogram(f.histogram.map { ($0.from, $0.to, $0.count) }, markers: [("P50", f.p50), ("P80", f.p80), ("P95", f.p95)], xLabel: "working days"))
            }
            let stage = ProjectStage.working.contains(p.stage) ? p.stage : .scoping
            let staffing = Staffing.rank(project: p, stage: stage, people: try await team.people(), roles: try await team.roles()).prefix(3)
            let activity = try await team.activity(project: p.id, limit: 20)
            let who = await displayNames()
            var view = ProjectView(
                title: p.name, id: p.id, name: p.name, stage: p.stage.rawValue,
                problem: p.brd.problem, objective: p.brd.objective, framing: p.brd.mlFraming, delivery: p.brd.delivery,
                risks: p.brd.risks.joined(separator: "; "), stakeholders: p.brd.stakeholders.joined(separator: "; "),
                metrics: metrics, forecast: forecast, due: due,
                history: p.history.reversed().map {
                    ProjectView.Move(when: Self.when($0.at), from: $0.from.rawValue, to: $0.to.rawValue, by: $0.by.map { who[$0] ?? $0 }, why: $0.why.isEmpty ? nil : $0.why)
                },
                staffing: staffing.map { ProjectView.Candidate(person: $0.person, name: $0.name, score: String(format: "%.2f", $0.score), reasons: $0.reasons.joined(separator: "; ")) },
                experiments: p.experiments, models: p.models,
                activity: activity.map { ProjectView.Activity(when: Self.when($0.at), kind: $0.kind, summary: $0.summary, actor: $0.actor.map { who[$0] ?? $0 }) },
                checklist: p.checklist(for: p.stage).enumerated().map { ProjectView.ChecklistItem(index: $0.offset, text: $0.element.text, done: $0.element.done) },
                stageOptions: ProjectStage.allCases.filter { $0 != p.stage }.map(\.rawValue),
                gateError: gateError)
            view.handoffs = try await handoffs?.handoffs(HandoffQuery(project: p.id, limit: 50)).map { Self.handoffRow($0, who) } ?? []
            view.deploymentList.rows = try await deployments?.deployments(DeploymentQuery(project: p.id)).map { Self.deploymentRow($0, who) } ?? []
            view.abTests = try await deployments?.abResults(project: p.id, model: nil).map { Self.abView($0, business: p.businessMetrics) } ?? []
            return render(c, "project", view, status: gateError == nil ? .ok : .badRequest)
        }
    }

    /// The update form: a urlencoded POST, answered with a redirect to the project page.
    func postUpdate(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let id = try c.capture("id")
        let form = try await Self.form(UpdateForm.self, r)
        _ = try await team.addUpdate(
            ProjectUpdate(project: id, author: c.actor ?? form.author ?? "", done: form.done ?? "", next: form.next ?? "", blocked: form.blocked ?? ""))
        return Response(status: .seeOther, headers: [.location: "/projects/\(Self.urlComponent(id))"])
    }

    static func redirect(_ to: String) -> Response { Response(status: .seeOther, headers: [.location: to]) }

    func saveChecklist(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let id = try c.capture("id")
        let done = Set(try await Self.form(ChecklistForm.self, r).item ?? [])
        var p = try await team.project(id: id)
        p.checklists[p.stage.rawValue] = p.checklist(for: p.stage).enumerated().map { ChecklistItem(text: $0.element.text, done: done.contains($0.offset)) }
        try await team.saveProject(p, create: false, actor: c.actor)
        return Self.redirect("/projects/\(Self.urlComponent(id))")
    }

    func moveStage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let id = try c.capture("id")
        let form = try await Self.form(StageForm.self, r)
        guard let target = ProjectStage(rawValue: form.to ?? "") else { throw EnsembleError.invalid("Choose a stage to move to.") }
        let people = try await team.people(), roles = try await team.roles()
        do {
            _ = try await team.moveProject(id: id, to: target, why: form.why ?? "", actor: c.actor ?? form.by.flatMap { $0.isEmpty ? nil : $0 }) { project in
                let problems = StageGate.problems(moving: project, to: target, people: people, roles: roles)
                if !problems.isEmpty { throw EnsembleError.invalid(problems.joined(separator: " ")) }
            }
        } catch let error as EnsembleError where error.code == .invalidParameterValue {
            return try await renderProject(c, id, gateError: "Cannot move to \(target.rawValue): " + error.message)
        }
        return Self.redirect("/projects/\(Self.urlComponent(id))")
    }

    func projectFormView(_ p: Project, heading: String, action: String, cancel: String, error: String?) -> ProjectFormView {
        func metricLines(_ ms: [ProjectMetric]) -> String {
            ms.map { "\($0.name), \($0.baseline.map(Self.number) ?? ""), \($0.target.map(Self.number) ?? "")" }.joined(separator: "\n")
        }
        let scoreFields: [(String, String, Int)] = [
            ("impact", "Impact", p.scores.impact), ("cost", "Cost", p.scores.cost), ("bandwidth", "Bandwidth", p.scores.bandwidth),
            ("urgency", "Urgency", p.scores.urgency), ("confidence", "Confidence", p.scores.confidence),
        ]
        return ProjectFormView(
            title: heading, heading: heading, action: action, cancel: cancel, error: error, name: p.name,
            problem: p.brd.problem, objective: p.brd.objective, framing: p.brd.mlFraming, delivery: p.brd.delivery,
            risks: p.brd.risks.joined(separator: "\n"), stakeholders: p.brd.stakeholders.joined(separator: "\n"),
            technical: metricLines(p.technicalMetrics), business: metricLines(p.businessMetrics),
            experiments: p.experiments.joined(separator: ", "), models: p.models.joined(separator: ", "), fte: Self.number(p.requiredFTE),
            scores: scoreFields.map { key, label, value in
                ProjectFormView.Score(key: key, label: label, options: (1...5).map { ProjectFormView.Option(value: $0, selected: $0 == value) })
            })
    }

    /// Applies the form's fields to a project; the error names the field.
    static func apply(_ form: ProjectForm, to p: inout Project) throws {
        func lines(_ text: String?) -> [String] {
            (text ?? "").split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        func list(_ text: String?) -> [String] { (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        func metrics(_ text: String?, _ label: String) throws -> [ProjectMetric] {
            try lines(text).map { line in
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
        p.name = (form.name ?? "").trimmingCharacters(in: .whitespaces)
        p.brd.problem = form.problem ?? ""
        p.brd.objective = form.objective ?? ""
        p.brd.mlFraming = form.framing ?? ""
        p.brd.delivery = form.delivery ?? ""
        p.brd.risks = lines(form.risks)
        p.brd.stakeholders = lines(form.stakeholders)
        p.technicalMetrics = try metrics(form.technical, "Technical metrics")
        p.businessMetrics = try metrics(form.business, "Business metrics")
        p.experiments = list(form.experiments)
        p.models = list(form.models)
        if let raw = form.fte, !raw.isEmpty {
            guard let fte = Double(raw) else { throw EnsembleError.invalid("Required FTE: '\(raw)' is not a number.") }
            p.requiredFTE = fte
        }
        p.scores = ProjectScores(
            impact: form.impact ?? p.scores.impact, cost: form.cost ?? p.scores.cost, bandwidth: form.bandwidth ?? p.scores.bandwidth,
            urgency: form.urgency ?? p.scores.urgency, confidence: form.confidence ?? p.scores.confidence)
    }

    func newProjectForm(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        render(c, "projectForm", projectFormView(Project(id: "", name: ""), heading: "New project", action: "/projects/new", cancel: "/projects", error: nil))
    }

    func createProject(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        var p = Project(id: "", name: "")
        do {
            try Self.apply(try await Self.form(ProjectForm.self, r), to: &p)
            p.id = RoleCatalog.slug(p.name)
            guard !p.id.isEmpty, p.id != "new" else {
                throw EnsembleError.invalid("Name: the project's id is made from the Latin letters and digits of its name, and this name has none; add some (e.g. 'Churn 模型').")
            }
            try await team.saveProject(p, create: true, actor: c.actor)
            try await c.accessControl?.created(.project, p.id, by: c.principal)
        } catch let error as EnsembleError where error.code != .resourceDoesNotExist {
            return render(c, "projectForm", projectFormView(p, heading: "New project", action: "/projects/new", cancel: "/projects", error: error.message), status: .badRequest)
        }
        return Self.redirect("/projects/\(Self.urlComponent(p.id))")
    }

    func editProjectForm(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let p = try await team.project(id: try c.capture("id"))
        let path = "/projects/\(Self.urlComponent(p.id))"
        return render(c, "projectForm", projectFormView(p, heading: "Edit \(p.name)", action: path + "/edit", cancel: path, error: nil))
    }

    func saveProject(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        var p = try await team.project(id: try c.capture("id"))
        let path = "/projects/\(Self.urlComponent(p.id))"
        do {
            try Self.apply(try await Self.form(ProjectForm.self, r), to: &p)
            try await team.saveProject(p, create: false, actor: c.actor)
        } catch let error as EnsembleError where error.code == .invalidParameterValue {
            return render(c, "projectForm", projectFormView(p, heading: "Edit \(p.name)", action: path + "/edit", cancel: path, error: error.message), status: .badRequest)
        }
        return Self.redirect(path)
    }
}

// MARK: Forms

/// The fields of the project form (new and edit); every field optional, text as typed.
struct ProjectForm: Decodable {
    var name, problem, objective, framing, delivery, risks, stakeholders, technical, business, experiments, models, fte: String?
    var impact, cost, bandwidth, urgency, confidence: Int?
}

/// The stage form: where to, why, and (until accounts) who.
struct StageForm: Decodable {
    var to, why, by: String?
}

/// The checklist form: the indexes of the ticked items (`item[]`).
struct ChecklistForm: Decodable {
    var item: [Int]?
}

/// A stand-up update posted from the project page.
struct UpdateForm: Decodable {
    var author, done, next, blocked: String?
}

extension WebHandlers {
    /// Decodes a form body (`application/x-www-form-urlencoded`, at most 256 KB) with Hummingbird's
    /// `URLEncodedFormDecoder`; a malformed form is a 400 page naming the problem.
    static func form<Form: Decodable>(_ type: Form.Type, _ r: Request) async throws -> Form {
        let limit = 256 * 1024
        let body: ByteBuffer
        do {
            body = try await r.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw BodyTooLarge(limit: limit)
        }
        do {
            return try URLEncodedFormDecoder().decode(Form.self, from: String(buffer: body))
        } catch let error as DecodingError {
            throw EnsembleError.invalid("The form could not be read: \(DecodingMessages.describe(error))")
        } catch let error as URLEncodedFormError {
            throw EnsembleError.invalid("The form could not be read: \(error).")
        }
    }
}
