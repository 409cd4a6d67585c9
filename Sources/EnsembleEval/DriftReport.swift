import EnsembleJSON
import EnsembleMetrics
import Foundation

/// Reference data against a window of production data, column by column (`ensemble drift`).
///
/// A column is numeric when every reference value is a number and it has more than 10 distinct
/// values; otherwise categorical (`numeric` and `categorical` override). Empty cells are missing and
/// left out. Default thresholds, per column:
/// - numeric: with at most 1,000 reference values, drifted when the KS p-value < 0.05; with more,
///   when the Wasserstein distance divided by the reference's standard deviation is ≥ 0.1 (on large
///   samples every tiny shift is significant, so a size of effect decides);
/// - categorical: at most 1,000 values, chi-square p-value < 0.05; more, Jensen–Shannon distance ≥ 0.1.
/// The dataset drifted when at least half of its columns did.
public enum DriftReport {
    public struct Options: Sendable {
        public var reference: String
        public var current: String
        /// Only these columns (default: every column of the reference).
        public var columns: [String] = []
        public var numeric: Set<String> = []
        public var categorical: Set<String> = []
        /// The model's output column, reported as prediction drift.
        public var prediction: String?
        public var pThreshold = 0.05
        public var distanceThreshold = 0.1
        public var shareThreshold = 0.5
        /// Up to this many reference values, the p-value decides; above, the distance.
        public var smallSample = 1000
        /// Numbers held in memory across all columns of one side before sorted runs go to a temporary
        /// file (8 bytes each; the default, 8 Mi values, is 64 MiB).
        public var memoryValues = 8 << 20
        public var temporaryDirectory = NSTemporaryDirectory()
        /// A categorical column with more different values than this is refused (an identifier or free text).
        public var maxCategories = 100_000
        public init(reference: String, current: String) {
            self.reference = reference
            self.current = current
        }
    }

    public struct Column: Sendable {
        public var name: String
        public var kind: String
        public var referenceCount: Int
        public var currentCount: Int
        /// KS D for numbers, chi-square for categories.
        public var statistic: Double
        public var pValue: Double
        public var wasserstein: Double?
        public var wassersteinNormed: Double?
        public var psi: Double?
        public var jensenShannon: Double?
        public var drifted: Bool
        public var prediction: Bool
    }

    public struct Report: Sendable {
        public var columns: [Column]
        public var driftShare: Double
        public var drifted: Bool
    }

    /// A file's columns: the CSV header row, or the keys of the first JSON Lines object (no rows read).
    static func columns(of path: String) throws -> [String] {
        let probe = try TableReader(path: path, format: nil, columns: [])
        return probe.format == .csv ? probe.header : try jsonKeys(path)
    }

