import EnsembleEval
import EnsembleMetrics
import Foundation
import Testing

/// A file in a fresh temporary folder, removed with it.
final class TempFile {
    let folder: URL
    let path: String

    init(_ name: String, _ contents: String) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        path = folder.appendingPathComponent(name).path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }
}

@Suite struct EvaluationTests {
    @Test func classificationCountsMatchTheFile() throws {
        var rng = SplitMix64(seed: 7)
        let classes = ["cat", "dog", "bird"]
        var rows: [(String, String)] = []
        for _ in 0..<500 {
            let t = classes.randomElement(using: &rng)!
            let p = Double.random(in: 0..<1, using: &rng) < 0.7 ? t : classes.randomElement(using: &rng)!
            rows.append((t, p))
        }
        let file = try TempFile("preds.csv", "id,label,prediction\n" + rows.enumerated().map { "\($0),\($1.0),\($1.1)" }.joined(separator: "\n") + "\n")
        var options = EvalOptions(file: file.path, task: .classification)
        options.metrics = ["accuracy"]
        let report = try Evaluation.run(options)
        let correct = rows.filter { $0.0 == $0.1 }.count
        #expect(report.samples == 500)
        #expect(report.value("accuracy") == Double(correct) / 500)
        // Classes in sorted order; the confusion matrix counts each (truth, prediction) pair.
        #expect(report.labels == ["bird", "cat", "dog"])
        let labels = report.labels ?? []
        for (i, t) in labels.enumerated() {
            for (j, p) in labels.enumerated() {
                #expect(report.confusion?[i][j] == rows.filter { $0 == (t, p) }.count)
            }
        }
    }

    @Test func regressionMatchesDirectFormulas() throws {
        var rng = SplitMix64(seed: 11)
        let y = (0..<300).map { _ in Double.random(in: -5...5, using: &rng) }
        let p = y.map { $0 + Double.random(in: -1...1, using: &rng) }
        let file = try TempFile("reg.jsonl", zip(y, p).map { "{\"label\": \($0), \"prediction\": \($1)}" }.joined(separator: "\n") + "\n")
        let report = try Evaluation.run(EvalOptions(file: file.path, task: .regression))
        let n = Double(y.count)
        var squared = 0.0, absolute = 0.0, total = 0.0
        for i in y.indices {
            squared += (y[i] - p[i]) * (y[i] - p[i])
            absolute += abs(y[i] - p[i])
        }
        let mean = y.reduce(0, +) / n
        for v in y { total += (v - mean) * (v - mean) }
        let mse = squared / n, mae = absolute / n, r2 = 1 - squared / total
        #expect(abs(report.value("mse")! - mse) < 1e-12)
        #expect(abs(report.value("rmse")! - mse.squareRoot()) < 1e-12)
        #expect(abs(report.value("mae")! - mae) < 1e-12)
        #expect(abs(report.value("r2")! - r2) < 1e-12)
    }

    @Test func quotedCSVFieldsKeepCommasQuotesAndLineBreaks() throws {
        let file = try TempFile(
            "asr.csv",
            "id,reference,hypothesis\r\n1,\"hello, world\",\"hello, world\"\r\n2,\"she said \"\"hi\"\"\nthen left\",she left\r\n")
        let reader = try TableReader(path: file.path, format: nil, columns: ["hypothesis", "reference"])
        var rows: [[String]] = []
        while let row = try reader.next() { rows.append(row) }
        #expect(rows == [["hello, world", "hello, world"], ["she left", "she said \"hi\"\nthen left"]])

        // jiwer splits words on spaces only, so the reference of row 2 has 4 words: she, said, "hi"⏎then, left.
        var options = EvalOptions(file: file.path, task: .speech)
        options.metrics = ["wer"]
        let report = try Evaluation.run(options)
        #expect(report.samples == 2)
        #expect(report.value("wer") == 2.0 / 6)
        #expect(report.counts.first { $0.0 == "hits" }?.1 == 4)
        #expect(report.counts.first { $0.0 == "deletions" }?.1 == 2)
    }

    @Test func progressReportsEveryRowAndTheWholeFile() throws {
        let body = (0..<70_000).map { "\($0 % 2),\(($0 / 3) % 2)" }.joined(separator: "\n") + "\n"
        let file = try TempFile("big.csv", "label,prediction\n" + body)
        final class Seen: @unchecked Sendable { var last: EvalProgress?; var calls = 0 }
        let seen = Seen()
        _ = try Evaluation.run(EvalOptions(file: file.path, task: .classification)) {
            seen.last = $0
            seen.calls += 1
        }
        #expect(seen.calls == 2)  // one at 65,536 rows, one at the end
        #expect(seen.last?.rows == 70_000)
        #expect(seen.last?.bytesRead == seen.last?.bytesTotal)
    }

