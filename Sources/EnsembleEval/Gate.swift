import EnsembleJSON
import EnsembleMetrics
import Foundation

/// The release gate: a candidate model against the baseline on the same examples, each metric judged
/// by a rule on the **paired bootstrap** interval of the difference (the same resampled examples for
/// both models), so a real improvement is told apart from noise.
///
/// Binary tasks: an example is positive when its label equals `positive`; a prediction is positive
/// when it equals `positive` or is a number ≥ `threshold` (so `0`/`1` labels and scores both work).
/// Lets a buffer that concurrent chunks write at distinct indices cross into `concurrentPerform`.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

public enum Gate {
    public enum Rule: String, Sendable, CaseIterable {
        /// The candidate may be worse by at most `margin`: the interval's lower end ≥ −margin.
        case nonInferior = "non-inferior"
        /// The candidate is better by more than `margin` (default 0): the interval's lower end > margin.
        case superior
        /// The candidate reaches an absolute floor: its own interval's lower end ≥ floor.
        case atLeast = "at-least"
    }

    public static let metrics = ["accuracy", "precision", "recall", "f1", "roc_auc"]

    public struct MetricRule: Sendable {
        public var name: String
        public var rule: Rule
        public var margin: Double
        public var floor: Double?
        public init(name: String, rule: Rule, margin: Double = 0, floor: Double? = nil) {
            (self.name, self.rule, self.margin, self.floor) = (name, rule, margin, floor)
        }
    }

    public struct EvaluationSet: Sendable {
        public var name: String
        public var file: String
        public var format: TableReader.Format?
        public var idColumn = "id"
        public var labelColumn = "label"
        public var baselineColumn = "baseline"
        public var candidateColumn = "candidate"
        /// A second file with the candidate's predictions (`idColumn` and `candidateColumn`), joined to
        /// `file` by id; nil when `file` holds both models' predictions.
        public var candidateFile: String?
        public init(name: String, file: String) {
            (self.name, self.file) = (name, file)
        }
    }

    public struct Options: Sendable {
        public var sets: [EvaluationSet] = []
        public var metrics: [MetricRule] = []
        public var resamples = 10_000
        public var confidence = 0.95
        public var seed: UInt64 = 0
        /// Resample positives and negatives separately, keeping their counts.
        public var stratify = false
        public var positive = "1"
        public var threshold = 0.5
        public init() {}
    }

    public struct MetricResult: Sendable, Equatable {
        public var name: String
        public var baseline, candidate, difference, ciLow, ciHigh: Double
        /// The candidate's own interval (used by `at-least`).
        public var candidateLow, candidateHigh: Double
        public var rule: Rule
        public var margin: Double
        public var floor: Double?
        public var passed: Bool
    }

    public struct SetResult: Sendable, Equatable {
        public var name: String
        public var n: Int
        public var metrics: [MetricResult]
    }

    public struct Report: Sendable, Equatable {
        public var passed: Bool
        public var sets: [SetResult]
        public var resamples: Int
        public var confidence: Double
        public var seed: UInt64
        public init(passed: Bool, sets: [SetResult], resamples: Int, confidence: Double, seed: UInt64) {
            (self.passed, self.sets, self.resamples, self.confidence, self.seed) = (passed, sets, resamples, confidence, seed)
        }
    }

    /// One evaluation set in memory: truth and both models' scores, in file order.
    public struct Examples: Sendable {
        public var positives: [Bool]
        public var baseline: [Double]
        public var candidate: [Double]
        public var count: Int { positives.count }
        public init(positives: [Bool], baseline: [Double], candidate: [Double]) {
            (self.positives, self.baseline, self.candidate) = (positives, baseline, candidate)
        }
    }

    // MARK: Reading

