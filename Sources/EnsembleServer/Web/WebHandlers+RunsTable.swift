import EnsembleCore
import Foundation
import Hummingbird

/// An experiment's runs table at sweep shape: chosen metric and param columns under grouped headers,
/// 50 runs a page, or the runs grouped by a param, tag or attribute value with each metric's mean, min and max.
extension WebHandlers {
    static let pageSize = 50
    /// Groups listed at most (largest first); the rest are counted.
    static let groupLimit = 200

    /// The columns to show: those asked for, else the model's metrics (system ones left out) and the
    /// params whose values differ across the page's runs, which in a sweep are the swept ones.
    static func defaultColumns(_ runs: [Run]) -> [String] {
        let metricKeys = Set(runs.flatMap { $0.metrics.map(\.key) }).filter { !$0.hasPrefix("system/") }.sorted(by: NaturalOrder.less)
        let paramKeys = Set(runs.flatMap { $0.params.map(\.key) }).sorted(by: NaturalOrder.less)
        let differing = paramKeys.filter { key in Set(runs.map { r in r.params.first { $0.key == key }?.value ?? "" }).count > 1 }
        return metricKeys.prefix(6).map { "metrics.\($0)" } + (differing.isEmpty ? Array(paramKeys.prefix(3)) : Array(differing.prefix(8))).map { "params.\($0)" }
    }

    /// `params.lora.r` → the key to group by; nil for anything else.
    static func groupKey(_ text: String) -> SearchKey? {
        for (prefix, type) in [("params.", SearchKeyType.param), ("tags.", .tag), ("attributes.", .attribute)] where text.hasPrefix(prefix) {
            let name = String(text.dropFirst(prefix.count))
            guard !name.isEmpty else { return nil }
            if type == .attribute && !["status", "user_id", "run_name"].contains(name) { return nil }
            return SearchKey(type, name)
        }
        return nil
    }

    /// The order of a set of group values: by value when every one is a finite number, else in natural
    /// order. Deciding for the whole set keeps the order consistent (numbers mixed with names pairwise
    /// could make a cycle, which `sort` must never be given).
    static func valueOrder(_ values: [String]) -> (String, String) -> Bool {
        func number(_ s: String) -> Double? { Double(s).flatMap { $0.isFinite ? $0 : nil } }
        let numeric = values.allSatisfy { number($0) != nil }
        return { a, b in
            if numeric, let x = number(a), let y = number(b), x != y { return x < y }
            return NaturalOrder.less(a, b)
        }
    }

    /// A filter clause selecting one group's runs (a quote inside a quoted name or value is doubled).
    static func groupClause(_ key: SearchKey, _ value: String?) -> String {
        let name = key.name.replacingOccurrences(of: "`", with: "``")
        let field = key.type == .attribute ? "attributes.\(key.name)" : "\(key.type == .param ? "params" : "tags").`\(name)`"
        guard let value else { return "\(field) IS NULL" }
        return "\(field) = '\(value.replacingOccurrences(of: "'", with: "''"))'"
    }

