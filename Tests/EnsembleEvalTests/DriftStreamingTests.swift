import EnsembleMetrics
import Foundation
import Testing

@testable import EnsembleEval

@Suite("Drift in bounded memory: sorted runs on disk give what samples in memory give")
struct DriftStreamingTests {
    static func unit(_ rng: inout SplitMix64) -> Double { Double(rng.next() >> 11) / Double(1 << 53) }

    /// A temporary folder removed at the end of the test.
    final class Folder {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("drift-test-\(UUID().uuidString)").path
        init() { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func write(_ name: String, _ text: String) throws -> String {
            let file = path + "/" + name
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            return file
        }
    }

    /// Rows of a numeric column with many ties (rounded), a continuous one and a category, shifted by `shift`.
    static func table(rows: Int, shift: Double, seed: UInt64) -> (text: String, rounded: [Double], amount: [Double]) {
        var rng = SplitMix64(seed: seed)
        var text = "age,amount,plan\n", rounded: [Double] = [], amount: [Double] = []
        for _ in 0..<rows {
            let age = (40 + 12 * (unit(&rng) + unit(&rng) - 1) + shift * 5).rounded()
            let a = exp(3 + unit(&rng) + shift)
            let plan = unit(&rng) < 0.5 + shift / 4 ? "basic" : (unit(&rng) < 0.7 ? "plus" : "pro")
            rounded.append(age)
            amount.append(a)
            text += "\(age),\(a),\(plan)\n"
        }
        return (text, rounded, amount)
    }

    @Test("a spilled column reads back in order, twice, with the moments of the values")
    func spill() throws {
        var rng = SplitMix64(seed: 3)
        var values: [Double] = []
        for _ in 0..<20_000 { values.append((Self.unit(&rng) * 500).rounded() / 10) }
        let spill = SortedSpill(capacity: 1024)
        for v in values { try spill.append(v) }
        try spill.finish()
        #expect(spill.spilledBytes == Int64(values.count * 8))
        let sorted = values.sorted()
        for _ in 0..<2 {
            var it = spill.sorted(), back: [Double] = []
            while let v = it.next() { back.append(v) }
            #expect(back == sorted)
        }
        let mean = values.reduce(0, +) / Double(values.count)
        var squares = 0.0
        for v in values { squares += (v - mean) * (v - mean) }
        let sd = (squares / Double(values.count)).squareRoot()
        #expect(abs(spill.moments.mean - mean) < 1e-9 * mean)
        #expect(abs(spill.moments.sd - sd) < 1e-9 * sd)

        let small = SortedSpill(capacity: 1024)
        for v in values.prefix(100) { try small.append(v) }
        try small.finish()
        #expect(small.spilledBytes == 0)
    }

    @Test("every column's result is the same with 1,024 values in memory per column as with all of them")
    func spilledEqualsInMemory() throws {
        let folder = Folder()
        let ref = Self.table(rows: 9000, shift: 0, seed: 1), cur = Self.table(rows: 12_000, shift: 0.2, seed: 2)
        var o = DriftReport.Options(reference: try folder.write("ref.csv", ref.text), current: try folder.write("cur.csv", cur.text))
        o.temporaryDirectory = folder.path
        let memory = try DriftReport.run(o)
        o.memoryValues = 3 * 1024
        let spilled = try DriftReport.run(o)
        #expect(DriftReport.json(spilled) == DriftReport.json(memory))
        // And both equal the functions on samples in memory.
        for (name, a, b) in [("age", ref.rounded, cur.rounded), ("amount", ref.amount, cur.amount)] {
            let c = try #require(spilled.columns.first { $0.name == name })
            let ks = Drift.kolmogorovSmirnov(a, b)
            #expect(c.kind == "numeric" && c.statistic == ks.statistic && c.pValue == ks.pValue)
            #expect(abs(c.wasserstein! - Drift.wasserstein(a, b)) <= 1e-12 * c.wasserstein!)
            #expect(abs(c.psi! - Drift.psi(reference: a, current: b)) <= 1e-12)
        }
        #expect(spilled.columns.map(\.kind) == ["numeric", "numeric", "categorical"])
    }

    @Test("a column that turns to text after many numbers is counted again as categories")
    func textAfterNumbers() throws {
        let folder = Folder()
        var ref = "code\n", cur = "code\n"
        for i in 0..<300 { ref += "\(i % 40)\n" }
        ref += "n/a\n"
        for i in 0..<200 { cur += "\(i % 20)\n" }
        let o = DriftReport.Options(reference: try folder.write("ref.csv", ref), current: try folder.write("cur.csv", cur))
        let c = try #require(try DriftReport.run(o).columns.first)
        #expect(c.kind == "categorical" && c.referenceCount == 301 && c.currentCount == 200)
        // The 2 × 41 table: codes 0–39 (20–39 only in the reference) and "n/a".
        var a = (0..<40).map { i in 300 / 40 + (i < 300 % 40 ? 1 : 0) }, b = (0..<40).map { $0 < 20 ? 10 : 0 }
        a.append(1)
        b.append(0)
        let expected = Drift.chiSquare(reference: a, current: b)
        #expect(abs(c.statistic - expected.statistic) < 1e-9 * expected.statistic)
    }

    @Test("bad input names the file, line and column; identifiers are refused as categories")
    func badInput() throws {
        let folder = Folder()
        var ids = "user\n"
        for i in 0..<120 { ids += "u-\(i)\n" }
        var o = DriftReport.Options(reference: try folder.write("ids.csv", ids), current: try folder.write("ids2.csv", ids))
        o.maxCategories = 100
        #expect { try DriftReport.run(o) } throws: { "\($0)".contains("more than 100 different values") && "\($0)".contains("ids.csv") }

        var numbers = "x\n"
        for i in 0..<50 { numbers += "\(Double(i) / 3)\n" }
        let window = try folder.write("window.csv", "x\n1.5\n2.5\nabc\n")
        o = DriftReport.Options(reference: try folder.write("numbers.csv", numbers), current: window)
        #expect { try DriftReport.run(o) } throws: { "\($0)".contains("window.csv:4: column 'x' is 'abc'") }

        o = DriftReport.Options(reference: try folder.write("empty.csv", "x,y\n1,\n2,\n"), current: try folder.write("c.csv", "x,y\n1,2\n"))
        #expect { try DriftReport.run(o) } throws: { "\($0)".contains("column 'y' is empty in every row") }
    }
}