    /// Reads a set; every problem names the file, the line and the column.
    public static func read(_ set: EvaluationSet, positive: String) throws -> Examples {
        var joined = try set.candidateFile.map { try readCandidates(set, file: $0) }
        let columns = [set.idColumn, set.labelColumn, set.baselineColumn] + (joined == nil ? [set.candidateColumn] : [])
        let reader = try TableReader(path: set.file, format: set.format, columns: columns)
        var seen: [String: Int] = [:]
        var examples = Examples(positives: [], baseline: [], candidate: [])
        func score(_ text: String, column: String, file: String, line: Int) throws -> Double {
            if text == positive { return 1 }
            guard let v = Double(text.trimmingCharacters(in: .whitespaces)) else {
                // Any other label is a negative prediction.
                guard !text.isEmpty else { throw InputError(message: "\(file):\(line): column '\(column)' is empty; every example needs both models' predictions.") }
                return 0
            }
            guard v.isFinite else { throw InputError(message: "\(file):\(line): column '\(column)' is \(text); scores must be finite numbers.") }
            return v
        }
        while let row = try reader.next() {
            let id = row[0]
            guard !id.isEmpty else { throw InputError(message: "\(set.file):\(reader.line): column '\(set.idColumn)' is empty; every example needs an id.") }
            if let first = seen[id] {
                throw InputError(message: "\(set.file):\(reader.line): id '\(id)' in column '\(set.idColumn)' already appeared on line \(first); ids must be unique.")
            }
            seen[id] = reader.line
            guard !row[1].isEmpty else { throw InputError(message: "\(set.file):\(reader.line): column '\(set.labelColumn)' is empty; every example needs its label.") }
            examples.positives.append(row[1] == positive || Double(row[1]).map { $0 == Double(positive) } == true)
            examples.baseline.append(try score(row[2], column: set.baselineColumn, file: set.file, line: reader.line))
            if let file = set.candidateFile {
                guard let (text, line) = joined?.removeValue(forKey: id) else {
                    throw InputError(message: "\(set.file):\(reader.line): id '\(id)' has no row in \(file); both files must hold the same examples.")
                }
                examples.candidate.append(try score(text, column: set.candidateColumn, file: file, line: line))
            } else {
                examples.candidate.append(try score(row[3], column: set.candidateColumn, file: set.file, line: reader.line))
            }
        }
        if let file = set.candidateFile, let (id, (_, line)) = joined?.min(by: { $0.value.1 < $1.value.1 }) {
            throw InputError(message: "\(file):\(line): id '\(id)' is not in \(set.file); both files must hold the same examples.")
        }
        guard examples.count > 0 else { throw InputError(message: "\(set.file): set '\(set.name)' has no examples; it needs a header row and at least one data row.") }
        return examples
    }

    /// The candidate's predictions by id, with the line each came from.
    static func readCandidates(_ set: EvaluationSet, file: String) throws -> [String: (String, Int)] {
        let reader = try TableReader(path: file, format: nil, columns: [set.idColumn, set.candidateColumn])
        var out: [String: (String, Int)] = [:]
        while let row = try reader.next() {
            guard !row[0].isEmpty else { throw InputError(message: "\(file):\(reader.line): column '\(set.idColumn)' is empty; every example needs an id.") }
            if let (_, first) = out[row[0]] {
                throw InputError(message: "\(file):\(reader.line): id '\(row[0])' in column '\(set.idColumn)' already appeared on line \(first); ids must be unique.")
            }
            out[row[0]] = (row[1], reader.line)
        }
        return out
    }

    // MARK: Metrics on weighted examples

    /// One model's examples in ascending score order, prepared once so that each resample's ROC AUC
    /// is a single sequential pass.
    struct Ranked: Sendable {
        /// The example at each rank.
        var example: [Int32]
        var positive: [Bool]
        /// Whether the rank closes a group of tied scores.
        var closesTie: [Bool]

        init(scores: [Double], positives: [Bool]) {
            let order = scores.indices.sorted { scores[$0] < scores[$1] }
            example = order.map { Int32($0) }
            positive = order.map { positives[$0] }
            closesTie = order.indices.map { r in r + 1 == order.count || scores[order[r + 1]] != scores[order[r]] }
        }

        /// ROC AUC over examples weighted by how often a resample drew them (nil: each once): the
        /// Mann–Whitney count, ties counted half, in exact integer arithmetic (twice the area).
        func auc(weights: UnsafeBufferPointer<UInt32>?) -> Double {
            var area2: UInt64 = 0, negBelow: UInt64 = 0, pos: UInt64 = 0, groupPos: UInt64 = 0, groupNeg: UInt64 = 0
            example.withUnsafeBufferPointer { ex in
                positive.withUnsafeBufferPointer { isPos in
                    closesTie.withUnsafeBufferPointer { closes in
                        for r in 0..<ex.count {
                            let w = weights.map { UInt64($0[Int(ex[r])]) } ?? 1
                            if isPos[r] { groupPos &+= w } else { groupNeg &+= w }
                            if closes[r] {
                                area2 &+= groupPos &* (2 &* negBelow &+ groupNeg)
                                negBelow &+= groupNeg
                                pos &+= groupPos
                                groupPos = 0
                                groupNeg = 0
                            }
                        }
                    }
                }
            }
            return pos > 0 && negBelow > 0 ? Double(area2) / (2 * Double(pos) * Double(negBelow)) : .nan
        }
    }

