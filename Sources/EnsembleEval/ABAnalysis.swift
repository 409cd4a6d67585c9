import EnsembleJSON
import EnsembleMetrics
import Foundation

/// An A/B test's analysis from per-unit rows (unit id, arm, metric values, optional pre-period
/// covariate): the sample-ratio check, and per metric the means, the absolute and relative lift with
/// their intervals, Welch's p-value, Holm's adjustment across metrics, CUPED when a covariate is
/// given, the minimum detectable effect and an always-valid interval. Guardrails are metrics that must
/// not get worse.
public enum ABAnalysis {
    public struct Options: Sendable {
        public var file: String
        public var format: TableReader.Format?
        public var unitColumn = "unit"
        public var armColumn = "arm"
        public var control: String
        /// The treatment arm; nil when the file has exactly one other arm.
        public var treatment: String?
        public var metrics: [String] = []
        /// Metrics that must not get worse (analysed like the others, judged separately).
        public var guardrails: [String] = []
        /// Metrics where lower is better (e.g. latency, errors); the others are higher-is-better.
        public var lowerIsBetter: Set<String> = []
        public var covariate: String?
        /// Planned shares of control and treatment (e.g. 50/50), for the sample-ratio check.
        public var plannedSplit: (control: Double, treatment: Double) = (1, 1)
        public var alpha = 0.05
        /// The mixture scale of the always-valid interval, as a fraction of the metric's pooled standard deviation.
        public var sequentialTau = 0.1
        public init(file: String, control: String) {
            self.file = file
            self.control = control
        }
    }

    public struct MetricResult: Sendable {
        public var name: String
        public var guardrail: Bool
        public var lowerIsBetter: Bool
        public var comparison: Experiments.Comparison
        public var adjustedPValue: Double
        public var cuped: Experiments.Comparison?
        public var cupedTheta: Double?
        public var sequentialLow: Double
        public var sequentialHigh: Double
        /// A guardrail whose interval lies wholly on the bad side of zero.
        public var gotWorse: Bool
    }

    public struct Report: Sendable {
        public var control: String
        public var treatment: String
        public var controlUnits: Int
        public var treatmentUnits: Int
        public var plannedSplit: (control: Double, treatment: Double)
        public var srmChiSquare: Double
        public var srmPValue: Double
        /// The split is off by more than chance allows (p < 0.001): the assignment or logging is broken
        /// and no lift can be trusted.
        public var srmFlagged: Bool { srmPValue < 0.001 }
        public var alpha: Double
        public var metrics: [MetricResult]
    }