    /// The keys of a JSON Lines file's first object, in order.
    static func jsonKeys(_ path: String) throws -> [String] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw InputError(message: "Cannot open '\(path)'. Check the path and that the file is readable.") }
        defer { try? handle.close() }
        var bytes: [UInt8] = []
        while true {
            let chunk = handle.readData(ofLength: 1 << 16)
            if chunk.isEmpty { break }
            if let end = chunk.firstIndex(of: UInt8(ascii: "\n")) {
                bytes += chunk[chunk.startIndex..<end]
                break
            }
            bytes += chunk
            if bytes.count > 16 << 20 { break }
        }
        let value: JSONValue
        do { value = try bytes.withUnsafeBytes { try JSONParser.parse($0) } } catch {
            throw InputError(message: "\(path):1: not valid JSON (\(error)). Each line must be one JSON object.")
        }
        guard case .object(let members) = value else { throw InputError(message: "\(path):1: each line must be a JSON object.") }
        return members.map(\.0)
    }

    /// How far reading has got: which side, rows and bytes read, the file's size.
    public struct Progress: Sendable {
        public var side: String
        public var rows: Int
        public var bytesRead: Int64
        public var bytesTotal: Int64
    }

    /// One column of the reference as it is read: numbers to sort while every value so far is one,
    /// category counts while they may be needed (until the column has more than 10 distinct numbers,
    /// or more categories than the cap).
    final class ReferenceColumn {
        let name: String
        let forcedNumeric: Bool
        var numericSoFar: Bool
        var spill: SortedSpill?
        var distinct: Set<Double> = []
        var categories: [String: Int]? = [:]
        var count = 0
        /// A text value came after the category counts were dropped: they are counted in a second pass.
        var recount = false
        var tooManyCategories = false

        init(name: String, numeric: Bool, categorical: Bool, spill: SortedSpill) {
            self.name = name
            forcedNumeric = numeric
            numericSoFar = !categorical
            self.spill = categorical ? nil : spill
            if numeric { categories = nil }
        }

        var isNumeric: Bool { numericSoFar && (forcedNumeric || distinct.count > 10) }
    }

    /// Reads both sides once each (the reference twice when a column turned out to hold text only after
    /// many numbers), keeping per column either its numbers, sorted through ``SortedSpill`` in bounded
    /// memory, or its category counts; then compares them column by column.
    public static func run(_ o: Options, progress: (Progress) -> Void = { _ in }) throws -> Report {
        let names = o.columns.isEmpty ? try columns(of: o.reference) : o.columns
        guard !names.isEmpty else { throw InputError(message: "\(o.reference): no columns.") }
        // The current window must hold the same columns (read from its header, not its rows).
        let currentHeader = try columns(of: o.current)
        for name in names where !currentHeader.contains(name) {
            throw InputError(message: "\(o.current): has no column '\(name)', which the reference \(o.reference) has. Its columns are: \(currentHeader.joined(separator: ", ")).")
        }
        if o.columns.isEmpty {
            for name in currentHeader where !names.contains(name) {
                throw InputError(message: "\(o.reference): has no column '\(name)', which the current window \(o.current) has. Compare the same columns, or choose some with --column.")
            }
        }
        if let p = o.prediction, !names.contains(p) { throw InputError(message: "--prediction-column '\(p)' is not a column of \(o.reference).") }
        let capacity = max(o.memoryValues / names.count, 1024)
        func spill() -> SortedSpill { SortedSpill(capacity: capacity, directory: o.temporaryDirectory) }

        // The reference.
        let reference = names.map { ReferenceColumn(name: $0, numeric: o.numeric.contains($0), categorical: o.categorical.contains($0), spill: spill()) }
        try stream(o.reference, names, side: "reference", progress) { reader, k in
            let c = reference[k]
            if reader.withField(k, \.isEmpty) { return }  // missing
            c.count += 1
            if c.numericSoFar {
                let v = reader.withField(k, TableReader.parseDouble) ?? .nan
                if v.isFinite {
                    try c.spill!.append(v)
                    if c.distinct.count <= 10 {
                        c.distinct.insert(v)
                        if c.distinct.count > 10 { c.categories = nil }
                    }
                } else if c.forcedNumeric {
                    throw InputError(message: "\(o.reference):\(reader.line): column '\(c.name)' is not a finite number, and --numeric says it is numeric.")
                } else {
                    c.numericSoFar = false
                    c.spill = nil
                    if c.categories == nil && !c.tooManyCategories { c.recount = true }
                }
            }
            if !c.numericSoFar || c.distinct.count <= 10, c.categories != nil { count(reader, k, into: c, cap: o.maxCategories) }
        }
        let recount = reference.filter(\.recount)
        if !recount.isEmpty {
            for c in recount { c.categories = [:] }
            try stream(o.reference, recount.map(\.name), side: "reference", progress) { reader, k in
                if reader.withField(k, \.isEmpty) { return }
                if recount[k].categories != nil { count(reader, k, into: recount[k], cap: o.maxCategories) }
            }
        }
        for c in reference {
            guard c.count > 0 else { throw InputError(message: "\(o.reference): column '\(c.name)' is empty in every row.") }
            if c.isNumeric {
                try c.spill!.finish()
            } else {
                c.spill = nil
                guard c.categories != nil else {
                    throw InputError(message: "\(o.reference): column '\(c.name)' has more than \(o.maxCategories) different values and is not numeric: it looks like an identifier or free text. Leave it out (choose columns with --column), or mark it --numeric.")
                }
            }
        }

        // The current window, each column as the reference's kind says.
        let numbers = reference.map { $0.isNumeric ? spill() : nil }
        var categories = reference.map { _ in [String: Int]() }
        var currentCounts = [Int](repeating: 0, count: names.count)
        try stream(o.current, names, side: "current", progress) { reader, k in
            if reader.withField(k, \.isEmpty) { return }
            currentCounts[k] += 1
            if let spill = numbers[k] {
                guard let v = reader.withField(k, TableReader.parseDouble), v.isFinite else {
                    throw InputError(message: "\(o.current):\(reader.line): column '\(names[k])' is '\(reader.string(k).prefix(40))', but the column is numeric in the reference.")
                }
                try spill.append(v)
            } else {
                categories[k][reader.string(k), default: 0] += 1
                if categories[k].count > o.maxCategories {
                    throw InputError(message: "\(o.current): column '\(names[k])' has more than \(o.maxCategories) different values; the reference has \(reference[k].categories!.count). Is it the same column? Leave it out with --column.")
                }
            }
        }

        var columns: [Column] = []
        for (k, ref) in reference.enumerated() {
            guard currentCounts[k] > 0 else { throw InputError(message: "\(o.current): column '\(ref.name)' is empty in every row.") }
            var column: Column
            if let cur = numbers[k], let refSpill = ref.spill {
                try cur.finish()
                var edgeReader = refSpill.sorted()
                let edges = Drift.decileEdges(&edgeReader, count: refSpill.count)
                var a = refSpill.sorted(), b = cur.sorted()
                let c = Drift.compareSorted(&a, count: refSpill.count, &b, count: cur.count, edges: edges)
                guard c.binsA.reduce(0, +) == refSpill.count, c.binsB.reduce(0, +) == cur.count else {
                    throw InputError(message: "Reading back the sorted values of column '\(ref.name)' from \(o.temporaryDirectory) came up short. Check the disk, or set TMPDIR to another folder.")
                }
                let sd = refSpill.moments.sd
                let normed = sd > 0 ? c.wasserstein / sd : nil
                let p = Drift.ksPValue(c.statistic, refSpill.count, cur.count)
                let drifted = refSpill.count <= o.smallSample ? p < o.pThreshold : (normed ?? (c.wasserstein > 0 ? .infinity : 0)) >= o.distanceThreshold
                column = Column(
                    name: ref.name, kind: "numeric", referenceCount: refSpill.count, currentCount: cur.count, statistic: c.statistic, pValue: p,
                    wasserstein: c.wasserstein, wassersteinNormed: normed, psi: Drift.psi(referenceBins: c.binsA, currentBins: c.binsB), jensenShannon: nil,
                    drifted: drifted, prediction: ref.name == o.prediction)
            } else {
                // Categories sorted, the reference's first (the statistics do not depend on the order).
                let refCounts = ref.categories!
                let keys = refCounts.keys.sorted() + categories[k].keys.filter { refCounts[$0] == nil }.sorted()
                let a = keys.map { refCounts[$0] ?? 0 }, b = keys.map { categories[k][$0] ?? 0 }
                let chi = Drift.chiSquare(reference: a, current: b)
                let js = Drift.jensenShannon(a, b)
                let drifted = ref.count <= o.smallSample ? chi.pValue < o.pThreshold : js >= o.distanceThreshold
                column = Column(
                    name: ref.name, kind: "categorical", referenceCount: ref.count, currentCount: currentCounts[k], statistic: chi.statistic, pValue: chi.pValue,
                    wasserstein: nil, wassersteinNormed: nil, psi: nil, jensenShannon: js, drifted: drifted, prediction: ref.name == o.prediction)
            }
            columns.append(column)
        }
        let share = Double(columns.filter(\.drifted).count) / Double(columns.count)
        return Report(columns: columns, driftShare: share, drifted: share >= o.shareThreshold)
    }

    static func count(_ reader: TableReader, _ k: Int, into c: ReferenceColumn, cap: Int) {
        c.categories![reader.string(k), default: 0] += 1
        if c.categories!.count > cap {
            c.categories = nil
            c.tooManyCategories = true
        }
    }

    /// Every row of `path`, field by field (`cell(reader, k)` for wanted column k); an error with no rows.
    static func stream(_ path: String, _ names: [String], side: String, _ progress: (Progress) -> Void, cell: (TableReader, Int) throws -> Void) throws {
        let reader = try TableReader(path: path, format: nil, columns: names)
        var rows = 0
        while try reader.nextRow() {
            for k in names.indices { try cell(reader, k) }
            rows += 1
            if rows % 65536 == 0 { progress(Progress(side: side, rows: rows, bytesRead: reader.bytesRead, bytesTotal: reader.size)) }
        }
        guard rows > 0 else { throw InputError(message: "\(path): no rows; it needs at least one data row.") }
        progress(Progress(side: side, rows: rows, bytesRead: reader.size, bytesTotal: reader.size))
    }

    public static func json(_ r: Report) -> String {
        var w = JSONWriter()
        w.beginObject()
        w.member("drift_share", double: r.driftShare)
        w.member("drifted", r.drifted)
        if let p = r.columns.first(where: \.prediction) { w.member("prediction_drift", p.drifted) }
        w.key("columns")
        w.beginArray()
        for c in r.columns {
            w.beginObject()
            w.member("column", c.name)
            w.member("kind", c.kind)
            w.member("reference_count", Int64(c.referenceCount))
            w.member("current_count", Int64(c.currentCount))
            w.member("statistic", double: c.statistic)
            w.member("p_value", double: c.pValue)
            for (key, value) in [("wasserstein", c.wasserstein), ("wasserstein_normed", c.wassersteinNormed), ("psi", c.psi), ("jensen_shannon", c.jensenShannon)] {
                w.dynamicKey(key)
                if let value { w.double(value) } else { w.null() }
            }
            w.member("drifted", c.drifted)
            if c.prediction { w.member("prediction", true) }
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.string
    }

    public static func table(_ r: Report) -> String {
        func f(_ v: Double?) -> String { v.map { String(format: "%.4g", $0) } ?? "-" }
        var rows = [["column", "kind", "statistic", "p-value", "wasserstein", "normed", "psi", "js", "drifted"]]
        for c in r.columns {
            rows.append([c.name + (c.prediction ? " (prediction)" : ""), c.kind, f(c.statistic), f(c.pValue), f(c.wasserstein), f(c.wassersteinNormed), f(c.psi),
                         f(c.jensenShannon), c.drifted ? "DRIFT" : "-"])
        }
        var out = TextTable.lines(rows).joined(separator: "\n") + "\n"
        let drifted = r.columns.filter(\.drifted).count
        out += "\(drifted) of \(r.columns.count) columns drifted (\(Int((r.driftShare * 100).rounded()))%): the dataset \(r.drifted ? "DRIFTED" : "did not drift").\n"
        return out
    }
}