    /// A threshold metric from a confusion matrix's counts.
    static func confusionValue(_ metric: String, tp: Double, fp: Double, fn: Double, tn: Double) -> Double {
        switch metric {
        case "accuracy": return (tp + tn) / (tp + fp + fn + tn)
        // Like scikit-learn with zero_division=0.
        case "precision": return tp + fp > 0 ? tp / (tp + fp) : 0
        case "recall": return tp + fn > 0 ? tp / (tp + fn) : 0
        default: return 2 * tp + fp + fn > 0 ? 2 * tp / (2 * tp + fp + fn) : 0
        }
    }

    // MARK: The gate

    public static func run(_ options: Options, progress: ((String) -> Void)? = nil) throws -> Report {
        guard !options.sets.isEmpty else { throw InputError(message: "Give at least one evaluation set (a FILE argument or \"sets\" in --policy).") }
        guard !options.metrics.isEmpty else { throw InputError(message: "Give at least one metric (--metric NAME or \"metrics\" in --policy).") }
        for m in options.metrics where !metrics.contains(m.name) {
            throw InputError(message: "Unknown metric '\(m.name)'. The gate supports: \(metrics.joined(separator: ", ")).")
        }
        guard options.resamples >= 100, options.resamples <= 1_000_000 else { throw InputError(message: "--resamples must be between 100 and 1000000, got \(options.resamples).") }
        guard options.confidence > 0.5, options.confidence < 1 else { throw InputError(message: "--confidence must be between 0.5 and 1 (e.g. 0.95), got \(options.confidence).") }
        guard options.threshold.isFinite else { throw InputError(message: "--threshold must be a finite number, e.g. 0.5.") }
        for m in options.metrics where !m.margin.isFinite || m.margin < 0 || !(m.floor?.isFinite ?? true) {
            throw InputError(message: "The margin of \(m.name) must be a finite number ≥ 0 and its floor a finite number.")
        }
        var sets: [SetResult] = []
        for set in options.sets {
            progress?("reading \(set.file)")
            let data = try read(set, positive: options.positive)
            progress?("bootstrap on \(set.name): \(data.count) examples × \(options.resamples) resamples")
            sets.append(try evaluate(set.name, data, options))
        }
        return Report(passed: sets.allSatisfy { $0.metrics.allSatisfy(\.passed) }, sets: sets, resamples: options.resamples, confidence: options.confidence, seed: options.seed)
    }