    /// Reads the file and analyses it; bad input throws ``InputError`` naming the file, line and column.
    public static func run(_ o: Options) throws -> Report {
        let names = o.metrics + o.guardrails.filter { !o.metrics.contains($0) }
        guard !names.isEmpty else { throw InputError(message: "Name at least one metric (--metric NAME, or --guardrail NAME).") }
        var seenNames = Set<String>()
        for n in names where !seenNames.insert(n).inserted { throw InputError(message: "The metric '\(n)' is named twice.") }
        guard o.alpha > 0, o.alpha < 0.5 else { throw InputError(message: "--alpha must be between 0 and 0.5 (e.g. 0.05), got \(o.alpha).") }
        guard o.plannedSplit.control > 0, o.plannedSplit.treatment > 0, o.plannedSplit.control.isFinite, o.plannedSplit.treatment.isFinite else {
            throw InputError(message: "--split needs two positive shares, e.g. 50/50 or 90/10.")
        }
        guard o.sequentialTau > 0, o.sequentialTau.isFinite else { throw InputError(message: "--sequential-tau must be a positive number, e.g. 0.1.") }
        let columns = [o.unitColumn, o.armColumn] + names + (o.covariate.map { [$0] } ?? [])
        let reader = try TableReader(path: o.file, format: o.format, columns: columns)
        // Fields are read as bytes: an arm is matched against the (at most 50) seen so far without a
        // string, numbers are parsed in place, and a unit id is kept only as a 64-bit hash (duplicates
        // are confirmed by a second look at the file), so 10M units need 8 bytes each for their ids.
        var armBytes: [[UInt8]] = [], armsInOrder: [String] = []
        var columnsByArm: [[[Double]]] = []  // arm → metric → values
        var covariateByArm: [[Double]] = []
        var unitHashes: [UInt64] = []
        func number(_ k: Int, _ name: String) throws -> Double {
            guard let v = reader.withField(k, TableReader.parseDouble) else {
                throw InputError(message: "\(o.file):\(reader.line): column '\(name)' is '\(reader.string(k).prefix(40))', not a number.")
            }
            guard v.isFinite else { throw InputError(message: "\(o.file):\(reader.line): column '\(name)' is \(reader.string(k)); values must be finite numbers.") }
            return v
        }
        while try reader.nextRow() {
            guard let hash = reader.withField(0, { $0.isEmpty ? nil : Self.hash($0) }) else {
                throw InputError(message: "\(o.file):\(reader.line): column '\(o.unitColumn)' is empty; every row needs its unit id.")
            }
            unitHashes.append(hash)
            let arm: Int? = reader.withField(1) { b in armBytes.firstIndex { $0.elementsEqual(b) } }
            let a: Int
            if let arm {
                a = arm
            } else {
                let text = reader.string(1)
                guard !text.isEmpty else { throw InputError(message: "\(o.file):\(reader.line): column '\(o.armColumn)' is empty; every unit needs its arm.") }
                guard armsInOrder.count < 50 else { throw InputError(message: "\(o.file):\(reader.line): more than 50 arms in column '\(o.armColumn)'; is it the right column?") }
                armBytes.append(Array(text.utf8))
                armsInOrder.append(text)
                columnsByArm.append(names.map { _ in [] })
                covariateByArm.append([])
                a = armsInOrder.count - 1
            }
            for (k, name) in names.enumerated() { columnsByArm[a][k].append(try number(2 + k, name)) }
            if let c = o.covariate { covariateByArm[a].append(try number(2 + names.count, c)) }
        }
        guard !unitHashes.isEmpty else { throw InputError(message: "\(o.file): no rows; it needs one row per unit.") }
        try Self.checkUnitsOnce(unitHashes, o, reader.format)
        var values: [String: [[Double]]] = [:], covariate: [String: [Double]] = [:]
        for (i, arm) in armsInOrder.enumerated() {
            values[arm] = columnsByArm[i]
            covariate[arm] = covariateByArm[i]
        }
        guard values[o.control] != nil else {
            throw InputError(message: "\(o.file): no unit is in the control arm '\(o.control)'; the arms in column '\(o.armColumn)' are: \(armsInOrder.map { "'\($0)'" }.joined(separator: ", ")).")
        }
        let others = armsInOrder.filter { $0 != o.control }
        let treatment: String
        if let t = o.treatment {
            guard values[t] != nil else {
                throw InputError(message: "\(o.file): no unit is in the treatment arm '\(t)'; the arms are: \(armsInOrder.map { "'\($0)'" }.joined(separator: ", ")).")
            }
            treatment = t
        } else {
            guard others.count == 1 else {
                throw InputError(message: others.isEmpty
                    ? "\(o.file): every unit is in the control arm '\(o.control)'; the treatment arm is empty."
                    : "\(o.file): there are \(others.count) other arms (\(others.map { "'\($0)'" }.joined(separator: ", "))); say which is the treatment with --treatment.")
            }
            treatment = others[0]
        }
        let c = values[o.control]!, t = values[treatment]!
        guard c[0].count >= 2, t[0].count >= 2 else {
            throw InputError(message: "\(o.file): each arm needs at least 2 units; '\(o.control)' has \(c[0].count) and '\(treatment)' has \(t[0].count).")
        }
        let srm = Experiments.sampleRatioMismatch(counts: [c[0].count, t[0].count], planned: [o.plannedSplit.control, o.plannedSplit.treatment])
        var results: [MetricResult] = []
        for (k, name) in names.enumerated() {
            let mc = Experiments.Moments(c[k]), mt = Experiments.Moments(t[k])
            let comparison = Experiments.welch(control: mc, treatment: mt, alpha: o.alpha)
            var cuped: Experiments.Comparison?, theta: Double?
            if o.covariate != nil {
                let adjusted = Experiments.cuped(control: (c[k], covariate[o.control]!), treatment: (t[k], covariate[treatment]!))
                theta = adjusted.theta
                var r = Experiments.welch(control: Experiments.Moments(adjusted.control), treatment: Experiments.Moments(adjusted.treatment), alpha: o.alpha)
                // The adjusted means are shifted by θ·(mean X of the arm − pooled mean X); report the lift on them
                // and keep the raw means for reading.
                (r.controlMean, r.treatmentMean) = (comparison.controlMean, comparison.treatmentMean)
                cuped = r
            }
            let pooledSD = ((mc.variance * Double(mc.n - 1) + mt.variance * Double(mt.n - 1)) / Double(mc.n + mt.n - 2)).squareRoot()
            let used = cuped ?? comparison
            let sequential = Experiments.sequentialInterval(lift: used.lift, standardError: used.standardError, tau: o.sequentialTau * pooledSD, alpha: o.alpha)
            let lower = o.lowerIsBetter.contains(name)
            let guardrail = o.guardrails.contains(name)
            let worse = guardrail && (lower ? used.ciLow > 0 : used.ciHigh < 0)
            results.append(MetricResult(
                name: name, guardrail: guardrail, lowerIsBetter: lower, comparison: comparison, adjustedPValue: comparison.pValue, cuped: cuped,
                cupedTheta: theta, sequentialLow: sequential.low, sequentialHigh: sequential.high, gotWorse: worse))
        }
        let adjusted = Experiments.holm(results.map { $0.comparison.pValue })
        for i in results.indices { results[i].adjustedPValue = adjusted[i] }
        return Report(
            control: o.control, treatment: treatment, controlUnits: c[0].count, treatmentUnits: t[0].count, plannedSplit: o.plannedSplit,
            srmChiSquare: srm.chiSquare, srmPValue: srm.pValue, alpha: o.alpha, metrics: results)
    }