    @Test func badInputSaysWhatAndWhere() throws {
        let file = try TempFile("preds.csv", "label,prediction\n1.5,2\n2.5,abc\n")
        #expect {
            try Evaluation.run(EvalOptions(file: file.path, task: .regression))
        } throws: { ($0 as? InputError)?.message.contains("preds.csv:3: the prediction 'abc' is not a number") == true }

        var missing = EvalOptions(file: file.path, task: .regression)
        missing.predictionColumn = "yhat"
        #expect {
            try Evaluation.run(missing)
        } throws: { ($0 as? InputError)?.message.contains("no column 'yhat'. Its columns are: label, prediction") == true }

        var wrongTask = EvalOptions(file: file.path, task: .regression)
        wrongTask.metrics = ["accuracy"]
        #expect {
            try Evaluation.run(wrongTask)
        } throws: { ($0 as? InputError)?.message.contains("'accuracy' is not a regression metric") == true }

        let empty = try TempFile("empty.csv", "label,prediction\n")
        #expect {
            try Evaluation.run(EvalOptions(file: empty.path, task: .regression))
        } throws: { ($0 as? InputError)?.message.contains("has no data rows") == true }
    }

    @Test func tasksAreInferredFromTheirMetrics() {
        #expect(EvalTask(inferredFrom: "roc_auc") == .classification)
        #expect(EvalTask(inferredFrom: "rmse") == .regression)
        #expect(EvalTask(inferredFrom: "wer") == .speech)
        #expect(EvalTask(inferredFrom: "bleu") == .text)
        #expect(EvalTask(inferredFrom: "map_50") == .detection)
        #expect(EvalTask(inferredFrom: "nonsense") == nil)
    }

    @Test func jsonReportEscapesNamesAndWritesNonFiniteValues() {
        var report = EvalReport(task: "classification", samples: 3)
        report.metrics = [("accuracy", 2.0 / 3), ("log_loss", .infinity)]
        report.labels = ["a\"b", "ü"]
        report.confusion = [[1, 0], [1, 1]]
        #expect(report.json() == #"{"task": "classification", "samples": 3, "metrics": {"accuracy": 0.6666666666666666, "log_loss": Infinity}, "labels": ["a\"b", "ü"], "confusion_matrix": [[1, 0], [1, 1]]}"#)
    }
}

@Suite("Number parsing")
struct ParseDoubleTests {
    static func parse(_ text: String) -> Double? {
        var t = text
        return t.withUTF8 { TableReader.parseDouble($0) }
    }

    @Test("the fast paths give Double(String)'s correctly rounded value; everything else falls back or is refused")
    func agreesWithTheStandardLibrary() {
        var rng = SplitMix64(seed: 11)
        var cases = ["0", "-0", "+1", "1.", ".5", "-.5", "1e5", "1E-5", "2.5e+3", "1e22", "1e23", "1e-22", "1e-23", "123456789012345e-20", "1234567890123456", "9007199254740993",
                     "0.1", "3.14159", "1e", "1e+", "e5", "1e5x", "1.2.3", "--1", "-", "", "abc", "basic", "inf", "-inf", "nan", "NaN", "Infinity", "0x1p3", " 7", "7 ",
                     "\t8", "\u{00A0}9", "1,5", "1_000", "١٢"]
        for _ in 0..<20_000 {
            let mantissa = rng.next() % 10_000_000_000_000_000
            let exponent = Int(rng.next() % 61) - 30
            let dot = Int(rng.next() % 18)
            var digits = String(mantissa)
            if dot < digits.count { digits.insert(".", at: digits.index(digits.startIndex, offsetBy: dot)) }
            cases.append((rng.next() % 2 == 0 ? "-" : "") + digits + (rng.next() % 3 == 0 ? "e\(exponent)" : ""))
        }
        for text in cases {
            let expected = Double(text) ?? Double(text.trimmingCharacters(in: .whitespaces))
            let got = Self.parse(text)
            if let expected, expected.isNaN {
                #expect(got?.isNaN == true, "\(text)")
            } else {
                #expect(got?.bitPattern == expected?.bitPattern, "\(text): \(String(describing: got)) vs \(String(describing: expected))")
            }
        }
    }
}

@Suite("A/B analysis input")
struct ABInputTests {
    @Test("a unit given twice among 10,000 is named with both lines; unique ids pass")
    func duplicateUnits() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ab-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var text = "unit,arm,m\n"
        for i in 0..<10_000 { text += "user-\(i),\(i % 2 == 0 ? "A" : "B"),\(i % 7)\n" }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        var o = ABAnalysis.Options(file: path, control: "A")
        o.metrics = ["m"]
        let report = try ABAnalysis.run(o)
        #expect(report.controlUnits == 5000 && report.treatmentUnits == 5000)
        try (text + "user-7,A,1\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try ABAnalysis.run(o) } throws: { "\($0)".contains(":10002: unit 'user-7' in column 'unit' already appeared on line 9") }
    }
}