    func experimentRuns(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let experiment = try await tracking.experiment(id: try c.capture("id"))
        let q = Self.query(r)
        let filterText = Self.param(q, "filter") ?? ""
        let orderText = Self.param(q, "order") ?? ""
        let groupText = Self.param(q, "group") ?? ""
        // Bounded so that the offset can neither overflow nor pass the store's largest offset.
        let pageNumber = min(max(1, Int(Self.param(q, "page") ?? "1") ?? 1), 1_000_000)
        var chosen = q.filter { $0.0 == "col" }.map(\.1)
        if chosen.isEmpty, let cols = Self.param(q, "cols"), !cols.isEmpty { chosen = cols.split(separator: ",").map(String.init) }
        chosen = Array(chosen.filter { $0.hasPrefix("metrics.") || $0.hasPrefix("params.") }.prefix(300))
        var error: String?
        var status = HTTPResponse.Status.ok
        var runs: [Run] = []
        var hasNext = false
        var search = RunSearch(experimentIDs: [experiment.id])
        do {
            search.filter = try SearchFilterParser.parse(filterText, for: .runs)
            search.orderBy = orderText.isEmpty ? [] : [try SearchFilterParser.parseOrderBy(orderText, for: .runs)]
            search.maxResults = Self.pageSize + 1
            search.offset = (pageNumber - 1) * Self.pageSize
            let found = try await tracking.searchRuns(search)
            hasNext = found.items.count > Self.pageSize
            runs = Array(found.items.prefix(Self.pageSize))
        } catch let e as EnsembleError {
            error = e.message
            status = .badRequest
        }
        if chosen.isEmpty { chosen = Self.defaultColumns(runs) }
        let metricCols = chosen.filter { $0.hasPrefix("metrics.") }, paramCols = chosen.filter { $0.hasPrefix("params.") }
        chosen = metricCols + paramCols
        let cols = chosen.joined(separator: ",")
        func link(order: String? = nil, page: Int? = nil, filter: String? = nil, group: String? = nil) -> String {
            var parts = ["filter=\(Self.urlComponent(filter ?? filterText))", "cols=\(Self.urlComponent(cols))", "order=\(Self.urlComponent(order ?? orderText))"]
            if let g = group ?? (groupText.isEmpty ? nil : groupText), !g.isEmpty { parts.append("group=\(Self.urlComponent(g))") }
            if let page { parts.append("page=\(page)") }
            return "/experiments/\(Self.urlComponent(experiment.id))?" + parts.joined(separator: "&")
        }
        /// The order a header's button asks for: descending first, then the other way.
        func sortOrder(_ key: String) -> String {
            let quoted = key.split(separator: ".", maxSplits: 1).map(String.init)
            let base = quoted.count == 2 ? "\(quoted[0]).`\(quoted[1].replacingOccurrences(of: "`", with: "``"))`" : key
            return "\(base) \(orderText == "\(base) DESC" ? "ASC" : "DESC")"
        }
        let rows = runs.map { run in
            let metrics = Dictionary(run.metrics.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            let params = Dictionary(run.params.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            let cells = chosen.map { col -> RunsView.Cell in
                if col.hasPrefix("metrics.") { return .init(text: metrics[String(col.dropFirst(8))].map(Self.number) ?? "", num: true) }
                let value = params[String(col.dropFirst(7))] ?? ""
                return .init(text: value, num: Double(value) != nil)
            }
            return RunsView.Row(
                id: run.info.runID, name: run.info.runName, started: Self.when(run.info.startTime), status: run.info.status.rawValue,
                statusClass: Self.statusClass(run.info.status), cells: cells)
        }
        // Keys offered by the chooser and the group-by menu: those of the page's runs and the chosen ones.
        let metricKeys = Set(runs.flatMap { $0.metrics.map(\.key) } + metricCols.map { String($0.dropFirst(8)) }).sorted(by: NaturalOrder.less)
        let paramKeys = Set(runs.flatMap { $0.params.map(\.key) } + paramCols.map { String($0.dropFirst(7)) }).sorted(by: NaturalOrder.less)
        let tagKeys = Set(runs.flatMap { $0.tags.map(\.key) }).filter { !$0.hasPrefix("mlflow.") || $0 == "mlflow.user" }.sorted(by: NaturalOrder.less)
        var groupOptions = [RunsView.Choice(key: "", label: "no grouping", on: groupText.isEmpty)]
        groupOptions += ["attributes.status", "attributes.user_id"].map { RunsView.Choice(key: $0, label: $0, on: groupText == $0) }
        groupOptions += paramKeys.map { RunsView.Choice(key: "params.\($0)", label: "params.\($0)", on: groupText == "params.\($0)") }
        groupOptions += tagKeys.map { RunsView.Choice(key: "tags.\($0)", label: "tags.\($0)", on: groupText == "tags.\($0)") }
        if !groupText.isEmpty && !groupOptions.contains(where: { $0.on }) {
            groupOptions.append(RunsView.Choice(key: groupText, label: groupText, on: true))
        }

        var grouped: RunsView.Grouped?
        if !groupText.isEmpty && error == nil {
            if let key = Self.groupKey(groupText) {
                let metricNames = metricCols.map { String($0.dropFirst(8)) }
                let groups = try await tracking.groupRuns(search, by: key, metrics: Array(metricNames.prefix(50)), limit: Self.groupLimit + 1)
                grouped = Self.groupedView(groups, key: key, metrics: Array(metricNames.prefix(50))) { clause in
                    link(filter: filterText.isEmpty ? clause : "\(filterText) and \(clause)", group: "")
                }
            } else {
                error = "Group by params.NAME, tags.NAME, attributes.status or attributes.user_id; '\(groupText)' is none of these."
                status = .badRequest
            }
        }
        let view = RunsView(
            title: experiment.name, id: experiment.id, name: experiment.name, filter: filterText, order: orderText, cols: cols, group: groupText,
            error: error, rows: rows, count: runs.count, page: pageNumber,
            prev: pageNumber > 1 ? link(page: pageNumber - 1) : nil, next: hasNext ? link(page: pageNumber + 1) : nil,
            sortName: "attributes.run_name " + (orderText == "attributes.run_name ASC" ? "DESC" : "ASC"),
            sortStart: "attributes.start_time " + (orderText == "attributes.start_time DESC" ? "ASC" : "DESC"),
            metricColumns: metricCols.map { RunsView.Column(key: $0, label: breakableHTML(String($0.dropFirst(8))), sortOrder: sortOrder($0)) },
            paramColumns: paramCols.map { RunsView.Column(key: $0, label: breakableHTML(String($0.dropFirst(7))), sortOrder: sortOrder($0)) },
            metricSpan: metricCols.isEmpty ? nil : metricCols.count, paramSpan: paramCols.isEmpty ? nil : paramCols.count,
            metricChoices: metricKeys.map { RunsView.Choice(key: "metrics.\($0)", label: $0, on: chosen.contains("metrics.\($0)")) },
            paramChoices: paramKeys.map { RunsView.Choice(key: "params.\($0)", label: $0, on: chosen.contains("params.\($0)")) },
            groupOptions: groupOptions, grouped: grouped)
        return render(c, "runs", view, status: status)
    }

    /// Groups in the order of their values (numbers by value, names naturally; runs without the key last).
    static func groupedView(_ groups: [RunGroup], key: SearchKey, metrics: [String], link: (String) -> String) -> RunsView.Grouped {
        let shown = groups.prefix(groupLimit)
        let less = valueOrder(shown.compactMap(\.value))
        let ordered = shown.sorted { a, b in
            guard let x = a.value else { return false }
            guard let y = b.value else { return true }
            return less(x, y)
        }
        let label = key.type == .attribute ? "attributes.\(key.name)" : "\(key.type == .param ? "params" : "tags").\(key.name)"
        let rows = ordered.map { g in
            RunsView.GroupRow(
                value: g.value ?? "(not set)", runs: g.runs, runsURL: link(groupClause(key, g.value)),
                cells: metrics.flatMap { m -> [String] in
                    guard let s = g.metrics[m] else { return ["", "", ""] }
                    return [Self.number(s.mean), Self.number(s.min), Self.number(s.max)]
                })
        }
        return RunsView.Grouped(key: label, rows: rows, metrics: metrics, more: groups.count > groupLimit)
    }
}
