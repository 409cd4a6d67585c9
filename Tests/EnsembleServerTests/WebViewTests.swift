import EnsembleCore
import Testing

@testable import EnsembleServer

/// The pure parts of the pages at sweep shape: default columns, grouping order and links, chart
/// labels and colours, parallel-coordinate axes.
@Suite("Web views at sweep shape")
struct WebViewTests {
    static func run(_ n: Int, params: [(String, String)], metrics: [(String, Double)] = []) -> Run {
        let info = RunInfo(runID: "r\(n)", runName: "run-\(n)", experimentID: "1", userID: "u", status: .finished, startTime: Int64(n),
                           endTime: nil, artifactURI: "", lifecycleStage: .active)
        return Run(info: info, metrics: metrics.map { Metric(key: $0.0, value: $0.1, timestamp: 1) }, params: params.map { KeyValue(key: $0.0, value: $0.1) })
    }

    @Test("default columns: the model's metrics (not system ones) and the params that differ between the runs")
    func defaultColumns() {
        let runs = (0..<4).map { i in
            Self.run(i, params: [("model.block.10.dropout", "0.1"), ("lr", ["1e-4", "3e-4"][i % 2]), ("seed", "\(i)")],
                     metrics: [("val/loss", 1), ("system/cpu_utilization_percentage", 50), ("train/loss", 2)])
        }
        #expect(WebHandlers.defaultColumns(runs) == ["metrics.train/loss", "metrics.val/loss", "params.lr", "params.seed"])
        let same = (0..<3).map { Self.run($0, params: [("b", "1"), ("a", "2")]) }
        #expect(WebHandlers.defaultColumns(same) == ["params.a", "params.b"])
    }

    @Test("group keys and the filter that selects a group's runs, with quotes doubled")
    func groupClauses() throws {
        #expect(WebHandlers.groupKey("params.lora.r") == SearchKey(.param, "lora.r"))
        #expect(WebHandlers.groupKey("tags.sweep.arm") == SearchKey(.tag, "sweep.arm"))
        #expect(WebHandlers.groupKey("attributes.status") == SearchKey(.attribute, "status"))
        #expect(WebHandlers.groupKey("attributes.start_time") == nil && WebHandlers.groupKey("metrics.acc") == nil && WebHandlers.groupKey("params.") == nil)
        let clause = WebHandlers.groupClause(SearchKey(.param, "it`s"), "o'brien")
        #expect(clause == "params.`it``s` = 'o''brien'")
        // The clause parses back to the same key and value.
        let parsed = try SearchFilterParser.parse(clause, for: .runs)
        #expect(parsed.first?.key == SearchKey(.param, "it`s") && parsed.first?.value == .string("o'brien"))
        #expect(WebHandlers.groupClause(SearchKey(.tag, "t"), nil) == "tags.`t` IS NULL")
    }

    @Test("groups are listed numerically when their values are numbers, the unset group last")
    func groupOrder() {
        let groups = [
            RunGroup(value: "64", runs: 12, metrics: [:]), RunGroup(value: nil, runs: 3, metrics: [:]),
            RunGroup(value: "8", runs: 12, metrics: ["acc": .init(count: 12, mean: 0.5, min: 0.25, max: 0.75)]),
            RunGroup(value: "16", runs: 12, metrics: [:]),
        ]
        let view = WebHandlers.groupedView(groups, key: SearchKey(.param, "lora.r"), metrics: ["acc"]) { "/x?f=\($0)" }
        #expect(view.rows.map(\.value) == ["8", "16", "64", "(not set)"])
        #expect(view.rows[0].cells == ["0.5", "0.25", "0.75"] && view.rows[1].cells == ["", "", ""])
        #expect(view.rows[3].runsURL == "/x?f=params.`lora.r` IS NULL" && view.key == "params.lora.r" && !view.more)
    }

    @Test("numbers in tables and on axes")
    func numbers() {
        #expect(WebHandlers.number(652_000) == "652000" && WebHandlers.number(70_512.25) == "70512.2" && WebHandlers.number(0.87312) == "0.8731")
        #expect(WebHandlers.number(.nan) == "NaN" && WebHandlers.number(-.infinity) == "-∞")
        #expect(SVGChart.axisLabel(652_000) == "652k" && SVGChart.axisLabel(2.5e9) == "2.5G" && SVGChart.axisLabel(6.17e-8) == "6.2e-08")
        #expect(SVGChart.axisLabel(0.5) == "0.5" && SVGChart.axisLabel(1234) == "1234")
        #expect(WebHandlers.systemLabel("system/gpu_1_power_usage_watts") == "gpu 1 power usage (W)")
    }

    @Test("a hundred runs get a hundred different colours")
    func colours() {
        #expect(Set((0..<100).map { SVGChart.color($0, of: 100) }).count == 100)
        #expect(SVGChart.color(3, of: 5) == SVGChart.colors[3])
    }

    @Test("parallel coordinates: log axes for wide positive ranges, categories in natural order, runs without a value left out")
    func parallelAxes() {
        let lr = ParallelCoordinates.Axis(name: "lr", values: ["1e-4", "1e-3", "1e-2", nil])
        #expect(lr.numeric && lr.log)
        #expect(lr.position(0) == 0 && lr.position(2) == 1 && abs(lr.position(1)! - 0.5) < 1e-12 && lr.position(3) == nil)
        #expect(lr.ticks.map(\.1) == ["0.0001", "0.001", "0.01"])
        let rank = ParallelCoordinates.Axis(name: "r", values: ["8", "16", "32", "64"])
        #expect(rank.numeric && !rank.log && rank.ticks.count == 4 && rank.position(1) == 8.0 / 56)
        let opt = ParallelCoordinates.Axis(name: "opt", values: ["block.10", "block.2", "adam"])
        #expect(!opt.numeric && opt.categories == ["adam", "block.2", "block.10"] && opt.position(1) == 0.5)
        let runs = (0..<3).map { i in Self.run(i, params: i == 2 ? [] : [("opt", ["a", "b"][i])], metrics: [("acc", Double(i))]) }
        let svg = ParallelCoordinates.svg(runs: runs, params: ["opt"], metric: "acc", colours: ["#000", "#111", "#222"], groups: [nil, nil, nil])
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 2 && svg.contains("1 run(s) without a value"))
    }
}