    /// FNV-1a, 64 bits: cheap on short ids; a collision only costs the second look in ``checkUnitsOnce``.
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// Each unit appears once. Hashes are sorted to find repeats; only when some repeat is the file read
    /// again, keeping just the ids with those hashes, to tell a true duplicate (named with both lines)
    /// from a collision.
    static func checkUnitsOnce(_ hashes: [UInt64], _ o: Options, _ format: TableReader.Format) throws {
        var sorted = hashes
        RadixSort.sort(&sorted)
        var repeated = Set<UInt64>()
        for i in 1..<max(sorted.count, 1) where sorted[i] == sorted[i - 1] { repeated.insert(sorted[i]) }
        guard !repeated.isEmpty else { return }
        let reader = try TableReader(path: o.file, format: format, columns: [o.unitColumn])
        var first: [String: Int] = [:]
        while try reader.nextRow() {
            guard repeated.contains(reader.withField(0, Self.hash)) else { continue }
            let unit = reader.string(0)
            if let line = first[unit] {
                throw InputError(message: "\(o.file):\(reader.line): unit '\(unit.prefix(80))' in column '\(o.unitColumn)' already appeared on line \(line); one row per unit.")
            }
            first[unit] = reader.line
        }
    }

    // MARK: Output

    public static func json(_ r: Report) -> String {
        var w = JSONWriter()
        w.beginObject()
        w.member("control", r.control)
        w.member("treatment", r.treatment)
        w.member("control_units", Int64(r.controlUnits))
        w.member("treatment_units", Int64(r.treatmentUnits))
        w.member("srm_chi_square", double: r.srmChiSquare)
        w.member("srm_p_value", double: r.srmPValue)
        w.member("srm_flagged", r.srmFlagged)
        w.member("alpha", double: r.alpha)
        w.key("metrics")
        w.beginArray()
        for m in r.metrics {
            let c = m.comparison
            w.beginObject()
            w.member("name", m.name)
            w.member("guardrail", m.guardrail)
            w.member("lower_is_better", m.lowerIsBetter)
            w.member("control_mean", double: c.controlMean)
            w.member("treatment_mean", double: c.treatmentMean)
            w.member("lift", double: c.lift)
            w.member("relative_lift", double: c.relativeLift)
            w.member("ci_low", double: c.ciLow)
            w.member("ci_high", double: c.ciHigh)
            w.member("relative_ci_low", double: c.relativeCILow)
            w.member("relative_ci_high", double: c.relativeCIHigh)
            w.member("t", double: c.t)
            w.member("df", double: c.degreesOfFreedom)
            w.member("p_value", double: c.pValue)
            w.member("adjusted_p_value", double: m.adjustedPValue)
            w.member("mde", double: c.minimumDetectableEffect)
            w.member("sequential_ci_low", double: m.sequentialLow)
            w.member("sequential_ci_high", double: m.sequentialHigh)
            if let k = m.cuped, let theta = m.cupedTheta {
                w.member("cuped_theta", double: theta)
                w.member("cuped_lift", double: k.lift)
                w.member("cuped_ci_low", double: k.ciLow)
                w.member("cuped_ci_high", double: k.ciHigh)
                w.member("cuped_p_value", double: k.pValue)
            }
            if m.guardrail { w.member("got_worse", m.gotWorse) }
            w.endObject()
        }
        w.endArray()
        w.member("summary", summary(r))
        w.endObject()
        return w.string
    }

