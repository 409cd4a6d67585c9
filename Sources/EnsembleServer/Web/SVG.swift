import EnsembleCore
import EnsembleJSON
import Foundation

/// HTML escaping for text and attribute values we write ourselves (templates escape theirs).
func htmlEscape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for c in s.unicodeScalars {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(c)
        }
    }
    return out
}

/// A name escaped for HTML with a `<wbr>` after each `.`, `/` and `_`, so a long dotted name
/// (`model.decoder.block.12.layer.1.EncDecAttention.dropout_probability`) wraps between its parts
/// rather than in the middle of one.
func breakableHTML(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count + 16)
    for c in s {
        out += htmlEscape(String(c))
        if c == "." || c == "/" || c == "_" { out += "<wbr>" }
    }
    return out
}

/// Server-side SVG charts.
enum SVGChart {
    struct Series {
        var name: String
        /// (x, y) sorted by x.
        var points: [(Double, Double)]
        /// The stroke colour; nil picks one from ``colors`` by position.
        var color: String? = nil
        /// Written as `data-series` and `data-group` on the line, for the legend's highlight.
        var id: Int? = nil
        var group: Int? = nil
    }

    /// A colour for each of up to hundreds of runs: hues a golden angle apart, two lightnesses.
    static func color(_ i: Int, of count: Int) -> String {
        if count <= colors.count { return colors[i % colors.count] }
        let hue = (Double(i) * 137.508).truncatingRemainder(dividingBy: 360)
        return String(format: "hsl(%.0f,70%%,%d%%)", hue, i % 2 == 0 ? 40 : 52)
    }

