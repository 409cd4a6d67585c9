import EnsembleCore
import Foundation
import Hummingbird

/// Up to 100 runs side by side: a legend with a colour per run (or per group), the params that differ,
/// overlaid charts, parallel coordinates over chosen params and a metric, and one param against one metric.
extension WebHandlers {
    static let compareLimit = 100
    /// Overlaid charts drawn at most; the chart menu picks others.
    static let compareCharts = 8

    func compare(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let q = Self.query(r)
        var ids: [String] = []
        // Collected only up to one past the limit: the query may repeat `run` thousands of times.
        for (name, id) in q where name == "run" && !ids.contains(id) {
            ids.append(id)
            if ids.count > Self.compareLimit { break }
        }
        guard ids.count >= 2 else { throw EnsembleError.invalid("Choose at least two runs to compare (tick them in an experiment's run table).") }
        guard ids.count <= Self.compareLimit else {
            throw EnsembleError.invalid("Compare at most \(Self.compareLimit) runs at a time; more were chosen. Narrow the runs table with a filter first.")
        }
        var runs: [Run] = []
        for id in ids { runs.append(try await tracking.run(id: id)) }
        let showAll = Self.param(q, "all") == "1"
        let paramKeys = Set(runs.flatMap { $0.params.map(\.key) }).sorted(by: NaturalOrder.less)
        let metricKeys = Set(runs.flatMap { $0.metrics.map(\.key) }).sorted(by: NaturalOrder.less)
        let paramsByRun = runs.map { Dictionary($0.params.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }) }
        let paramValues = Dictionary(uniqueKeysWithValues: paramKeys.map { key in (key, paramsByRun.map { $0[key] }) })
        let differing = paramKeys.filter { Set(paramValues[$0]!.map { $0 ?? "\u{0}" }).count > 1 }

        // Colour per run, or per value of the param or tag chosen in "colour by".
        let colourBy = Self.param(q, "colour").flatMap(Self.groupKey)
        var groupValues: [String] = []
        /// Each run's group (nil when colouring by run).
        var groupOf: [Int?] = runs.map { _ in nil }
        if let key = colourBy {
            let values = runs.map { Self.value(of: key, in: $0) ?? "(not set)" }
            let distinct = Array(Set(values))
            groupValues = distinct.sorted(by: Self.valueOrder(distinct))
            let position = Dictionary(uniqueKeysWithValues: groupValues.enumerated().map { ($1, $0) })
            groupOf = values.map { position[$0] }
        }
        let colours = runs.indices.map { i in groupOf[i].map { SVGChart.color($0, of: groupValues.count) } ?? SVGChart.color(i, of: runs.count) }
        let legend = runs.enumerated().map { i, run in
            CompareView.RunRef(id: run.info.runID, name: run.info.runName, index: i, swatch: Self.swatch(colours[i]))
        }
        let groups = groupValues.enumerated().map { g, value in
            CompareView.Group(index: g, value: value, runs: groupOf.filter { $0 == g }.count, swatch: Self.swatch(SVGChart.color(g, of: groupValues.count)))
        }

        let params = (showAll ? paramKeys : differing).map { key in
            CompareView.Param(key: key, name: breakableHTML(key), values: paramValues[key]!.map { $0 ?? "—" }, differs: differing.contains(key))
        }
        // Charts: those chosen, else the model's first metrics (system ones are in the menu).
        var chartKeys = q.filter { $0.0 == "chart" }.map(\.1).filter(metricKeys.contains)
        if chartKeys.isEmpty { chartKeys = Array(metricKeys.filter { !$0.hasPrefix("system/") }.prefix(Self.compareCharts)) }
        var charts: [ChartCard] = []
        for (i, key) in chartKeys.prefix(24).enumerated() {
            let having = runs.indices.filter { n in runs[n].metrics.contains { $0.key == key } }
            var series: [SVGChart.Series] = []
            // Each run's whole series, downsampled while drawing. (Reading sampled steps for all runs at once
            // through metricHistoryBulkInterval was slower: 627 ms against 554 ms for 100 runs, release build.)
            for n in having {
                let points = try await chartSeries(runID: runs[n].info.runID, key: key, byTime: false).points
                series.append(.init(name: runs[n].info.runName, points: points, color: colours[n], id: n, group: groupOf[n]))
            }
            charts.append(ChartCard(key: key, points: having.count, readout: "cmp-\(i)", svg: SVGChart.line(series, xLabel: "step", readout: "cmp-\(i)")))
        }

