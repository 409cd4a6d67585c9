import EnsembleArtifacts
import EnsembleCore
import EnsembleJSON
import Foundation
import Hummingbird
import Mustache
import NIOCore

/// Experiments, the runs table, a run, compare, and artifact previews.
extension WebHandlers {
    // MARK: Experiments and runs

    func experiments(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let q = Self.param(Self.query(r), "q") ?? ""
        var all = try await tracking.searchExperiments(ExperimentSearch(maxResults: 1000)).items
        if !q.isEmpty { all = all.filter { $0.name.localizedCaseInsensitiveContains(q) } }
        return render(c, "experiments", ExperimentsView(q: q, experiments: all.map { .init(id: $0.id, name: $0.name, updated: Self.when($0.lastUpdateTime)) }))
    }

    /// Charts drawn on a run page at most (the tables list every metric).
    static let chartBudget = 48

    /// `system/gpu_0_memory_usage_megabytes` → `gpu 0 memory usage (MB)`: MLflow's system metric names
    /// end in their unit.
    static func systemLabel(_ key: String) -> String {
        var name = String(key.dropFirst("system/".count))
        var unit = ""
        for (suffix, u) in [("_percentage", "%"), ("_megabytes", "MB"), ("_gigabytes", "GB"), ("_watts", "W"), ("_bytes", "bytes"), ("_seconds", "s")]
        where name.hasSuffix(suffix) {
            name.removeLast(suffix.count)
            unit = u
            break
        }
        name = name.replacingOccurrences(of: "system_", with: "").replacingOccurrences(of: "_", with: " ")
        return unit.isEmpty ? name : "\(name) (\(unit))"
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
        // Model metrics in sections by name prefix; `system/…` metrics apart, with their units.
        let sorted = run.metrics.sorted { NaturalOrder.less($0.key, $1.key) }
        let system = sorted.filter { $0.key.hasPrefix("system/") }, model = sorted.filter { !$0.key.hasPrefix("system/") }
        var groups: [(String, [Metric])] = []
        for m in model {
            let name = m.key.contains("/") ? String(m.key.split(separator: "/", maxSplits: 1)[0]) + "/" : "metrics"
            if let i = groups.firstIndex(where: { $0.0 == name }) { groups[i].1.append(m) } else { groups.append((name, [m])) }
        }
        var drawn = 0, chartIndex = 0
        func card(_ metric: Metric, label: String) async throws -> ChartCard {
            let (points, count) = try await chartSeries(runID: run.info.runID, key: metric.key, byTime: byTime)
            chartIndex += 1
            let readout = "readout-\(chartIndex)"
            return ChartCard(
                key: metric.key, label: label, points: count, readout: readout,
                svg: SVGChart.line([.init(name: label, points: points)], xLabel: byTime ? "seconds" : "step", logY: logY, readout: readout))
        }
        var chartGroups: [RunView.ChartGroup] = []
        for (name, metrics) in groups {
            // Up to 12 charts a section and 48 in all keep the page quick; the filter finds the rest in the table.
            let budget = min(12, max(0, Self.chartBudget - drawn))
            var charts: [ChartCard] = []
            for m in metrics.prefix(budget) { charts.append(try await card(m, label: m.key)) }
            drawn += charts.count
            chartGroups.append(RunView.ChartGroup(name: name, count: metrics.count, charts: charts, more: metrics.count > charts.count ? metrics.count - charts.count : nil))
        }
        var systemCharts: [ChartCard] = []
        for m in system.prefix(24) { systemCharts.append(try await card(m, label: Self.systemLabel(m.key))) }
        // The artifact folder being browsed (`?dir=`), checked like every artifact path.
        let dir = try ArtifactPath(Self.param(q, "dir") ?? "")
        var artifacts: [RunView.Artifact] = []
        if let root = try? files.runRoot(run), let entries = try? await files.artifacts.list(root.appending(dir)) {
            artifacts = entries.map { e in
                let path = dir.isRoot ? e.name : "\(dir)/\(e.name)"
                return RunView.Artifact(path: e.name, urlPath: Self.urlComponent(path), runID: run.info.runID, isDir: e.isDirectory, size: e.size ?? 0)
            }
        }
        let parent = dir.isRoot ? nil : dir.segments.dropLast().joined(separator: "/")
        let duration = run.info.endTime.map { end -> String in
            let s = Double(end - run.info.startTime) / 1000
            return s < 120 ? String(format: "%.0f s", s) : String(format: "%.1f min", s / 60)
        }
        let shownTags = run.tags.filter { !$0.key.hasPrefix("mlflow.") || $0.key == "mlflow.source.git.commit" || $0.key == "mlflow.source.name" }
        return render(
            c,
            "run",
            RunView(
                title: run.info.runName, id: run.info.runID, name: run.info.runName, status: run.info.status.rawValue,
                statusClass: Self.statusClass(run.info.status), experimentID: run.info.experimentID,
                experiment: experiment?.name ?? run.info.experimentID, started: Self.when(run.info.startTime), duration: duration,
                user: run.info.userID.isEmpty ? nil : run.info.userID,
                params: run.params.sorted { NaturalOrder.less($0.key, $1.key) }.map { NamedValue($0.key, $0.value) }, paramCount: run.params.count,
                metrics: model.map { RunView.Metric(key: $0.key, value: Self.number($0.value), step: $0.step) }, metricCount: model.count,
                tags: shownTags.sorted { NaturalOrder.less($0.key, $1.key) }.map { NamedValue($0.key, $0.value) },
                inputs: run.datasetInputs.map {
                    RunView.Input(name: $0.dataset.name, digest: $0.dataset.digest, context: $0.tags.first { $0.key == "mlflow.data.context" }?.value ?? "used")
                },
                chartGroups: chartGroups,
                systemMetrics: system.map { RunView.Metric(key: Self.systemLabel($0.key), value: Self.number($0.value), step: $0.step) },
                systemCharts: systemCharts, log: logY, xStep: !byTime, artifacts: artifacts, dir: dir.isRoot ? nil : dir.description,
                parentURL: parent.map { "/runs/\(run.info.runID)?dir=\(Self.urlComponent($0))" }))
    }