    static let colors = ["#2456a6", "#c0392b", "#2e7d32", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#b7950b"]

    static func fmt(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e9 { return String(Int(v)) }
        return String(format: abs(v) >= 1000 || abs(v) < 0.01 ? "%.3g" : "%.4g", v)
    }

    /// `12.3,45.6`: a point of a polyline, to a tenth of a unit.
    static func coord(_ x: Double, _ y: Double) -> String { tenths(x) + "," + tenths(y) }

    /// A number to one decimal, written with integer arithmetic: `String(format:)` goes through
    /// Foundation's formatter, and a 100-run compare writes about 100,000 coordinates.
    static func tenths(_ v: Double) -> String {
        guard v.isFinite, abs(v) < 1e15 else { return "0" }
        let t = Int((v * 10).rounded())
        let a = t.magnitude
        return (t < 0 ? "-" : "") + String(a / 10) + "." + String(a % 10)
    }

    /// An axis label that fits the margin: 651000 → 651k, 0.0000000617 → 6.2e-08.
    static func axisLabel(_ v: Double) -> String {
        let a = abs(v)
        for (from, unit, suffix) in [(1e12, 1e12, "T"), (1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")] where a >= from {
            return String(format: "%.3g", v / unit) + suffix
        }
        if a != 0 && a < 0.01 { return String(format: "%.2g", v) }
        return fmt(v)
    }

    /// Min/max per bucket along x, so a million points draw as a few hundred while spikes stay visible.
    static func downsample(_ points: [(Double, Double)], buckets: Int) -> [(x: Double, lo: Double, hi: Double, last: Double)] {
        guard points.count > buckets * 2, let first = points.first, let lastPoint = points.last, lastPoint.0 > first.0 else {
            return points.map { (x: $0.0, lo: $0.1, hi: $0.1, last: $0.1) }
        }
        let width = (lastPoint.0 - first.0) / Double(buckets)
        var out: [(x: Double, lo: Double, hi: Double, last: Double)] = []
        var i = 0
        for b in 0..<buckets {
            let end = b == buckets - 1 ? Double.infinity : first.0 + Double(b + 1) * width
            var lo = Double.infinity, hi = -Double.infinity, last = 0.0, x = 0.0, n = 0
            while i < points.count, points[i].0 < end {
                let y = points[i].1
                if y.isFinite {
                    lo = min(lo, y)
                    hi = max(hi, y)
                    last = y
                    x = points[i].0
                    n += 1
                }
                i += 1
            }
            if n > 0 { out.append((x: x, lo: lo, hi: hi, last: last)) }
        }
        return out
    }

    /// A line chart: one polyline per series (bucket means of min and max, with a min–max band), axes
    /// with the data range, optional log scale on y, and hover data for the page script.
    static func line(_ series: [Series], xLabel: String, logY: Bool = false, width: Int = 640, height: Int = 260, readout: String) -> String {
        let left = 60.0, right = 14.0, top = 12.0, bottom = 34.0
        let plotW = Double(width) - left - right, plotH = Double(height) - top - bottom
        // 300 buckets a series; 80 when many runs are overlaid (one 640-unit-wide chart of 100 lines shows no
        // more, and 100 runs × 8 charts of 200-point series made a 1.7 MB compare page).
        let buckets = series.count > 8 ? 80 : 300
        let sampled = series.map { (name: $0.name, points: downsample($0.points, buckets: buckets)) }
        let xs = sampled.flatMap { $0.points.map(\.x) }
        func ty(_ v: Double) -> Double? { logY ? (v > 0 ? log10(v) : nil) : v }
        let ys = sampled.flatMap { $0.points.flatMap { [ty($0.lo), ty($0.hi)].compactMap { $0 } } }
        guard let xMin = xs.min(), let xMax = xs.max(), let yMin = ys.min(), let yMax = ys.max() else {
            return "<p class=\"muted\">No finite values to draw.</p>"
        }
        let xSpan = xMax > xMin ? xMax - xMin : 1, ySpan = yMax > yMin ? yMax - yMin : 1
        // One step or one value: draw it in the middle instead of on an edge.
        func px(_ x: Double) -> Double { xMax > xMin ? left + (x - xMin) / xSpan * plotW : left + plotW / 2 }
        func py(_ y: Double) -> Double { yMax > yMin ? top + plotH - (y - yMin) / ySpan * plotH : top + plotH / 2 }
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(htmlEscape(sampled.map(\.name).joined(separator: ", ")))\" data-readout=\"\(htmlEscape(readout))\""
        var hover: [String] = []
        // No hover readout when many series overlap (the nearest point would be any run's): pointing at a
        // line picks it out and its title names the run. 100 runs' readouts were 500 KB of a compare page.
        for s in sampled where series.count <= 8 {
            let hoverPoints = 60
            for p in s.points.enumerated().filter({ $0.offset % max(1, s.points.count / hoverPoints) == 0 }).map(\.element) {
                hover.append("[\(tenths(px(p.x))),0,\"\(jsonEscape(s.name + " @ " + fmt(p.x)))\",\"\(fmt(p.last))\"]")
            }
        }
        svg += " data-points=\"\(htmlEscape("[" + hover.joined(separator: ",") + "]"))\">"
        svg += "<line class=\"axis\" x1=\"\(left)\" y1=\"\(top + plotH)\" x2=\"\(left + plotW)\" y2=\"\(top + plotH)\"/>"
        svg += "<line class=\"axis\" x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(top + plotH)\"/>"
        let yLow = logY ? pow(10, yMin) : yMin, yHigh = logY ? pow(10, yMax) : yMax
        svg += "<text x=\"\(left - 4)\" y=\"\(top + plotH)\" text-anchor=\"end\">\(axisLabel(yLow))<title>\(fmt(yLow))</title></text>"
        svg += "<text x=\"\(left - 4)\" y=\"\(top + 10)\" text-anchor=\"end\">\(axisLabel(yHigh))<title>\(fmt(yHigh))</title></text>"
        svg += "<text x=\"\(left)\" y=\"\(Double(height) - 8)\">\(axisLabel(xMin))</text>"
        svg += "<text x=\"\(left + plotW)\" y=\"\(Double(height) - 8)\" text-anchor=\"end\">\(axisLabel(xMax))</text>"
        svg += "<text x=\"\(left + plotW / 2)\" y=\"\(Double(height) - 8)\" text-anchor=\"middle\">\(htmlEscape(xLabel + (logY ? " · log y" : "")))</text>"
        for (i, s) in sampled.enumerated() {
            let color = series[i].color ?? colors[i % colors.count]
            var marks = ""
            if let id = series[i].id { marks += " data-series=\"\(id)\"" }
            if let group = series[i].group { marks += " data-group=\"\(group)\"" }
            let valid = s.points.compactMap { p -> (Double, Double, Double)? in
                guard let lo = ty(p.lo), let hi = ty(p.hi) else { return nil }
                return (px(p.x), py(lo), py(hi))
            }
            guard !valid.isEmpty else { continue }
            if series.count <= 8, valid.contains(where: { $0.1 != $0.2 }) {
                let upper = valid.map { coord($0.0, $0.2) }
                let lower = valid.reversed().map { coord($0.0, $0.1) }
                svg += "<polygon class=\"band\" fill=\"\(color)\" points=\"\((upper + lower).joined(separator: " "))\"/>"
            }
            if valid.count == 1, let only = valid.first, let last = s.points.first?.last {
                // A single point is a dot with its value, not an empty axis.
                let y = (only.1 + only.2) / 2
                svg += String(format: "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%@\"", only.0, y, color) + marks + ">"
                svg += "<title>\(htmlEscape(s.name)) = \(fmt(last))</title></circle>"
                // Its value beside it when it is the chart's only series (many runs' dots name themselves on hover).
                if series.count == 1 {
                    svg += String(format: "<text class=\"value\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", only.0, y - 10) + "\(fmt(last))</text>"
                }
                continue
            }
            let mid = valid.map { coord($0.0, ($0.1 + $0.2) / 2) }
            svg += "<polyline class=\"line\" stroke=\"\(color)\"\(marks) points=\"\(mid.joined(separator: " "))\"><title>\(htmlEscape(s.name))</title></polyline>"
        }
        return svg + "</svg>"
    }

    /// A histogram with vertical markers (e.g. P50/P80/P95).
    static func histogram(_ bins: [(from: Double, to: Double, count: Int)], markers: [(String, Double)], xLabel: String, width: Int = 640, height: Int = 220) -> String {
        let left = 40.0, right = 12.0, top = 18.0, bottom = 30.0
        let plotW = Double(width) - left - right, plotH = Double(height) - top - bottom
        guard let lo = bins.first?.from, let hi = bins.last?.to, let peak = bins.map(\.count).max(), peak > 0 else {
            return "<p class=\"muted\">No forecast.</p>"
        }
        let span = hi > lo ? hi - lo : 1
        func px(_ x: Double) -> Double { left + (x - lo) / span * plotW }
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"forecast histogram\">"
        for b in bins {
            let h = Double(b.count) / Double(peak) * plotH
            svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#9dbae6\"><title>%@–%@: %d</title></rect>",
                          px(b.from), top + plotH - h, max(0.5, px(b.to) - px(b.from) - 1), h, fmt(b.from), fmt(b.to), b.count)
        }
        for (i, (label, x)) in markers.enumerated() {
            let color = ["#2e7d32", "#b26a00", "#b3261e"][i % 3]
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-width=\"2\"/>", px(x), top - 4, px(x), top + plotH, color)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%@ %@</text>", px(x), top - 6 + Double(i % 2) * 0, htmlEscape(label), fmt(x))
        }
        svg += "<line class=\"axis\" x1=\"\(left)\" y1=\"\(top + plotH)\" x2=\"\(left + plotW)\" y2=\"\(top + plotH)\"/>"
        svg += "<text x=\"\(left)\" y=\"\(Double(height) - 8)\">\(fmt(lo))</text><text x=\"\(left + plotW)\" y=\"\(Double(height) - 8)\" text-anchor=\"end\">\(fmt(hi))</text>"
        svg += "<text x=\"\(left + plotW / 2)\" y=\"\(Double(height) - 8)\" text-anchor=\"middle\">\(htmlEscape(xLabel))</text>"
        return svg + "</svg>"
    }

    /// A JSON string's inside (without the quotes); the whole attribute is HTML-escaped afterwards.
    static func jsonEscape(_ s: String) -> String {
        var w = JSONWriter()
        w.string(s)
        return String(w.string.dropFirst().dropLast())
    }
}

/// Pictures drawn for pages: the parameter-vs-metric scatter and the lineage graph.
extension WebHandlers {
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
        svg += "<text x=\"\(l - 4)\" y=\"\(h - b)\" text-anchor=\"end\">\(SVGChart.axisLabel(yMin))</text><text x=\"\(l - 4)\" y=\"\(t + 10)\" text-anchor=\"end\">\(SVGChart.axisLabel(yMax))</text>"
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