        let chosenMetric = Self.param(q, "metric").flatMap { metricKeys.contains($0) ? $0 : nil }
            ?? metricKeys.first { !$0.hasPrefix("system/") } ?? metricKeys.first
        let chosenParam = Self.param(q, "param").flatMap { paramKeys.contains($0) ? $0 : nil } ?? differing.first ?? paramKeys.first
        var axes = q.filter { $0.0 == "axis" }.map(\.1).filter(paramKeys.contains)
        if axes.isEmpty { axes = Array(differing.filter { !$0.hasSuffix("seed") }.prefix(6)) }
        axes = Array(axes.prefix(12))
        var scatter: String?
        if let chosenParam, let chosenMetric { scatter = Self.scatter(runs: runs, param: chosenParam, metric: chosenMetric) }
        var parallel: String?
        if let chosenMetric, !axes.isEmpty {
            parallel = ParallelCoordinates.svg(runs: runs, params: axes, metric: chosenMetric, colours: colours, groups: groupOf)
        }
        let colourOptions = [CompareView.Option(key: "", label: "run", selected: colourBy == nil)]
            + differing.map { CompareView.Option(key: "params.\($0)", label: "params.\($0)", selected: Self.param(q, "colour") == "params.\($0)") }
        return render(
            c,
            "compare",
            CompareView(
                count: runs.count, runs: legend, groups: groups,
                params: params, hiddenParams: showAll ? nil : (paramKeys.count - differing.count > 0 ? paramKeys.count - differing.count : nil),
                showAll: showAll, charts: charts,
                chartOptions: metricKeys.map { CompareView.Option(key: $0, label: $0, selected: chartKeys.contains($0)) },
                paramOptions: paramKeys.map { CompareView.Option(key: $0, label: $0, selected: $0 == chosenParam) },
                axisOptions: (differing + paramKeys.filter { paramValues[$0].map { Set($0).count == 1 } ?? true }).map { CompareView.Option(key: $0, label: $0, selected: axes.contains($0)) },
                metricOptions: metricKeys.map { CompareView.Option(key: $0, label: $0, selected: $0 == chosenMetric) },
                colourOptions: colourOptions, scatter: scatter, parallel: parallel))
    }

    /// A param, tag or attribute value of a run.
    static func value(of key: SearchKey, in run: Run) -> String? {
        switch key.type {
        case .param: run.params.first { $0.key == key.name }?.value
        case .tag: run.tags.first { $0.key == key.name }?.value
        case .attribute: key.name == "status" ? run.info.status.rawValue : key.name == "user_id" ? run.info.userID : run.info.runName
        default: nil
        }
    }

    /// A colour square for the legend (SVG: the page's CSP allows no inline styles).
    static func swatch(_ colour: String) -> String {
        "<svg class=\"swatch\" viewBox=\"0 0 12 12\" width=\"12\" height=\"12\" aria-hidden=\"true\"><rect width=\"12\" height=\"12\" rx=\"2\" fill=\"\(htmlEscape(colour))\"/></svg>"
    }
}

/// Parallel coordinates: one vertical axis per param and a last one for the metric, each run a line
/// through its values. Numeric axes are linear (logarithmic when positive values span more than 20×),
/// other values are spaced evenly in natural order.
enum ParallelCoordinates {
    struct Axis {
        let name: String
        let values: [String?]
        let numeric: Bool
        let log: Bool
        let categories: [String]
        let low, high: Double
        /// The distinct numbers, when few enough to label each.
        let levels: [Double]

        init(name: String, values: [String?]) {
            self.name = name
            self.values = values
            let present = values.compactMap { $0 }
            let numbers = present.compactMap { Double($0) }.filter(\.isFinite)
            numeric = !present.isEmpty && numbers.count == present.count
            categories = numeric ? [] : Array(Set(present)).sorted(by: NaturalOrder.less)
            let lo = numbers.min() ?? 0, hi = numbers.max() ?? 0
            log = numeric && lo > 0 && hi / lo > 20
            let distinct = Set(numbers).sorted()
            levels = distinct.count <= 12 ? distinct : []
            (low, high) = log ? (log10(lo), log10(hi)) : (lo, hi)
        }