    static let previewLimit: Int64 = 256 * 1024

    /// `/runs/{id}/artifact?path=`: text and JSON shown (pretty-printed JSON), images shown, anything
    /// else offered for download; every path goes through `ArtifactPath`.
    func artifactPreview(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let run = try await tracking.run(id: try c.capture("id"))
        let raw = Self.param(Self.query(r), "path") ?? ""
        let path = try ArtifactPath(raw)
        guard !path.isRoot else { throw EnsembleError.invalid("Choose a file to preview.") }
        let reader = try await files.artifacts.read(try files.runRoot(run).appending(path))
        defer { reader.close() }
        let ext = path.name.split(separator: ".").last.map { $0.lowercased() } ?? ""
        let download = "/get-artifact?run_id=\(run.info.runID)&path=\(Self.urlComponent(path.description))"
        var view = ArtifactView(title: path.name, name: path.name, runID: run.info.runID, runName: run.info.runName, download: download, size: reader.size)
        if ["png", "jpg", "jpeg", "gif", "webp", "svg", "bmp"].contains(ext) {
            view.image = download
        } else if reader.size <= Self.previewLimit {
            let bytes = try await reader.readAll()
            if let text = String(validating: bytes, as: UTF8.self) {
                if ext == "json", let value = try? JSONParser.parse(bytes) {
                    view.text = Self.prettyJSON(value)
                } else {
                    view.text = text
                }
            }
        }
        if view.text == nil && view.image == nil { view.note = reader.size > Self.previewLimit ? "Too large to preview." : "Binary file." }
        return render(c, "artifact", view)
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
}