    /// Both models' metrics on the set, and on `resamples` paired resamples of it.
    public static func evaluate(_ name: String, _ data: Examples, _ options: Options) throws -> SetResult {
        let n = data.count
        guard n > 0, data.baseline.count == n, data.candidate.count == n else {
            throw InputError(message: "Set '\(name)' needs at least one example, with a label and both models' scores for each.")
        }
        let positives = data.positives.indices.filter { data.positives[$0] }, negatives = data.positives.indices.filter { !data.positives[$0] }
        let names = options.metrics.map(\.name)
        let needsRows = names.contains("roc_auc")
        if needsRows && (positives.isEmpty || negatives.isEmpty) {
            throw InputError(message: "Set '\(name)': ROC AUC needs both classes; the labels hold \(positives.count) positive and \(negatives.count) negative examples.")
        }
        let ranked = needsRows ? (Ranked(scores: data.baseline, positives: data.positives), Ranked(scores: data.candidate, positives: data.positives)) : nil
        // Each example falls in one of 8 cells (truth, baseline's call, candidate's call): the threshold metrics of
        // both models follow from a resample's 8 cell counts.
        let cells = (0..<n).map { k in
            UInt8((data.positives[k] ? 4 : 0) | (data.baseline[k] >= options.threshold ? 2 : 0) | (data.candidate[k] >= options.threshold ? 1 : 0))
        }
        let allCounts: [Int] = cells.reduce(into: [Int](repeating: 0, count: 8)) { $0[Int($1)] += 1 }
        @Sendable func both(_ metric: String, _ counts: [Int], _ w: UnsafeBufferPointer<UInt32>?) -> (Double, Double) {
            if metric == "roc_auc", let (base, cand) = ranked { return (base.auc(weights: w), cand.auc(weights: w)) }
            func of(_ bit: Int) -> Double {
                var tp = 0, fp = 0, fn = 0, tn = 0
                for c in 0..<8 {
                    switch (c & 4 != 0, c & bit != 0) {
                    case (true, true): tp += counts[c]
                    case (false, true): fp += counts[c]
                    case (true, false): fn += counts[c]
                    case (false, false): tn += counts[c]
                    }
                }
                return confusionValue(metric, tp: Double(tp), fp: Double(fp), fn: Double(fn), tn: Double(tn))
            }
            return (of(2), of(1))
        }

        // What each resample draws from, built once: the strata (or every row), and each stratum's cell counts.
        let strata = (options.stratify ? [positives, negatives] : [Array(0..<n)]).filter { !$0.isEmpty }
        let positiveCells = Array(allCounts[4..<8]), negativeCells = Array(allCounts[0..<4])

        // Resamples run in fixed chunks, each with its own generator derived from the seed and the chunk's
        // number, so the result depends on the seed only, not on how many cores share the work.
        let chunkSize = 250
        let chunks = (options.resamples + chunkSize - 1) / chunkSize
        var perChunk = [(differences: [[Double]], candidates: [[Double]])](repeating: ([], []), count: chunks)
        perChunk.withUnsafeMutableBufferPointer { out in
            let out = UncheckedSendable(out)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                var rng = SplitMix64(seed: chunkSeed(options.seed, chunk))
                let count = min(chunkSize, options.resamples - chunk * chunkSize)
                var differences = names.map { _ in [Double]() }, candidates = names.map { _ in [Double]() }
                var weights = [UInt32](repeating: 0, count: needsRows ? n : 0)
                var counts = [Int](repeating: 0, count: 8)
                for _ in 0..<count {
                    if needsRows {
                        // ROC AUC needs to know which examples were drawn: resample rows.
                        for k in 0..<n { weights[k] = 0 }
                        for c in 0..<8 { counts[c] = 0 }
                        for group in strata {
                            let size = UInt64(group.count)
                            for _ in 0..<group.count {
                                let i = group[Int(Sampling.below(size, &rng))]
                                weights[i] += 1
                                counts[Int(cells[i])] += 1
                            }
                        }
                    } else if options.stratify {
                        // Positives (cells 4–7) and negatives (cells 0–3) keep their counts.
                        var part = [0, 0, 0, 0]
                        Sampling.multinomial(positives.count, counts: positiveCells, into: &part, &rng)
                        for c in 0..<4 { counts[4 + c] = part[c] }
                        Sampling.multinomial(negatives.count, counts: negativeCells, into: &part, &rng)
                        for c in 0..<4 { counts[c] = part[c] }
                    } else {
                        // A resample of n rows is one multinomial draw over the 8 cells: O(1) in n.
                        Sampling.multinomial(n, counts: allCounts, into: &counts, &rng)
                    }
                    weights.withUnsafeBufferPointer { w in
                        for (m, metric) in names.enumerated() {
                            let (b, c) = both(metric, counts, needsRows ? w : nil)
                            // A resample with one class only has no ROC AUC; it is left out (the interval counts what remains).
                            if b.isNaN || c.isNaN { continue }
                            differences[m].append(c - b)
                            candidates[m].append(c)
                        }
                    }
                }
                out.value[chunk] = (differences, candidates)
            }
        }
        var differences = names.indices.map { m in perChunk.flatMap { $0.differences[m] } }
        var candidates = names.indices.map { m in perChunk.flatMap { $0.candidates[m] } }
        var results: [MetricResult] = []
        for (m, rule) in options.metrics.enumerated() {
            let (b, c) = both(rule.name, allCounts, nil)
            guard differences[m].count * 2 >= options.resamples else {
                throw InputError(message: "Set '\(name)': \(rule.name) was undefined on most resamples; the set is too small or has too few examples of one class.")
            }
            let (low, high) = percentiles(&differences[m], options.confidence)
            let (cLow, cHigh) = percentiles(&candidates[m], options.confidence)
            let passed: Bool
            switch rule.rule {
            case .nonInferior: passed = low >= -rule.margin
            case .superior: passed = low > rule.margin
            case .atLeast: passed = cLow >= (rule.floor ?? 0)
            }
            results.append(MetricResult(name: rule.name, baseline: b, candidate: c, difference: c - b, ciLow: low, ciHigh: high,
                                        candidateLow: cLow, candidateHigh: cHigh, rule: rule.rule, margin: rule.margin, floor: rule.floor, passed: passed))
        }
        return SetResult(name: name, n: n, metrics: results)
    }

    /// The generator seed of one chunk of resamples: the chunk's number mixed into the seed, so that
    /// chunks draw from unrelated points of the generator's cycle.
    static func chunkSeed(_ seed: UInt64, _ chunk: Int) -> UInt64 {
        var mix = SplitMix64(seed: seed ^ (UInt64(chunk) &* 0xD1B5_4A32_D192_ED03))
        return mix.next()
    }

    /// The two-sided percentile interval.
    static func percentiles(_ values: inout [Double], _ confidence: Double) -> (Double, Double) {
        values.sort()
        return (Bootstrap.percentile(sorted: values, (1 - confidence) / 2), Bootstrap.percentile(sorted: values, (1 + confidence) / 2))
    }

    // MARK: Output

    public static func json(_ report: Report) -> String {
        var w = JSONWriter()
        w.beginObject()
        w.member("decision", report.passed ? "pass" : "fail")
        w.member("resamples", Int64(report.resamples))
        w.member("confidence", double: report.confidence)
        w.member("seed", Int64(bitPattern: report.seed))
        w.key("sets")
        w.beginArray()
        for set in report.sets {
            w.beginObject()
            w.member("name", set.name)
            w.member("n", Int64(set.n))
            w.key("metrics")
            w.beginArray()
            for m in set.metrics {
                w.beginObject()
                w.member("name", m.name)
                w.member("baseline", double: m.baseline)
                w.member("candidate", double: m.candidate)
                w.member("difference", double: m.difference)
                w.member("ci_low", double: m.ciLow)
                w.member("ci_high", double: m.ciHigh)
                w.member("candidate_ci_low", double: m.candidateLow)
                w.member("candidate_ci_high", double: m.candidateHigh)
                w.member("rule", m.rule.rawValue)
                w.member("margin", double: m.margin)
                if let floor = m.floor { w.member("floor", double: floor) }
                w.member("passed", m.passed)
                w.endObject()
            }
            w.endArray()
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.string
    }

    static func f(_ v: Double) -> String { String(format: "%.4f", v) }
    static func signed(_ v: Double) -> String { (v >= 0 ? "+" : "") + String(format: "%.4f", v) }

    /// What the rule asked, in words.
    static func ruleText(_ m: MetricResult) -> String {
        switch m.rule {
        case .nonInferior: "non-inferior (margin \(f(m.margin)))"
        case .superior: m.margin == 0 ? "superior" : "superior by > \(f(m.margin))"
        case .atLeast: "at least \(f(m.floor ?? 0))"
        }
    }

    public static func table(_ report: Report) -> String {
        var lines: [String] = []
        for set in report.sets {
            lines.append("\(set.name) (n = \(set.n))")
            lines.append("  " + ["metric", "baseline", "candidate", "difference"].map { $0.padding(toLength: 12, withPad: " ", startingAt: 0) }.joined(separator: " ")
                + " " + "\(Int(report.confidence * 100))% CI".padding(toLength: 22, withPad: " ", startingAt: 0) + " rule, verdict")
            for m in set.metrics {
                let ci = "[\(signed(m.ciLow)), \(signed(m.ciHigh))]"
                lines.append("  " + [m.name, f(m.baseline), f(m.candidate), signed(m.difference)].map { $0.padding(toLength: 12, withPad: " ", startingAt: 0) }.joined(separator: " ")
                    + " " + ci.padding(toLength: 22, withPad: " ", startingAt: 0) + " " + ruleText(m) + "  " + (m.passed ? "PASS" : "FAIL"))
            }
        }
        lines.append("Decision: \(report.passed ? "PASS" : "FAIL") (\(report.resamples) paired bootstrap resamples, seed \(report.seed))")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A Markdown report for a pull-request comment.
    public static func markdown(_ report: Report) -> String {
        var out = "### Release gate: \(report.passed ? "✅ pass" : "❌ fail")\n\n"
        for set in report.sets {
            out += "**\(set.name)** (n = \(set.n))\n\n"
            out += "| metric | baseline | candidate | difference | \(Int(report.confidence * 100))% CI | rule | verdict |\n|---|---|---|---|---|---|---|\n"
            for m in set.metrics {
                out += "| \(m.name) | \(f(m.baseline)) | \(f(m.candidate)) | \(signed(m.difference)) | \(signed(m.ciLow)) to \(signed(m.ciHigh)) | \(ruleText(m)) | \(m.passed ? "pass" : "**fail**") |\n"
            }
            out += "\n"
        }
        out += "Paired bootstrap: \(report.resamples) resamples of the same examples for both models, seed \(report.seed).\n"
        return out
    }
}