        /// 0 (bottom) … 1 (top), nil when the run has no value.
        func position(_ i: Int) -> Double? {
            guard let text = values[i] else { return nil }
            if numeric, let v = Double(text), v.isFinite {
                let x = log ? log10(v) : v
                return high > low ? (x - low) / (high - low) : 0.5
            }
            guard let k = categories.firstIndex(of: text) else { return nil }
            return categories.count > 1 ? Double(k) / Double(categories.count - 1) : 0.5
        }

        var ticks: [(Double, String)] {
            if numeric {
                let f = { (x: Double) in SVGChart.fmt(self.log ? pow(10, x) : x) }
                guard high > low else { return [(0.5, f(low))] }
                if !levels.isEmpty {
                    return levels.map { v in ((log ? log10(v) : v) - low) / (high - low) }.enumerated().map { k, p in (p, SVGChart.fmt(levels[k])) }
                }
                return [(0, f(low)), (1, f(high))]
            }
            let step = max(1, categories.count / 12)
            return categories.enumerated().filter { $0.offset % step == 0 }.map { k, c in
                (categories.count > 1 ? Double(k) / Double(categories.count - 1) : 0.5, c)
            }
        }
    }

    /// `groups`: each run's group, written on its line for the legend's highlight (nil: colour by run).
    static func svg(runs: [Run], params: [String], metric: String, colours: [String], groups: [Int?]) -> String {
        var axes = params.map { key in Axis(name: key, values: runs.map { r in r.params.first { $0.key == key }?.value }) }
        axes.append(Axis(name: metric, values: runs.map { r in r.metrics.first { $0.key == metric }.flatMap { $0.value.isFinite ? SVGChart.fmt($0.value) : nil } }))
        let gap = 150.0, left = 70.0, top = 46.0, plotH = 240.0
        let width = Int(left * 2 + gap * Double(axes.count - 1)), height = Int(top + plotH + 40)
        func x(_ a: Int) -> Double { left + gap * Double(a) }
        func y(_ p: Double) -> Double { top + plotH - p * plotH }
        var svg = "<svg class=\"chart parallel\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"parallel coordinates of \(htmlEscape(params.joined(separator: ", "))) and \(htmlEscape(metric))\">"
        var skipped = 0
        for i in runs.indices {
            let positions = axes.map { $0.position(i) }
            guard positions.allSatisfy({ $0 != nil }) else {
                skipped += 1
                continue
            }
            let points = positions.enumerated().map { a, p in String(format: "%.1f,%.1f", x(a), y(p!)) }.joined(separator: " ")
            let tip = ([runs[i].info.runName] + axes.map { "\($0.name) = \($0.values[i] ?? "")" }).joined(separator: "\n")
            var marks = " data-series=\"\(i)\""
            if let group = groups[i] { marks += " data-group=\"\(group)\"" }
            svg += "<polyline class=\"line pc\" stroke=\"\(htmlEscape(colours[i]))\"\(marks) points=\"\(points)\"><title>\(htmlEscape(tip))</title></polyline>"
        }
        for (a, axis) in axes.enumerated() {
            let isMetric = a == axes.count - 1
            svg += String(format: "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x(a), top, x(a), top + plotH)
            // Long names are shortened to their last dotted parts; the full name is the tooltip.
            let parts = axis.name.split(separator: ".")
            var label = axis.name
            if label.count > 26 { label = "…" + parts.suffix(2).joined(separator: ".") }
            if label.count > 24 { label = "…" + String(label.suffix(22)) }
            svg += String(format: "<text class=\"axis-name%@\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", isMetric ? " metric" : "", x(a), a % 2 == 0 ? 16.0 : 32.0)
                + htmlEscape(label) + "<title>\(htmlEscape(axis.name + (axis.log ? " (log scale)" : "")))</title></text>"
            for (p, text) in axis.ticks {
                let short = text.count > 14 ? String(text.prefix(13)) + "…" : text
                svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x(a) - 5, y(p) + 4) + htmlEscape(short) + "<title>\(htmlEscape(text))</title></text>"
            }
        }
        if skipped > 0 {
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\">", left, Double(height) - 8) + "\(skipped) run(s) without a value on some axis are not drawn</text>"
        }
        return svg + "</svg>"
    }
}
