import EnsembleCore
import Mustache

/// Typed view models: what a template may show, one struct per page or part, built by the
/// handlers and rendered by swift-mustache (which reads their properties by name; a `nil` property
/// or a `false` one skips its section).
protocol PageView {
    /// The page title (the header template shows it in `<title>`).
    var title: String { get }
}

/// A registered model in a list (home, models page).
struct ModelRow {
    let name: String
    let urlName: String
    let aliases: [String]
    let latest: String
    let description: String
}

/// A project on the board, with its P80 lateness when it has a plan and dates.
struct BoardItem {
    let id: String
    let name: String
    let owner: String?
    let late: String?
    let lateClass: String?
}

/// One column of the board.
struct BoardStage {
    let name: String
    let count: Int
    let projects: [BoardItem]
}

struct HomeView: PageView {
    struct RecentRun {
        let id, name, experiment, when: String
    }
    struct Activity {
        let when: String
        let project: String?
        let summary: String
        let actor: String?
    }
    let title = "Home"
    let runsThisWeek: String
    let recentRuns: [RecentRun]
    let models: [ModelRow]
    let activity: [Activity]
    let stages: [BoardStage]
}

struct ModelsView: PageView {
    let title = "Models"
    let models: [ModelRow]
}

struct ModelView: PageView {
    struct Version {
        let version: Int64
        let stage: String
        let aliases: [String]
        let runID: String?
        let created: String
        let urlName: String
    }
    struct Event {
        let when, version, kind, detail, actor: String
    }
    let title: String
    let name: String
    let description: String
    let versions: [Version]
    let history: [Event]
}

struct TeamView: PageView {
    struct Share {
        let project, share: String
    }
    struct PersonRow {
        let id, name, roles, free, success, learning: String
        let worksOn: [Share]
    }
    struct MatrixRow {
        let name: String
        let levels: [Int]
    }
    struct Gap {
        let subject, who: String
    }
    let title = "Team"
    let people: [PersonRow]
    let skills: [String]
    let matrix: [MatrixRow]
    let stageGaps: [Gap]
    let skillGaps: [Gap]
    let missingRoles: String
}

struct PersonPageView: PageView {
    struct Skill {
        let key: String
        let value: Int
    }
    struct Outcome {
        let project, outcome: String
    }
    let title: String
    let id, name, email, roles: String
    let skillsText, learningText: String
    let skills: [Skill]
    let capacity, free: String
    let assignments: [TeamView.Share]
    let learning, expertise, success: String
    let history: [Outcome]
}

/// The HTML error page.
struct ErrorView: PageView {
    let title = "Error"
    let heading: String
    let message: String
}

struct ExperimentsView: PageView {
    struct Row {
        let id, name, updated: String
    }
    let title = "Experiments"
    let q: String
    let experiments: [Row]
}

struct DatasetsView: PageView {
    struct Row {
        let name, urlName: String
        let logged: Int
        let stored: Int64
    }
    let title = "Datasets"
    let datasets: [Row]
}

struct DatasetView: PageView {
    struct User {
        let runID, runName, context: String
    }
    struct File {
        let path: String
        let size: Int64
        let sha: String
    }
    struct StoredVersion {
        let version: Int64
        let files: Int64
        let size: Int64
        let when: String
        let by: String?
        let description, digest: String
        let users: [User]
        let manifest: [File]
    }
    struct LoggedVersion {
        let digest, sourceType: String
        let users: [User]
    }
    let title: String
    let name: String
    let stored: [StoredVersion]
    let logged: [LoggedVersion]
}

struct ProjectsView: PageView {
    struct Entry {
        let rank: Int
        let project, name, stage, score, fte, fits, fitClass, note: String
    }
    let title = "Projects"
    let stages: [BoardStage]
    let freeFTE: String
    let portfolio: [Entry]
}

struct LineageView: PageView {
    struct Edge {
        let fromKind, fromLabel, relation, toKind, toLabel: String
    }
    let title = "Lineage"
    let root: String
    let apiURL: String
    let svg: String
    let edges: [Edge]
}

/// The project form (new and edit), refilled with what was typed when it is shown again with an error.
struct ProjectFormView: PageView {
    struct Option {
        let value: Int
        let selected: Bool
    }
    struct Score {
        let key, label: String
        let options: [Option]
    }
    let title: String
    let heading, action, cancel: String
    let error: String?
    let name, problem, objective, framing, delivery, risks, stakeholders, technical, business, experiments, models, fte: String
    let scores: [Score]
}

/// An artifact shown on its own page: an image, text (JSON pretty-printed), or a note why not.
struct ArtifactView: PageView {
    let title: String
    let name, runID, runName, download: String
    let size: Int64
    var image: String?
    var text: String?
    var note: String?
}

