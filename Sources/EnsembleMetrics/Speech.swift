/// Word and character error rates matching jiwer 3.x with its default transforms.
///
/// Words: runs of two or more whitespace characters become one space, the text is stripped, then split
/// on single spaces (jiwer's `wer_default`). Characters: the text is stripped and every character,
/// spaces included, is a token (`cer_default`; code points, as Python counts them). Corpus rates are total edits over total reference
/// tokens, as jiwer computes them for lists.
public enum Speech {
    public struct ErrorCounts: Sendable, Equatable {
        public var substitutions = 0
        public var deletions = 0
        public var insertions = 0
        public var hits = 0
        public init() {}
        public var referenceLength: Int { substitutions + deletions + hits }
        public var errors: Int { substitutions + deletions + insertions }
        /// Edits over reference tokens (WER or CER).
        public var rate: Double { Double(errors) / Double(referenceLength) }

        public static func += (a: inout ErrorCounts, b: ErrorCounts) {
            a.substitutions += b.substitutions
            a.deletions += b.deletions
            a.insertions += b.insertions
            a.hits += b.hits
        }
    }

    /// Python's `str.isspace()` (what `\s` and `strip()` use): Unicode whitespace plus 0x1C–0x1F.
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s.value == 0x20 || (s.value >= 0x09 && s.value <= 0x0D) || (s.value >= 0x1C && s.value <= 0x1F)
            || (s.value >= 0x80 && s.properties.isWhitespace)
    }

    /// jiwer's default word tokens: `\s\s+` → " ", strip, split on " ". Equivalently, tokens are the
    /// pieces between whitespace runs of two or more, single spaces and the text's ends; a single
    /// tab (or other non-space whitespace) inside the text stays part of its word.
    public static func words(_ text: String) -> [Substring] {
        let scalars = text.unicodeScalars
        var tokens: [Substring] = []
        var tokenStart: String.Index? = nil
        var i = scalars.startIndex
        while i < scalars.endIndex {
            guard isWhitespace(scalars[i]) else {
                if tokenStart == nil { tokenStart = i }
                i = scalars.index(after: i)
                continue
            }
            var runEnd = scalars.index(after: i)
            while runEnd < scalars.endIndex, isWhitespace(scalars[runEnd]) { runEnd = scalars.index(after: runEnd) }
            let single = scalars.index(after: i) == runEnd
            let inside = tokenStart != nil && runEnd < scalars.endIndex
            if single && scalars[i] != " " && inside {
                i = runEnd  // part of the word
                continue
            }
            if let start = tokenStart {
                tokens.append(Substring(scalars[start..<i]))
                tokenStart = nil
            }
            i = runEnd
        }
        if let start = tokenStart { tokens.append(Substring(scalars[start..<scalars.endIndex])) }
        return tokens
    }

    /// jiwer's default character tokens (after stripping): Unicode code points, as Python iterates a str.
    public static func characters(_ text: String) -> [UInt32] { strip(text).unicodeScalars.map(\.value) }

    static func strip(_ text: String) -> Substring {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isWhitespace($0) }), let last = scalars.lastIndex(where: { !isWhitespace($0) }) else {
            return ""
        }
        return Substring(text.unicodeScalars[first...last])
    }

    /// Levenshtein alignment counts between two token sequences.
    ///
    /// When several alignments have the same cost, the split into substitutions, deletions and
    /// insertions follows rapidfuzz (which jiwer uses): a common prefix and suffix are matched first,
    /// and the backtrace from the end prefers a deletion, then an insertion, then the diagonal.
    public static func align<T: Hashable>(_ reference: [T], _ hypothesis: [T]) -> ErrorCounts {
        var counts = ErrorCounts()
        var lo = 0
        while lo < reference.count, lo < hypothesis.count, reference[lo] == hypothesis[lo] { lo += 1 }
        var refEnd = reference.count, hypEnd = hypothesis.count
        while refEnd > lo, hypEnd > lo, reference[refEnd - 1] == hypothesis[hypEnd - 1] {
            refEnd -= 1
            hypEnd -= 1
        }
        counts.hits = lo + (reference.count - refEnd)
        let a = reference[lo..<refEnd], b = hypothesis[lo..<hypEnd]
        let n = a.count, m = b.count
        if n == 0 || m == 0 {
            counts.deletions += n
            counts.insertions += m
            return counts
        }
        // Full table (sentences are short); row-major (n+1) × (m+1), i over the reference.
        let width = m + 1
        var d = [Int32](repeating: 0, count: (n + 1) * width)
        for j in 0...m { d[j] = Int32(j) }
        for i in 1...n {
            d[i * width] = Int32(i)
            let r = a[a.startIndex + i - 1]
            for j in 1...m {
                let sub = d[(i - 1) * width + j - 1] + (r == b[b.startIndex + j - 1] ? 0 : 1)
                let del = d[(i - 1) * width + j] + 1
                let ins = d[i * width + j - 1] + 1
                d[i * width + j] = min(sub, del, ins)
            }
        }
        func delta(_ i: Int, _ j: Int) -> Int32 { d[i * width + j] - d[(i - 1) * width + j] }
        var i = n, j = m
        while i > 0, j > 0 {
            if delta(i, j) == 1 {
                counts.deletions += 1
                i -= 1
            } else {
                j -= 1
                if j > 0, delta(i, j) == -1 {
                    counts.insertions += 1
                } else {
                    i -= 1
                    if a[a.startIndex + i] == b[b.startIndex + j] { counts.hits += 1 } else { counts.substitutions += 1 }
                }
            }
        }
        counts.deletions += i
        counts.insertions += j
        return counts
    }

    /// Corpus word error counts over sentence pairs. Empty references are refused, as jiwer does.
    public static func wordErrors(references: [String], hypotheses: [String]) throws(MetricError) -> ErrorCounts {
        try corpus(references, hypotheses, unit: "WER", tokens: words)
    }

    /// Corpus character error counts over sentence pairs.
    public static func characterErrors(references: [String], hypotheses: [String]) throws(MetricError) -> ErrorCounts {
        try corpus(references, hypotheses, unit: "CER", tokens: characters)
    }

    static func corpus<T: Hashable>(_ references: [String], _ hypotheses: [String], unit: String, tokens: (String) -> [T]) throws(MetricError)
        -> ErrorCounts
    {
        guard references.count == hypotheses.count else { throw MetricError("\(references.count) references but \(hypotheses.count) hypotheses.") }
        guard !references.isEmpty else { throw MetricError("No sentence pairs.") }
        var total = ErrorCounts()
        // Tokens become small integers, so the alignment compares integers.
        var vocabulary: [T: Int32] = [:]
        func ids(_ items: [T]) -> [Int32] {
            items.map { item in
                if let id = vocabulary[item] { return id }
                let id = Int32(vocabulary.count)
                vocabulary[item] = id
                return id
            }
        }
        for (k, (r, h)) in zip(references, hypotheses).enumerated() {
            let ref = tokens(r)
            guard !ref.isEmpty else { throw MetricError("Reference \(k + 1) is empty; \(unit) is undefined for an empty reference.") }
            total += align(ids(ref), ids(tokens(h)))
        }
        return total
    }
}
