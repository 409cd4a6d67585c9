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

    /// One column of one side as it is read: its numbers, kept for sorting while every value so far is
    /// one, and its category counts while they may be needed (until the column has more than 10
    /// distinct numbers, or more categories than the cap). Which it is, the reference decides once
    /// both sides are read.
    /// Used by one thread at a time: its side's reader, then its column's comparison.
    final class ColumnReading: @unchecked Sendable {
        let name: String
        let forcedNumeric: Bool
        var numericSoFar: Bool
        var spill: SortedSpill?
        var distinct: Set<Double> = []
        var categories: [String: Int]? = [:]
        var count = 0
        var tooManyCategories = false
        /// The first value that is not a finite number, with its line.
        var firstText: (line: Int, text: String)?

        init(name: String, numeric: Bool, categorical: Bool, spill: SortedSpill) {
            self.name = name
            forcedNumeric = numeric
            numericSoFar = !categorical
            self.spill = categorical ? nil : spill
            if numeric { categories = nil }
        }

        /// Numeric when it is so far, and forced or has more than 10 distinct numbers (decides the reference's kind).
        var isNumeric: Bool { numericSoFar && (forcedNumeric || distinct.count > 10) }

        /// One cell, not empty.
        func take(_ reader: TableReader, _ k: Int, cap: Int) throws {
            count += 1
            if numericSoFar {
                if let v = reader.withField(k, TableReader.parseDouble), v.isFinite {
                    try spill!.append(v)
                    if distinct.count <= 10 {
                        distinct.insert(v)
                        if distinct.count > 10 { categories = nil }
                    }
                } else {
                    firstText = (reader.line, reader.string(k))
                    numericSoFar = false
                    spill = nil
                }
            }
            if !numericSoFar || distinct.count <= 10 { countCategory(reader, k, cap: cap) }
        }

        func countCategory(_ reader: TableReader, _ k: Int, cap: Int) {
            guard categories != nil else { return }
            categories![reader.string(k), default: 0] += 1
            if categories!.count > cap {
                categories = nil
                tooManyCategories = true
            }
        }
    }

    /// Results filled in by concurrent work, one slot each.
    final class Slots<T>: @unchecked Sendable {
        var items: [Result<T, any Error>?]
        let lock = NSLock()
        init(_ n: Int) { items = Array(repeating: nil, count: n) }
        func set(_ i: Int, _ body: () throws -> T) {
            let r = Result(catching: body)
            lock.withLock { items[i] = r }
        }
        /// Sets slot `i` and returns every value set so far, in one step under the lock.
        func update(_ i: Int, _ value: T) -> [T] {
            lock.withLock {
                items[i] = .success(value)
                return items.compactMap { try? $0?.get() }
            }
        }
        /// Every result, or the first error in slot order (once the work is over).
        func get() throws -> [T] { try lock.withLock { try items.map { try $0!.get() } } }
    }

    /// Reads both sides at once, one core each, then the columns' categories again where a side dropped
    /// them too early (a column of numbers that the reference says is categorical, or that turned to
    /// text), and compares the columns, several at once. Numbers are sorted through ``SortedSpill`` in
    /// bounded memory.
    public static func run(_ o: Options, progress: @escaping @Sendable (Progress) -> Void = { _ in }) throws -> Report {
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

        // Both sides at once; progress is the sum of both.
        let paths = [o.reference, o.current]
        let read = Slots<[ColumnReading]>(2)
        let done = Slots<Progress>(2)
        let progressLock = NSLock()
        let totalBytes = paths.reduce(Int64(0)) { total, path in
            total + (((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0)
        }
        DispatchQueue.concurrentPerform(iterations: 2) { side in
            read.set(side) {
                let columns = names.map {
                    ColumnReading(
                        name: $0, numeric: o.numeric.contains($0), categorical: o.categorical.contains($0),
                        spill: SortedSpill(capacity: capacity, directory: o.temporaryDirectory))
                }
                try stream(paths[side], names, side: side == 0 ? "reference" : "current", { p in
                    let both = done.update(side, p)
                    progressLock.withLock {
                        progress(Progress(side: "both", rows: both.reduce(0) { $0 + $1.rows }, bytesRead: both.reduce(0) { $0 + $1.bytesRead }, bytesTotal: totalBytes))
                    }
                }) { reader, k in
                    if reader.withField(k, \.isEmpty) { return }  // missing
                    try columns[k].take(reader, k, cap: o.maxCategories)
                }
                return columns
            }
        }
        let sides = try read.get()
        let reference = sides[0], current = sides[1]

        // Kinds, from the reference; what each side must count again.
        for (ref, cur) in zip(reference, current) {
            guard ref.count > 0 else { throw InputError(message: "\(o.reference): column '\(ref.name)' is empty in every row.") }
            if ref.forcedNumeric, let text = ref.firstText {
                throw InputError(message: "\(o.reference):\(text.line): column '\(ref.name)' is not a finite number, and --numeric says it is numeric.")
            }
            guard cur.count > 0 else { throw InputError(message: "\(o.current): column '\(cur.name)' is empty in every row.") }
            if ref.isNumeric, let text = cur.firstText {
                throw InputError(message: "\(o.current):\(text.line): column '\(cur.name)' is '\(text.text.prefix(40))', but the column is numeric in the reference.")
            }
        }
        for (side, columns) in sides.enumerated() {
            let again = columns.indices.filter { !reference[$0].isNumeric && columns[$0].categories == nil && !columns[$0].tooManyCategories }
            guard !again.isEmpty else { continue }
            for k in again { columns[k].categories = [:] }
            try stream(paths[side], again.map { names[$0] }, side: side == 0 ? "reference" : "current", { _ in }) { reader, j in
                if reader.withField(j, \.isEmpty) { return }
                columns[again[j]].countCategory(reader, j, cap: o.maxCategories)
            }
        }
        for (ref, cur) in zip(reference, current) where !ref.isNumeric {
            guard let refCounts = ref.categories else {
                throw InputError(message: "\(o.reference): column '\(ref.name)' has more than \(o.maxCategories) different values and is not numeric: it looks like an identifier or free text. Leave it out (choose columns with --column), or mark it --numeric.")
            }
            guard cur.categories != nil else {
                throw InputError(message: "\(o.current): column '\(cur.name)' has more than \(o.maxCategories) different values; the reference has \(refCounts.count). Is it the same column? Leave it out with --column.")
            }
        }

        // The columns, several at once.
        let results = Slots<Column>(names.count)
        DispatchQueue.concurrentPerform(iterations: names.count) { k in
            results.set(k) { try compare(reference[k], current[k], o) }
        }
        let columns = try results.get()
        let share = Double(columns.filter(\.drifted).count) / Double(columns.count)
        return Report(columns: columns, driftShare: share, drifted: share >= o.shareThreshold)
    }

    /// One column's statistics and decision, from both sides as read.
    static func compare(_ ref: ColumnReading, _ cur: ColumnReading, _ o: Options) throws -> Column {
        if ref.isNumeric, let refSpill = ref.spill, let curSpill = cur.spill {
            try refSpill.finish()
            try curSpill.finish()
            var edgeReader = refSpill.sorted()
            let edges = Drift.decileEdges(&edgeReader, count: refSpill.count)
            var a = refSpill.sorted(), b = curSpill.sorted()
            let c = Drift.compareSorted(&a, count: refSpill.count, &b, count: curSpill.count, edges: edges)
            guard c.binsA.reduce(0, +) == refSpill.count, c.binsB.reduce(0, +) == curSpill.count else {
                throw InputError(message: "Reading back the sorted values of column '\(ref.name)' from \(o.temporaryDirectory) came up short. Check the disk, or set TMPDIR to another folder.")
            }
            let sd = refSpill.moments.sd
            let normed = sd > 0 ? c.wasserstein / sd : nil
            let p = Drift.ksPValue(c.statistic, refSpill.count, curSpill.count)
            let drifted = refSpill.count <= o.smallSample ? p < o.pThreshold : (normed ?? (c.wasserstein > 0 ? .infinity : 0)) >= o.distanceThreshold
            return Column(
                name: ref.name, kind: "numeric", referenceCount: refSpill.count, currentCount: curSpill.count, statistic: c.statistic, pValue: p,
                wasserstein: c.wasserstein, wassersteinNormed: normed, psi: Drift.psi(referenceBins: c.binsA, currentBins: c.binsB), jensenShannon: nil,
                drifted: drifted, prediction: ref.name == o.prediction)
        }
        // Categories sorted, the reference's first (the statistics do not depend on the order).
        let refCounts = ref.categories!, curCounts = cur.categories!
        let keys = refCounts.keys.sorted() + curCounts.keys.filter { refCounts[$0] == nil }.sorted()
        let a = keys.map { refCounts[$0] ?? 0 }, b = keys.map { curCounts[$0] ?? 0 }
        let chi = Drift.chiSquare(reference: a, current: b)
        let js = Drift.jensenShannon(a, b)
        let drifted = ref.count <= o.smallSample ? chi.pValue < o.pThreshold : js >= o.distanceThreshold
        return Column(
            name: ref.name, kind: "categorical", referenceCount: ref.count, currentCount: cur.count, statistic: chi.statistic, pValue: chi.pValue,
            wasserstein: nil, wassersteinNormed: nil, psi: nil, jensenShannon: js, drifted: drifted, prediction: ref.name == o.prediction)
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