/// A chart in a card: its SVG (already escaped by ``SVGChart``) and the element its readout writes to.
struct ChartCard {
    let key: String
    /// The caption (escaped, breakable): the key, or a friendlier name with the key as its tooltip (system metrics).
    let label: String
    let points: Int
    let readout: String
    let svg: String

    init(key: String, label: String? = nil, points: Int, readout: String, svg: String) {
        (self.key, self.label, self.points, self.readout, self.svg) = (key, breakableHTML(label ?? key), points, readout, svg)
    }
}

/// A name and its value in a table, the name also as escaped HTML that wraps at `.`, `/` and `_`.
struct NamedValue {
    let key, name, value: String
    init(_ key: String, _ value: String) { (self.key, self.name, self.value) = (key, breakableHTML(key), value) }
}

/// An experiment's run table: one page of runs with the chosen columns under grouped headers (metrics,
/// params), sort and page links, the column chooser; or the runs grouped by one value.
struct RunsView: PageView {
    struct Cell {
        let text: String
        let num: Bool
    }
    struct Row {
        let id, name, started, status, statusClass: String
        let cells: [Cell]
    }
    struct Column {
        /// `label` is escaped HTML that wraps at `.`, `/` and `_`; `sortOrder` is the `order` its header's
        /// button submits (a button of one form, not a link: a link would repeat every chosen column, and
        /// 103 of them made a page of 880 KiB).
        let key, label, sortOrder: String
    }
    struct Choice {
        let key, label: String
        let on: Bool
    }
    struct GroupRow {
        let value: String
        let runs: Int
        /// The runs table filtered to this group (nil when the value cannot be written as a filter).
        let runsURL: String?
        /// Mean, min and max of each metric, in the order of `Grouped.metrics`.
        let cells: [String]
    }
    struct Grouped {
        let key: String
        let rows: [GroupRow]
        let metrics: [String]
        /// More groups exist than are listed.
        let more: Bool
    }
    let title: String
    let id, name, filter, order, cols, group: String
    let error: String?
    let rows: [Row]
    let count, page: Int
    let prev, next: String?
    /// The `order` values of the run-name and start-time headers.
    let sortName, sortStart: String
    let metricColumns, paramColumns: [Column]
    /// Widths of the grouped headers (nil: no such column).
    let metricSpan, paramSpan: Int?
    let metricChoices, paramChoices: [Choice]
    let groupOptions: [Choice]
    let grouped: Grouped?
}

/// A run: its values, charts, dataset inputs and one folder of its artifacts.
struct RunView: PageView {
    struct Metric {
        /// `name` is the key as escaped HTML that wraps at `.`, `/` and `_`.
        let key, name, value: String
        let step: Int64
        init(key: String, value: String, step: Int64) { (self.key, self.name, self.value, self.step) = (key, breakableHTML(key), value, step) }
    }
    struct Input {
        let name, digest, context: String
    }
    struct Artifact {
        let path, urlPath, runID: String
        let isDir: Bool
        let size: Int64
    }
    let title: String
    let id, name, status, statusClass, experimentID, experiment, started: String
    let duration, user: String?
    /// Charts of metrics that share a name prefix (`train/…`, `val/…`), in a collapsible section.
    struct ChartGroup {
        let name: String
        let count: Int
        let charts: [ChartCard]
        /// Metrics in the group beyond the charts drawn (nil: all drawn).
        let more: Int?
    }
    let params: [NamedValue]
    let paramCount: Int
    let metrics: [Metric]
    let metricCount: Int
    let tags: [NamedValue]
    let inputs: [Input]
    let chartGroups: [ChartGroup]
    /// `system/…` metrics (CPU, memory, disk, network, GPU), apart from the model's.
    let systemMetrics: [Metric]
    let systemCharts: [ChartCard]
    let log, xStep: Bool
    let artifacts: [Artifact]
    let dir, parentURL: String?
}

/// Up to 100 runs side by side: a legend (a colour per run or per group), the params that differ (or
/// all), overlaid charts, parallel coordinates, one param against one metric. Every setting is a field of
/// the form `cmp`, so changing one keeps the others.
struct CompareView: PageView {
    struct RunRef {
        let id, name: String
        let index: Int
        /// A colour square (SVG we write and escape).
        let swatch: String
    }
    struct Group {
        let index: Int
        let value: String
        let runs: Int
        let swatch: String
    }
    struct Param {
        let key: String
        /// The key as escaped HTML that wraps at `.`, `/` and `_`.
        let name: String
        let values: [String]
        let differs: Bool
    }
    struct Option {
        let key, label: String
        let selected: Bool
    }
    let title = "Compare runs"
    let count: Int
    let runs: [RunRef]
    let groups: [Group]
    let params: [Param]
    /// Params with one value in every run, left out of the table (nil: none, or all shown).
    let hiddenParams: Int?
    let showAll: Bool
    let charts: [ChartCard]
    let chartOptions, paramOptions, axisOptions, metricOptions, colourOptions: [Option]
    let scatter, parallel: String?
}

