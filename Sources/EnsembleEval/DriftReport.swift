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

    /// Every cell of the wanted columns (default: the file's), as text, with the line each row came from.
    static func read(_ path: String, columns wanted: [String]?) throws -> (names: [String], cells: [[String]], lines: [Int]) {
        let header = try wanted ?? columns(of: path)
        guard !header.isEmpty else { throw InputError(message: "\(path): no columns.") }
        let reader = try TableReader(path: path, format: nil, columns: header)
        var cells = header.map { _ in [String]() }, lines: [Int] = []
        while let row = try reader.next() {
            for i in header.indices { cells[i].append(row[i]) }
            lines.append(reader.line)
        }
        guard !lines.isEmpty else { throw InputError(message: "\(path): no rows; it needs at least one data row.") }
        return (header, cells, lines)
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

    public static func run(_ o: Options) throws -> Report {
        let reference = try read(o.reference, columns: o.columns.isEmpty ? nil : o.columns)
        // The current window must hold the same columns (read from its header, not its rows).
        let currentHeader = try columns(of: o.current)
        for name in reference.names where !currentHeader.contains(name) {
            throw InputError(message: "\(o.current): has no column '\(name)', which the reference \(o.reference) has. Its columns are: \(currentHeader.joined(separator: ", ")).")
        }
        if o.columns.isEmpty {
            for name in currentHeader where !reference.names.contains(name) {
                throw InputError(message: "\(o.reference): has no column '\(name)', which the current window \(o.current) has. Compare the same columns, or choose some with --column.")
            }
        }
        if let p = o.prediction, !reference.names.contains(p) { throw InputError(message: "--prediction-column '\(p)' is not a column of \(o.reference).") }
        let current = try read(o.current, columns: reference.names)
        var columns: [Column] = []
        for (i, name) in reference.names.enumerated() {
            let ref = reference.cells[i].filter { !$0.isEmpty }, cur = current.cells[i].filter { !$0.isEmpty }
            guard !ref.isEmpty else { throw InputError(message: "\(o.reference): column '\(name)' is empty in every row.") }
            guard !cur.isEmpty else { throw InputError(message: "\(o.current): column '\(name)' is empty in every row.") }
            let refNumbers = ref.compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }.filter(\.isFinite)
            let numeric = o.numeric.contains(name) || (!o.categorical.contains(name) && refNumbers.count == ref.count && Set(refNumbers).count > 10)
            var column: Column
            if numeric {
                guard refNumbers.count == ref.count else {
                    let line = reference.cells[i].firstIndex { !$0.isEmpty && Double($0.trimmingCharacters(in: .whitespaces))?.isFinite != true }.map { reference.lines[$0] } ?? 0
                    throw InputError(message: "\(o.reference):\(line): column '\(name)' is not a finite number, and --numeric says it is numeric.")
                }
                var curNumbers: [Double] = []
                curNumbers.reserveCapacity(cur.count)
                for (row, text) in current.cells[i].enumerated() where !text.isEmpty {
                    guard let v = Double(text.trimmingCharacters(in: .whitespaces)), v.isFinite else {
                        throw InputError(message: "\(o.current):\(current.lines[row]): column '\(name)' is '\(text.prefix(40))', but the column is numeric in the reference.")
                    }
                    curNumbers.append(v)
                }
                let ks = Drift.kolmogorovSmirnov(refNumbers, curNumbers)
                let w = Drift.wasserstein(refNumbers, curNumbers)
                let mean = refNumbers.reduce(0, +) / Double(refNumbers.count)
                let sd = (refNumbers.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(refNumbers.count)).squareRoot()
                let normed = sd > 0 ? w / sd : nil
                let drifted = refNumbers.count <= o.smallSample ? ks.pValue < o.pThreshold : (normed ?? (w > 0 ? .infinity : 0)) >= o.distanceThreshold
                column = Column(
                    name: name, kind: "numeric", referenceCount: refNumbers.count, currentCount: curNumbers.count, statistic: ks.statistic, pValue: ks.pValue,
                    wasserstein: w, wassersteinNormed: normed, psi: Drift.psi(reference: refNumbers, current: curNumbers), jensenShannon: nil, drifted: drifted,
                    prediction: name == o.prediction)
            } else {
                var categories: [String: Int] = [:]
                for v in ref + cur where categories[v] == nil { categories[v] = categories.count }
                var a = [Int](repeating: 0, count: categories.count), b = a
                for v in ref { a[categories[v]!] += 1 }
                for v in cur { b[categories[v]!] += 1 }
                let chi = Drift.chiSquare(reference: a, current: b)
                let js = Drift.jensenShannon(a, b)
                let drifted = ref.count <= o.smallSample ? chi.pValue < o.pThreshold : js >= o.distanceThreshold
                column = Column(
                    name: name, kind: "categorical", referenceCount: ref.count, currentCount: cur.count, statistic: chi.statistic, pValue: chi.pValue,
                    wasserstein: nil, wassersteinNormed: nil, psi: nil, jensenShannon: js, drifted: drifted, prediction: name == o.prediction)
            }
            columns.append(column)
        }
        let share = Double(columns.filter(\.drifted).count) / Double(columns.count)
        return Report(columns: columns, driftShare: share, drifted: share >= o.shareThreshold)
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