    static func pct(_ v: Double) -> String {
        let s = String(format: "%.1f%%", v * 100)
        return s == "-0.0%" ? "0.0%" : s
    }

    static func f(_ v: Double) -> String { String(format: "%.4g", v) }

    /// The result in plain words for a business owner.
    public static func summary(_ r: Report) -> String {
        if r.srmFlagged {
            return "Do not trust this test: \(r.treatmentUnits) units went to '\(r.treatment)' and \(r.controlUnits) to '\(r.control)', "
                + "too far from the planned split for chance (p = \(String(format: "%.2g", r.srmPValue))). Fix the assignment or the logging and run it again."
        }
        let level = Int(((1 - r.alpha) * 100).rounded())
        var phrases: [String] = []
        for m in r.metrics where !m.guardrail {
            let c = m.cuped ?? m.comparison
            let rel = m.comparison.relativeLift, interval = "\(level)% CI \(pct(m.comparison.relativeCILow)) to \(pct(m.comparison.relativeCIHigh))"
            if c.ciLow > 0 || c.ciHigh < 0 {
                let up = c.lift > 0
                phrases.append("\(up ? "raised" : "lowered") \(m.name) by \(pct(abs(rel))) (\(interval))\(up == m.lowerIsBetter ? ", which is worse" : "")")
            } else {
                phrases.append("did not change \(m.name) detectably (\(pct(rel)), \(interval); the test could detect a change of \(f(c.minimumDetectableEffect)))")
            }
        }
        var sentence = phrases.isEmpty ? "" : "The new model (\(r.treatment)) " + phrases.joined(separator: ", ")
        let guardrails = r.metrics.filter(\.guardrail)
        if !guardrails.isEmpty {
            let worse = guardrails.filter(\.gotWorse)
            let clause = worse.isEmpty
                ? "no guardrail got worse"
                : "guardrail " + worse.map { "\($0.name) got worse by \(pct(abs($0.comparison.relativeLift)))" }.joined(separator: ", ")
            sentence += sentence.isEmpty ? clause.prefix(1).uppercased() + clause.dropFirst() : "; " + clause
        }
        return sentence + "."
    }

    public static func table(_ r: Report) -> String {
        var out = "arms: control '\(r.control)' \(r.controlUnits) units, treatment '\(r.treatment)' \(r.treatmentUnits) units; "
        out += "sample ratio p = \(String(format: "%.3g", r.srmPValue))\(r.srmFlagged ? "  MISMATCH" : "")\n"
        var rows = [["metric", "control", "treatment", "lift", "relative", "\(Int(((1 - r.alpha) * 100).rounded()))% CI", "p", "Holm p", "MDE"]]
        var notes: [[String]] = [[]]
        for m in r.metrics {
            let c = m.comparison
            rows.append([m.name + (m.guardrail ? "*" : ""), f(c.controlMean), f(c.treatmentMean), f(c.lift), pct(c.relativeLift),
                         "[\(f(c.ciLow)), \(f(c.ciHigh))]", String(format: "%.3g", c.pValue), String(format: "%.3g", m.adjustedPValue), f(c.minimumDetectableEffect)])
            var lines: [String] = []
            if let k = m.cuped {
                lines.append("CUPED (θ = \(f(m.cupedTheta ?? 0))): lift \(f(k.lift)) [\(f(k.ciLow)), \(f(k.ciHigh))], p = \(String(format: "%.3g", k.pValue))")
            }
            lines.append("always-valid interval: [\(f(m.sequentialLow)), \(f(m.sequentialHigh))]")
            notes.append(lines)
        }
        for (line, extra) in zip(TextTable.lines(rows), notes) {
            out += line + "\n"
            for note in extra { out += "    " + note + "\n" }
        }
        if r.metrics.contains(where: \.guardrail) { out += "  * guardrail\n" }
        return out + summary(r) + "\n"
    }
}