/// A project: its BRD, metrics against baseline and target, forecast, gate, staffing and updates.
struct ProjectView: PageView {
    struct Metric {
        let name, kind, baseline, target: String
        let best: String
        let bestRun: String?
    }
    struct Due {
        let date: String
        let verdict, cls: String?
    }
    struct Forecast {
        let p50, p80, p95: String
        let trials: Int
        let start, svg: String
    }
    struct Move {
        let when, from, to: String
        let by, why: String?
    }
    struct Candidate {
        let person, name, score, reasons: String
    }
    struct Activity {
        let when, kind, summary: String
        let actor: String?
    }
    struct ChecklistItem {
        let index: Int
        let text: String
        let done: Bool
    }
    let title: String
    let id, name, stage: String
    let problem, objective, framing, delivery, risks, stakeholders: String
    let metrics: [Metric]
    let forecast: Forecast?
    let due: Due?
    let history: [Move]
    let staffing: [Candidate]
    let experiments, models: [String]
    let activity: [Activity]
    /// The project's handoffs, newest first.
    var handoffs: [HandoffRow] = []
    /// Deployments of the project's models.
    var deploymentList = DeploymentList()
    /// A/B analyses kept on the project, with its business metrics beside them.
    var abTests: [ABView] = []
    let checklist: [ChecklistItem]
    let stageOptions: [String]
    let gateError: String?
}

/// What every page shows around itself: the signed-in user and the CSRF token of their session.
struct Chrome {
    /// Authentication is on (the header shows the user or a sign-in link).
    let chromeAuth: Bool
    let chromeUser: String?
    let chromeAdmin: Bool
    /// The session's CSRF token, put in a hidden `csrf` field of every form.
    let chromeCSRF: String?

    init(_ c: EnsembleRequestContext) {
        chromeAuth = c.authenticationRequired
        chromeUser = c.principal.flatMap { $0.isVerified ? ($0.displayName ?? $0.name) : nil }
        chromeAdmin = c.principal?.role == .admin
        chromeCSRF = c.authenticationRequired ? c.sessions.session?.csrf : nil
    }
}

/// A page and its chrome, as templates see them. Stored properties only: swift-mustache reads
/// values through `Mirror`, which does not see computed ones.
struct PageEnvelope<Page: PageView> {
    let page: Page
    let chromeAuth: Bool
    let chromeUser: String?
    let chromeAdmin: Bool
    let chromeCSRF: String?

    init(page: Page, chrome: Chrome) {
        self.page = page
        (chromeAuth, chromeUser, chromeAdmin, chromeCSRF) = (chrome.chromeAuth, chrome.chromeUser, chrome.chromeAdmin, chrome.chromeCSRF)
    }
}

/// The sign-in page.
struct SignInView: PageView {
    let title = "Sign in"
    let next: String
    let error: String?
    let user: String
}

/// Your account: password, API tokens (a new one shown once).
struct AccountView: PageView {
    struct Token {
        let id: Int64
        let name, hint, created, expires, lastUsed, state: String
        let active: Bool
    }
    let title = "Account"
    let name, displayName, email, role: String
    let tokens: [Token]
    let newToken: String?
    let message: String?
    let error: String?
}

/// Admins: the accounts.
struct AdminUsersView: PageView {
    struct Row {
        let name, displayName, email, role, kind, state: String
        let disabled: Bool
        let serviceAccount: Bool
        let roles: [Choice]
    }
    struct Choice {
        let value: String
        let selected: Bool
    }
    let title = "Users"
    let users: [Row]
    let error: String?
    let message: String?
    /// A service account's new token, shown once.
    var newToken: String? = nil
}

/// Admins: every grant, and a form to set or remove one.
struct AdminGrantsView: PageView {
    struct Row {
        let kind, resource, user, permission: String
    }
    let title = "Grants"
    let grants: [Row]
    let users: [String]
    let kinds: [String]
    let error: String?
    let message: String?
}

/// Admins: the newest audit log entries.
struct AdminAuditView: PageView {
    struct Row {
        let when, actor, action, target, client, detail: String
        let status: Int
        let failed: Bool
    }
    let title = "Audit log"
    let actor, action: String
    let events: [Row]
}

// The rows and cells a page repeats thousands of times (a runs table of 50 runs × 103 columns) answer
// the template's lookups themselves. swift-mustache otherwise reads each value through two `Mirror`s;
// on that table this took the page from 183 ms to 98 ms (2,000 runs, 103 columns, release build, both
// binaries measured in one run).
extension RunsView.Cell: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "text": text
        case "num": num
        default: nil
        }
    }
}

extension RunsView.Row: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "id": id
        case "name": self.name
        case "started": started
        case "status": status
        case "statusClass": statusClass
        case "cells": cells
        default: nil
        }
    }
}

extension NamedValue: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "key": key
        case "name": self.name
        case "value": value
        default: nil
        }
    }
}
