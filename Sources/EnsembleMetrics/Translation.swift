import Foundation

/// Corpus BLEU and chrF as sacreBLEU 2.x computes them by default, and ROUGE-L F1 as Google's
/// `rouge-score` does. Text is handled as Unicode code points, like Python strings.
public enum Translation {
    // MARK: BLEU

    public enum Smoothing: String, Sendable, CaseIterable {
        case none, floor, addK = "add-k", exp
    }

    public struct BLEUScore: Sendable, Equatable {
        /// 0–100.
        public var score: Double
        public var precisions: [Double]
        public var brevityPenalty: Double
        public var hypothesisLength: Int
        public var referenceLength: Int
    }

    static func isASCIIDigit(_ s: Unicode.Scalar) -> Bool { s.value >= 0x30 && s.value <= 0x39 }

    /// sacreBLEU's `13a` tokenizer (mteval-v13a): HTML entities, then punctuation split off, periods
    /// and commas split unless between digits, a dash split after a digit; single spaces.
    public static func tokenize13a(_ text: String) -> [String] {
        var line = text
        line = line.replacingOccurrences(of: "<skipped>", with: "")
        line = line.replacingOccurrences(of: "-\n", with: "")
        line = line.replacingOccurrences(of: "\n", with: " ")
        if line.contains("&") {
            line = line.replacingOccurrences(of: "&quot;", with: "\"")
            line = line.replacingOccurrences(of: "&amp;", with: "&")
            line = line.replacingOccurrences(of: "&lt;", with: "<")
            line = line.replacingOccurrences(of: "&gt;", with: ">")
        }
        var s = Array((" " + line + " ").unicodeScalars)
        // 1. ASCII punctuation except ' , - . gets spaces around it.
        func isSplitPunctuation(_ c: Unicode.Scalar) -> Bool {
            switch c.value {
            case 0x7B...0x7E, 0x5B...0x60, 0x20...0x26, 0x28...0x2B, 0x3A...0x40, 0x2F: return true
            default: return false
            }
        }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count * 2)
        for c in s {
            if isSplitPunctuation(c) { out += [" ", c, " "] } else { out.append(c) }
        }
        s = out
        // 2. `([^0-9])([\.,])` → `\1 \2 ` (non-overlapping, left to right).
        out = []
        var i = 0
        while i < s.count {
            if i + 1 < s.count, !isASCIIDigit(s[i]), s[i + 1] == "." || s[i + 1] == "," {
                out += [s[i], " ", s[i + 1], " "]
                i += 2
            } else {
                out.append(s[i])
                i += 1
            }
        }
        s = out
        // 3. `([\.,])([^0-9])` → ` \1 \2`.
        out = []
        i = 0
        while i < s.count {
            if i + 1 < s.count, s[i] == "." || s[i] == ",", !isASCIIDigit(s[i + 1]) {
                out += [" ", s[i], " ", s[i + 1]]
                i += 2
            } else {
                out.append(s[i])
                i += 1
            }
        }
        s = out
        // 4. `([0-9])(-)` → `\1 \2 `.
        out = []
        i = 0
        while i < s.count {
            if i + 1 < s.count, isASCIIDigit(s[i]), s[i + 1] == "-" {
                out += [s[i], " ", "-", " "]
                i += 2
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return splitPythonWhitespace(out)
    }

    /// Python's `str.split()`: runs of whitespace separate tokens.
    static func splitPythonWhitespace<C: Collection>(_ scalars: C) -> [String] where C.Element == Unicode.Scalar {
        var tokens: [String] = []
        var current = String.UnicodeScalarView()
        for c in scalars {
            if isPythonWhitespace(c) {
                if !current.isEmpty {
                    tokens.append(String(current))
                    current = String.UnicodeScalarView()
                }
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { tokens.append(String(current)) }
        return tokens
    }

    /// `str.isspace()`: Unicode whitespace plus the ASCII information separators 0x1C–0x1F.
    static func isPythonWhitespace(_ c: Unicode.Scalar) -> Bool {
        c.properties.isWhitespace || (0x1C...0x1F).contains(c.value)
    }

    /// Corpus BLEU with one reference per hypothesis: `sacrebleu.corpus_bleu(hyps, [refs])` with its
    /// defaults (13a, case-sensitive, `exp` smoothing, 4-grams).
    public static func bleu(references: [String], hypotheses: [String], smoothing: Smoothing = .exp, smoothValue: Double? = nil, maxOrder: Int = 4)
        throws(MetricError) -> BLEUScore
    {
        guard references.count == hypotheses.count else { throw MetricError("\(references.count) references but \(hypotheses.count) hypotheses.") }
        guard !references.isEmpty else { throw MetricError("No sentence pairs.") }
        var correct = [Double](repeating: 0, count: maxOrder), total = [Double](repeating: 0, count: maxOrder)
        var sysLength = 0, refLength = 0
        for (r, h) in zip(references, hypotheses) {
            let ref = tokenize13a(stripTrailing(r)), hyp = tokenize13a(stripTrailing(h))
            sysLength += hyp.count
            refLength += ref.count
            for n in 1...maxOrder {
                guard hyp.count >= n else { continue }
                var refCounts: [ArraySlice<String>: Int] = [:]
                if ref.count >= n { for i in 0...(ref.count - n) { refCounts[ref[i..<(i + n)], default: 0] += 1 } }
                var hypCounts: [ArraySlice<String>: Int] = [:]
                for i in 0...(hyp.count - n) { hypCounts[hyp[i..<(i + n)], default: 0] += 1 }
                for (gram, count) in hypCounts {
                    correct[n - 1] += Double(min(count, refCounts[gram] ?? 0))
                }
                total[n - 1] += Double(hyp.count - n + 1)
            }
        }
        var bp = 1.0
        if sysLength < refLength { bp = sysLength > 0 ? exp(1 - Double(refLength) / Double(sysLength)) : 0 }
        var precisions = [Double](repeating: 0, count: maxOrder)
        guard correct.contains(where: { $0 != 0 }) else {
            return BLEUScore(score: 0, precisions: precisions, brevityPenalty: bp, hypothesisLength: sysLength, referenceLength: refLength)
        }
        let value = smoothValue ?? (smoothing == .floor ? 0.1 : smoothing == .addK ? 1 : 0)
        var mteval = 1.0
        for n in 1...maxOrder {
            if smoothing == .addK, n > 1 {
                correct[n - 1] += value
                total[n - 1] += value
            }
            if total[n - 1] == 0 { break }
            if correct[n - 1] == 0 {
                if smoothing == .exp {
                    mteval *= 2
                    precisions[n - 1] = 100 / (mteval * total[n - 1])
                } else if smoothing == .floor {
                    precisions[n - 1] = 100 * value / total[n - 1]
                }
            } else {
                precisions[n - 1] = 100 * correct[n - 1] / total[n - 1]
            }
        }
        // A zero precision counts as log = -9999999999, as sacreBLEU floors it.
        let logSum = precisions.reduce(0.0) { $0 + ($1 == 0 ? -9_999_999_999 : log($1)) }
        return BLEUScore(
            score: bp * exp(logSum / Double(maxOrder)), precisions: precisions, brevityPenalty: bp, hypothesisLength: sysLength,
            referenceLength: refLength)
    }

    /// Python's `str.rstrip()`.
    static func stripTrailing(_ s: String) -> String {
        var scalars = Array(s.unicodeScalars)
        while let last = scalars.last, isPythonWhitespace(last) { scalars.removeLast() }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    // MARK: chrF

    /// Corpus chrF (`sacrebleu.corpus_chrf` defaults: character 6-grams, β = 2, whitespace removed,
    /// statistics summed over the corpus, averaged over the orders that occur; a hypothesis n-gram
    /// counts only when its reference has n-grams of that order). 0–100.
    public static func chrF(references: [String], hypotheses: [String], charOrder: Int = 6, beta: Double = 2) throws(MetricError) -> Double {
        guard references.count == hypotheses.count else { throw MetricError("\(references.count) references but \(hypotheses.count) hypotheses.") }
        guard !references.isEmpty else { throw MetricError("No sentence pairs.") }
        var stats = [Double](repeating: 0, count: 3 * charOrder)
        for (r, h) in zip(references, hypotheses) {
            let ref = Array(r.unicodeScalars.filter { !isPythonWhitespace($0) }), hyp = Array(h.unicodeScalars.filter { !isPythonWhitespace($0) })
            for n in 1...charOrder {
                var refCounts: [ArraySlice<Unicode.Scalar>: Int] = [:], hypCounts: [ArraySlice<Unicode.Scalar>: Int] = [:]
                if ref.count >= n { for i in 0...(ref.count - n) { refCounts[ref[i..<(i + n)], default: 0] += 1 } }
                if hyp.count >= n { for i in 0...(hyp.count - n) { hypCounts[hyp[i..<(i + n)], default: 0] += 1 } }
                var matches = 0
                for (gram, count) in hypCounts { matches += min(count, refCounts[gram] ?? 0) }
                // A hypothesis n-gram counts only when the reference has n-grams of that order (sacreBLEU).
                stats[3 * (n - 1)] += refCounts.isEmpty ? 0 : Double(max(0, hyp.count - n + 1))
                stats[3 * (n - 1) + 1] += Double(max(0, ref.count - n + 1))
                stats[3 * (n - 1) + 2] += Double(matches)
            }
        }
        let factor = beta * beta
        var avgPrecision = 0.0, avgRecall = 0.0, effective = 0
        for n in 0..<charOrder {
            let hypCount = stats[3 * n], refCount = stats[3 * n + 1], matches = stats[3 * n + 2]
            guard hypCount > 0, refCount > 0 else { continue }
            avgPrecision += matches / hypCount
            avgRecall += matches / refCount
            effective += 1
        }
        guard effective > 0 else { return 0 }
        avgPrecision /= Double(effective)
        avgRecall /= Double(effective)
        guard avgPrecision + avgRecall != 0 else { return 0 }
        return 100 * (1 + factor) * avgPrecision * avgRecall / (factor * avgPrecision + avgRecall)
    }

    // MARK: ROUGE-L

    /// `rouge-score` tokens: lower-cased, every run of characters other than a–z and 0–9 is a separator.
    public static func rougeTokens(_ text: String) -> [String] {
        text.lowercased().unicodeScalars
            .split { !(($0.value >= 0x61 && $0.value <= 0x7A) || ($0.value >= 0x30 && $0.value <= 0x39)) }
            .map { String(String.UnicodeScalarView($0)) }
    }

    /// ROUGE-L F1 of one pair: F of the longest common subsequence's precision and recall; 0 when
    /// either side has no tokens.
    public static func rougeL(reference: String, hypothesis: String) -> Double {
        let ref = rougeTokens(reference), hyp = rougeTokens(hypothesis)
        guard !ref.isEmpty, !hyp.isEmpty else { return 0 }
        var previous = [Int](repeating: 0, count: hyp.count + 1), current = previous
        for r in ref {
            for j in 1...hyp.count {
                current[j] = r == hyp[j - 1] ? previous[j - 1] + 1 : max(previous[j], current[j - 1])
            }
            swap(&previous, &current)
        }
        let lcs = Double(previous[hyp.count])
        let precision = lcs / Double(hyp.count), recall = lcs / Double(ref.count)
        return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
    }

    /// Mean ROUGE-L F1 over pairs.
    public static func meanRougeL(references: [String], hypotheses: [String]) throws(MetricError) -> Double {
        guard references.count == hypotheses.count, !references.isEmpty else {
            throw MetricError("ROUGE-L needs the same positive number of references and hypotheses (\(references.count) and \(hypotheses.count)).")
        }
        return compensatedSum(zip(references, hypotheses).lazy.map { rougeL(reference: $0, hypothesis: $1) }) / Double(references.count)
    }
}
