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
    /// Accounts, to show who did what by their name (a linked person's, else the display name).
    var identity: (any IdentityStore)? = nil
    /// Forecasts for the board and project pages, simulated once per version of a plan.
    let forecasts = ForecastCache()
    /// Handoffs and gate results, for their pages and the model version page.
    var handoffs: (any HandoffStore)? = nil
    /// The API's handoff actions, which the pages' forms reuse (same checks, same history).
    var handoffActions: HandoffHandlers? = nil
    /// Environments and deployments, for "what runs where" and the version and project pages.
    var deployments: (any DeploymentStore)? = nil
    var references: DeploymentReferenceResolver? = nil

    // MARK: Plumbing

    /// Security headers (CSP, nosniff, referrer policy) are added by ``SecurityHeadersMiddleware``.
    static let pageHeaders: HTTPFields = [.contentType: "text/html; charset=utf-8"]

    /// Renders a typed page view inside the page chrome (who is signed in, the CSRF token forms
    /// carry); swift-mustache reads properties by name, and a `nil` property is absent (its section is
    /// skipped). Templates are registered inside `{{#page}}…{{/page}}`, so a page reads its own
    /// properties first and the chrome's (`chromeUser`, `chromeCSRF`, …) from the envelope around it.
    func render(_ c: EnsembleRequestContext, _ template: String, _ view: some PageView, status: HTTPResponse.Status = .ok) -> Response {
        let html = library.render(PageEnvelope(page: view, chrome: Chrome(c)), withTemplate: template) ?? "template \(template) missing"
        return Response(status: status, headers: Self.pageHeaders, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// How pages name each account: the linked person's name, else the display name (user names
    /// that are neither stay as they are).
    func displayNames() async -> [String: String] {
        guard let identity, let users = try? await identity.users(), !users.isEmpty else { return [:] }
        let people = Dictionary(((try? await team.people()) ?? []).map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        var names: [String: String] = [:]
        for u in users {
            if let id = u.personID, let name = people[id] {
                names[u.name] = name
            } else if !u.displayName.isEmpty {
                names[u.name] = u.displayName
            }
        }
        return names
    }

    /// The HTML error page (``ErrorMiddleware`` uses it for every page that fails).
    func errorPage(_ c: EnsembleRequestContext, _ status: HTTPResponse.Status, heading: String, message: String) -> Response {
        render(c, "error", ErrorView(heading: heading, message: message), status: status)
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
    /// A value for a table: up to 4 significant digits, but large numbers in full (65200.3, not 6.52e+04).
    static func number(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v > 0 ? "∞" : "-∞") }
        if abs(v) >= 1000 && abs(v) < 1e15 {
            let text = String(format: "%.1f", v)
            return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
        }
        return SVGChart.fmt(v)
    }
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
}

extension WebHandlers {
    /// The pages of the web UI and their static assets, at the root.
    var routes: RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.get("static/app.css", .open, use: css)
        r.get("static/app.js", .open, use: js)
        r.get("favicon.ico", .open, use: favicon)
        r.get("/", .read, use: home)
        r.get("experiments", .read, use: experiments)
        r.get("experiments/{id}", .read, use: experimentRuns)
        r.get("runs/{id}", .read, use: run)
        r.get("runs/{id}/artifact", .read, use: artifactPreview)
        r.get("compare", .read, use: compare)
        r.get("models", .read, use: models)
        r.get("models/{name}", .read, use: model)
        r.get("models/{name}/versions/{version}", .read, use: modelVersionPage)
        r.get("deployments", .read, use: deploymentsPage)
        r.get("deployments/{id}", .read, use: deploymentPage)
        r.get("handoffs", .read, use: handoffsPage)
        r.get("handoffs/{id}", .read, use: handoffPage)
        r.post("handoffs/{id}/decision", .edit, use: decideHandoff)
        r.get("lineage", .read, use: lineagePage)
        r.get("team", .read, use: teamPage)
        r.get("people/{id}", .read, use: personPage)
        r.post("people/{id}/skills", .edit, use: saveSkills)
        r.get("projects", .read, use: projectsPage)
        r.get("projects/new", .read, use: newProjectForm)
        r.post("projects/new", .edit, use: createProject)
        r.get("projects/{id}", .read, use: projectPage)
        r.get("projects/{id}/edit", .read, use: editProjectForm)
        r.post("projects/{id}/edit", .edit, scope: .project, use: saveProject)
        r.post("projects/{id}/checklist", .edit, scope: .project, use: saveChecklist)
        r.post("projects/{id}/stage", .edit, scope: .project, use: moveStage)
        r.post("projects/{id}/updates", .edit, scope: .project, use: postUpdate)
        r.get("datasets", .read, use: datasetsPage)
        r.get("datasets/{name}", .read, use: datasetPage)
        return r
    }
}
