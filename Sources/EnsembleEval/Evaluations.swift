import EnsembleJSON
import EnsembleMetrics
import Foundation

/// Adds bootstrap intervals to a report when asked.
func addIntervals(_ report: inout EvalReport, options: EvalOptions, count: Int, skipping: Set<String> = [], _ metric: (String, [Int]) throws -> Double) throws {
    guard options.bootstrap > 0 else { return }
    for (name, _) in report.metrics where !skipping.contains(name) {
        report.intervals[name] = try Bootstrap.interval(
            count: count, resamples: options.bootstrap, confidence: options.confidence, seed: options.seed) { try metric(name, $0) }
    }
}

/// Parses a JSON array of numbers (a probability vector or token log-probabilities).
func numberArray(_ text: String, _ what: String, file: String, line: Int) throws -> [Double] {
    guard case .array(let items)? = try? JSONParser.parse(Array(text.utf8)) else {
        throw InputError(message: "\(file):\(line): \(what) must be a JSON array of numbers, like [0.2, 0.8]; got '\(text.prefix(60))'.")
    }
    return try items.map { item in
        guard case .number(let n) = item, let v = Double(n) else { throw InputError(message: "\(file):\(line): \(what) holds a value that is not a number.") }
        guard v.isFinite else { throw InputError(message: "\(file):\(line): \(what) holds \(n); metrics need finite numbers.") }
        return v
    }
}

struct ClassificationEval {
    let c: EvalOptions
    let input: EvalInput

    enum Scores {
        case none
        /// One score per row: the positive class's.
        case positive([Double])
        /// `width` probabilities per row, row-major, in class order.
        case matrix([Double], width: Int)
    }

    func run() throws -> EvalReport {
        let format = c.format
        let probaColumns = c.probaColumns?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } ?? []
        if c.scoreColumn != nil && (!probaColumns.isEmpty || c.probaColumn != nil) || !probaColumns.isEmpty && c.probaColumn != nil {
            throw InputError(message: "Give scores one way: --score-column, --proba-columns or --proba-column.")
        }
        let declared = c.labels.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        if let declared, Set(declared).count != declared.count || declared.isEmpty {
            throw InputError(message: "--labels must list distinct class labels, e.g. --labels cat,dog,bird.")
        }
        let hasScores = c.scoreColumn != nil || !probaColumns.isEmpty || c.probaColumn != nil
        let streaming = !hasScores && c.bootstrap == 0
        var pairCounts: [Int64: Int] = [:]
        // Dense counts for the first 16 interned labels; the rest go to the dictionary.
        var pairMatrix = [[Int]](repeating: [Int](repeating: 0, count: 16), count: streaming ? 16 : 0)

        // Read: intern labels in first-seen order, keep scores as doubles.
        var interned: [String: Int32] = [:]
        var names: [String] = []
        var nameBytes: [[UInt8]] = []
        /// The code of field `k`'s label: a few classes is the common case, and comparing their bytes
        /// beats making and hashing a string per row.
        func intern(_ reader: TableReader, _ k: Int, line: Int) throws -> Int32 {
            let known: Int32? = reader.withField(k) { b in
                guard nameBytes.count <= 8 else { return nil }
                for (i, name) in nameBytes.enumerated() where name.count == b.count && name.elementsEqual(b) { return Int32(i) }
                return nil
            }
            if let known { return known }
            return try intern(reader.string(k), line: line)
        }
        func intern(_ label: String, line: Int) throws -> Int32 {
            if let code = interned[label] { return code }
            if let declared, !declared.contains(label) {
                throw InputError(message: "\(c.file):\(line): label '\(label)' is not one of --labels \(declared.joined(separator: ","))")
            }
            guard !label.isEmpty else { throw InputError(message: "\(c.file):\(line): empty label.") }
            let code = Int32(names.count)
            interned[label] = code
            names.append(label)
            nameBytes.append(Array(label.utf8))
            return code
        }
        var truth: [Int32] = [], predicted: [Int32] = [], scores: [Double] = []
        var width = probaColumns.count
        var columns = [c.labelColumn]
        var withPrediction = true
        columns.append(c.predictionColumn)
        if let s = c.scoreColumn { columns.append(s) }
        if let s = c.probaColumn { columns.append(s) }
        columns += probaColumns
        let rows: Int
        do {
            rows = try read(columns, format: format, withPrediction: true)
        } catch let error as InputError where hasScores && error.message.contains("no column '\(c.predictionColumn)'") {
            withPrediction = false
            columns.remove(at: 1)
            rows = try read(columns, format: format, withPrediction: false)
        }

        func read(_ columns: [String], format: TableReader.Format?, withPrediction: Bool) throws -> Int {
            truth.removeAll()
            predicted.removeAll()
            scores.removeAll()
            return try input.readRows(columns, format: format) { reader, line in
                let t = try intern(reader, 0, line: line)
                var next = 1
                if streaming {
                    // Labels only, no bootstrap: keep pair counts, not rows — memory independent of the file.
                    let p = try intern(reader, 1, line: line)
                    if pairMatrix.count > Int(max(t, p)) {
                        pairMatrix[Int(t)][Int(p)] += 1
                    } else {
                        pairCounts[Int64(t) << 32 | Int64(p), default: 0] += 1
                    }
                    return
                }
                truth.append(t)
                if withPrediction {
                    predicted.append(try intern(reader, 1, line: line))
                    next = 2
                }
                if c.scoreColumn != nil {
                    scores.append(try EvalOptions.number(reader, next, "the score", file: c.file, line: line))
                } else if c.probaColumn != nil {
                    let row = try numberArray(reader.string(next), "the probabilities", file: c.file, line: line)
                    if width == 0 { width = row.count }
                    guard row.count == width else {
                        throw InputError(message: "\(c.file):\(line): \(row.count) probabilities, but earlier rows have \(width).")
                    }
                    scores += row
                } else if !probaColumns.isEmpty {
                    for k in 0..<probaColumns.count {
                        scores.append(try EvalOptions.number(reader, next + k, "probability '\(probaColumns[k])'", file: c.file, line: line))
                    }
                }
            }
        }

        // Classes in scikit-learn order (or as declared), and the codes remapped to it.
        let labelSet = declared ?? LabelSet(names).labels
        let remap = names.map { Int32(labelSet.firstIndex(of: $0)!) }
        truth = truth.map { remap[Int($0)] }
        predicted = predicted.map { remap[Int($0)] }
        let classCount = labelSet.count
        var fullMatrix = ConfusionMatrix(truth: truth, predicted: predicted, classCount: classCount)
        for (pair, count) in pairCounts {
            fullMatrix.add(truth: Int(remap[Int(pair >> 32)]), predicted: Int(remap[Int(pair & 0xFFFF_FFFF)]), count: count)
        }
        for (t, row) in pairMatrix.enumerated() where t < names.count {
            for (p, count) in row.enumerated() where count > 0 { fullMatrix.add(truth: Int(remap[t]), predicted: Int(remap[p]), count: count) }
        }
        let truthClasses = Set(truth).sorted()

        var scoreMode = Scores.none
        if c.scoreColumn != nil {
            scoreMode = .positive(scores)
        } else if width > 0 {
            // Probability columns follow the classes of the truth (scikit-learn), or --labels.
            let classes = declared != nil ? Array(0..<classCount) : truthClasses.map(Int.init)
            guard width == classes.count else {
                throw InputError(
                    message: "Each row has \(width) probabilities, but the truth has \(classes.count) classes (\(classes.map { labelSet[$0] }.joined(separator: ", "))). Give one probability per class in that order, or declare the classes with --labels.")
            }
            if classes.count != classCount {
                // Predictions name a class the probabilities do not cover.
                throw InputError(message: "The predictions contain labels that are not in the truth; probabilities must cover every class. Declare them with --labels.")
            }
            scoreMode = .matrix(scores, width: width)
        }
        if !withPrediction, case .matrix(let p, let w) = scoreMode {
            predicted = (0..<rows).map { i in
                var best = 0
                for k in 1..<w where p[i * w + k] > p[i * w + best] { best = k }
                return Int32(best)
            }
            withPrediction = true
        }

        // Positive class and averaging.
        let positive: Int
        if let p = c.posLabel {
            guard let i = labelSet.firstIndex(of: p) else {
                throw InputError(message: "--pos-label '\(p)' is not among the labels (\(labelSet.joined(separator: ", "))).")
            }
            positive = i
        } else {
            positive = labelSet.firstIndex(of: "1") ?? (classCount - 1)
        }
        let average: Averaging
        if let a = c.average {
            guard let parsed = Averaging(rawValue: a) else { throw InputError(message: "--average must be binary, micro, macro or weighted; got '\(a)'.") }
            average = parsed
        } else {
            average = classCount <= 2 ? .binary : .macro
        }

        var wanted = c.metrics
        if wanted.isEmpty {
            if withPrediction { wanted += ["accuracy", "balanced_accuracy", "precision", "recall", "f1", "mcc"] }
            switch scoreMode {
            case .none: break
            case .positive(let s):
                wanted += ["roc_auc", "average_precision"]
                if s.allSatisfy({ $0 >= 0 && $0 <= 1 }) { wanted.append("log_loss") }
            case .matrix(_, let w):
                wanted += w == 2 ? ["roc_auc", "average_precision", "log_loss"] : ["roc_auc", "log_loss", "top_k_accuracy"]
            }
        }

        func subset<T>(_ array: [T], _ idx: [Int]?) -> [T] { idx.map { $0.map { array[$0] } } ?? array }
        func positives(_ idx: [Int]?) -> [Bool] { subset(truth, idx).map { Int($0) == positive } }
        func positiveScores(_ idx: [Int]?) throws -> [Double] {
            switch scoreMode {
            case .positive(let s): return subset(s, idx)
            case .matrix(let p, let w):
                guard w == 2 else { throw InputError(message: "This metric is binary; with \(w) classes use roc_auc (one-vs-rest), log_loss or top_k_accuracy.") }
                let column = positive
                return (idx ?? Array(0..<rows)).map { p[$0 * 2 + column] }
            case .none: throw InputError(message: "This metric needs scores: give --score-column, --proba-columns or --proba-column.")
            }
        }
        func matrixRows(_ idx: [Int]?) -> (truth: [Int32], probabilities: [Double], width: Int)? {
            guard case .matrix(let p, let w) = scoreMode else { return nil }
            guard let idx else { return (truth, p, w) }
            var out: [Double] = []
            out.reserveCapacity(idx.count * w)
            for i in idx { out += p[(i * w)..<(i * w + w)] }
            return (subset(truth, idx), out, w)
        }

        func value(_ name: String, _ idx: [Int]?) throws -> Double {
            let needsPredictions = ["accuracy", "balanced_accuracy", "precision", "recall", "f1", "fbeta", "mcc"]
            if needsPredictions.contains(name) {
                guard withPrediction else { throw InputError(message: "'\(name)' needs predicted labels: add --prediction-column.") }
                let cm = idx == nil ? fullMatrix : ConfusionMatrix(truth: subset(truth, idx), predicted: subset(predicted, idx), classCount: classCount)
                switch name {
                case "accuracy": return Classification.accuracy(cm)
                case "balanced_accuracy": return Classification.balancedAccuracy(cm)
                case "mcc": return Classification.matthews(cm)
                default:
                    let s = try Classification.precisionRecallF(cm, beta: name == "fbeta" ? c.beta : 1, average: average, positive: positive)
                    return name == "precision" ? s.precision : name == "recall" ? s.recall : s.f
                }
            }
            switch name {
            case "roc_auc":
                if let m = matrixRows(idx), m.width > 2 {
                    return try Classification.rocAUCOneVsRest(truth: m.truth, probabilities: m.probabilities, classCount: m.width, average: average == .weighted ? .weighted : .macro)
                }
                return try Classification.rocAUC(scores: try positiveScores(idx), positives: positives(idx))
            case "average_precision":
                return try Classification.averagePrecision(scores: try positiveScores(idx), positives: positives(idx))
            case "log_loss":
                if let m = matrixRows(idx) {
                    return try Classification.logLoss(truth: m.truth, probabilities: m.probabilities, classCount: m.width)
                }
                let s = try positiveScores(idx)
                let twoColumns = s.flatMap { [1 - $0, $0] }
                return try Classification.logLoss(truth: positives(idx).map { $0 ? 1 : 0 }, probabilities: twoColumns, classCount: 2)
            case "top_k_accuracy":
                guard let m = matrixRows(idx) else { throw InputError(message: "top_k_accuracy needs one score per class: --proba-columns or --proba-column.") }
                return try Classification.topKAccuracy(truth: m.truth, scores: m.probabilities, classCount: m.width, k: c.k)
            default:
                throw InputError(message: "Unknown classification metric '\(name)'.")
            }
        }

        var report = EvalReport(task: "classification", samples: rows)
        for name in wanted { report.metrics.append((name, try value(name, nil))) }
        report.labels = labelSet
        if withPrediction {
            report.confusion = fullMatrix.rows
        }
        if wanted.contains(where: { ["precision", "recall", "f1", "fbeta"].contains($0) }) {
            report.details.append(("average", average.rawValue))
            if average == .binary { report.details.append(("positive_label", labelSet[positive])) }
        }
        try addIntervals(&report, options: c, count: rows) { try value($0, $1) }
        return report
    }
}

struct RegressionEval {
    let c: EvalOptions
    let input: EvalInput

    func run() throws -> EvalReport {
        let format = c.format
        var truth: [Double] = [], predicted: [Double] = []
        let rows = try input.readRows([c.labelColumn, c.predictionColumn], format: format) { reader, line in
            truth.append(try EvalOptions.number(reader, 0, "the true value", file: c.file, line: line))
            predicted.append(try EvalOptions.number(reader, 1, "the prediction", file: c.file, line: line))
        }
        var wanted = c.metrics
        if wanted.isEmpty {
            wanted = ["mse", "rmse", "mae", "median_absolute_error", "mape", "r2", "explained_variance"]
            if c.features != nil { wanted.append("adjusted_r2") }
        }
        func value(_ name: String, _ idx: [Int]?) throws -> Double {
            let y = idx.map { $0.map { truth[$0] } } ?? truth, p = idx.map { $0.map { predicted[$0] } } ?? predicted
            switch name {
            case "mse": return try Regression.mse(y, p)
            case "rmse": return try Regression.rmse(y, p)
            case "mae": return try Regression.mae(y, p)
            case "median_absolute_error": return try Regression.medianAbsoluteError(y, p)
            case "mape": return try Regression.mape(y, p)
            case "r2": return try Regression.r2(y, p)
            case "explained_variance": return try Regression.explainedVariance(y, p)
            case "adjusted_r2":
                guard let f = c.features else { throw InputError(message: "adjusted_r2 needs the number of features: --features N.") }
                return try Regression.adjustedR2(y, p, features: f)
            default: throw InputError(message: "Unknown regression metric '\(name)'.")
            }
        }
        var report = EvalReport(task: "regression", samples: rows)
        for name in wanted { report.metrics.append((name, try value(name, nil))) }
        try addIntervals(&report, options: c, count: rows) { try value($0, $1) }
        return report
    }
}

struct TextEval {
    let c: EvalOptions
    let input: EvalInput

    func run() throws -> EvalReport {
        let format = c.format, task = c.task
        var references: [String] = [], hypotheses: [String] = [], logprobs: [Double] = []
        var wanted = c.metrics
        if wanted.isEmpty {
            wanted = task == .speech ? ["wer", "cer"] : ["bleu", "chrf", "rouge_l", "jaccard"] + (c.logprobsColumn == nil ? [] : ["perplexity"])
        }
        let onlyPerplexity = wanted == ["perplexity"]
        var columns = onlyPerplexity ? [] : [c.referenceColumn, c.hypothesisColumn]
        if wanted.contains("perplexity") {
            guard let col = c.logprobsColumn else { throw InputError(message: "perplexity needs --logprobs-column (a JSON array of per-token natural-log probabilities per row).") }
            columns.append(col)
        }
        let rows = try input.readAll(columns, format: format) { values, line in
            if !onlyPerplexity {
                references.append(values[0])
                hypotheses.append(values[1])
            }
            if c.logprobsColumn != nil, wanted.contains("perplexity") {
                logprobs += try numberArray(values[columns.count - 1], "the log-probabilities", file: c.file, line: line)
            }
        }
        var report = EvalReport(task: task.rawValue, samples: rows)
        func value(_ name: String, _ idx: [Int]?) throws -> Double {
            let r = idx.map { $0.map { references[$0] } } ?? references, h = idx.map { $0.map { hypotheses[$0] } } ?? hypotheses
            switch name {
            case "wer": return try Speech.wordErrors(references: r, hypotheses: h).rate
            case "cer": return try Speech.characterErrors(references: r, hypotheses: h).rate
            case "jaccard": return try Text.meanJaccard(references: r, hypotheses: h)
            case "bleu": return try Translation.bleu(references: r, hypotheses: h).score
            case "chrf": return try Translation.chrF(references: r, hypotheses: h)
            case "rouge_l": return try Translation.meanRougeL(references: r, hypotheses: h)
            case "perplexity":
                guard idx == nil else { throw MetricError("perplexity has no per-row bootstrap") }
                return try Text.perplexity(logProbabilities: logprobs)
            default: throw InputError(message: "Unknown \(task.rawValue) metric '\(name)'.")
            }
        }
        for name in wanted { report.metrics.append((name, try value(name, nil))) }
        if wanted.contains("wer") {
            let w = try Speech.wordErrors(references: references, hypotheses: hypotheses)
            report.counts = [("substitutions", w.substitutions), ("deletions", w.deletions), ("insertions", w.insertions), ("hits", w.hits)]
        }
        // Perplexity pools tokens, not rows, so it has no row bootstrap.
        try addIntervals(&report, options: c, count: rows, skipping: ["perplexity"]) { try value($0, $1) }
        return report
    }
}

/// `--task detection`: one JSON Lines row per image with its ground-truth boxes and detections.
struct DetectionEval {
    let c: EvalOptions
    let input: EvalInput

    func run() throws -> EvalReport {
        let format = c.format
        let xyxy: Bool
        switch c.boxFormat {
        case "xywh": xyxy = false
        case "xyxy": xyxy = true
        default: throw InputError(message: "--box-format must be xywh or xyxy; got '\(c.boxFormat)'.")
        }
        struct Row {
            var image: String
            var truths: [(Detection.Box, Int, Bool, Double?)]
            var detections: [(Detection.Box, Int, Double)]
        }
        var rows: [Row] = []
        func objects(_ text: String, _ what: String, line: Int) throws -> [[(String, JSONValue)]] {
            guard case .array(let items)? = try? JSONParser.parse(Array(text.utf8)) else {
                throw InputError(message: "\(c.file):\(line): '\(what)' must be a JSON array of objects.")
            }
            return try items.map {
                guard case .object(let members) = $0 else { throw InputError(message: "\(c.file):\(line): '\(what)' must hold objects.") }
                return members
            }
        }
        func number(_ v: JSONValue?, _ what: String, line: Int) throws -> Double {
            guard case .number(let n)? = v, let d = Double(n), d.isFinite else { throw InputError(message: "\(c.file):\(line): \(what) must be a finite number.") }
            return d
        }
        func box(_ v: JSONValue?, line: Int) throws -> Detection.Box {
            guard case .array(let items)? = v, items.count == 4 else {
                throw InputError(message: "\(c.file):\(line): a bbox must be an array of four numbers (\(c.boxFormat)).")
            }
            let n = try items.map { try number($0, "a bbox coordinate", line: line) }
            let b = xyxy ? Detection.Box(x1: n[0], y1: n[1], x2: n[2], y2: n[3]) : Detection.Box(x: n[0], y: n[1], width: n[2], height: n[3])
            guard b.width >= 0, b.height >= 0 else { throw InputError(message: "\(c.file):\(line): a bbox has a negative width or height.") }
            return b
        }
        func category(_ v: JSONValue?, line: Int) throws -> Int {
            guard case .number(let n)? = v, let id = Int(n) else { throw InputError(message: "\(c.file):\(line): 'category' must be an integer id.") }
            return id
        }
        let count = try input.readAll([c.imageColumn, c.truthColumn, c.detectionsColumn], format: format ?? .jsonl) { values, line in
            var row = Row(image: values[0], truths: [], detections: [])
            for o in try objects(values[1], c.truthColumn, line: line) {
                let dict = Dictionary(o, uniquingKeysWith: { a, _ in a })
                let crowd: Bool
                switch dict["iscrowd"] {
                case nil, .null?: crowd = false
                case .bool(let b)?: crowd = b
                case .number(let n)?: crowd = n != "0"
                default: throw InputError(message: "\(c.file):\(line): 'iscrowd' must be 0/1 or true/false.")
                }
                let area = dict["area"] == nil ? nil : try number(dict["area"], "'area'", line: line)
                row.truths.append((try box(dict["bbox"], line: line), try category(dict["category"], line: line), crowd, area))
            }
            for o in try objects(values[2], c.detectionsColumn, line: line) {
                let dict = Dictionary(o, uniquingKeysWith: { a, _ in a })
                row.detections.append((try box(dict["bbox"], line: line), try category(dict["category"], line: line), try number(dict["score"], "'score'", line: line)))
            }
            rows.append(row)
        }
        // Images in the order pycocotools sorts their ids.
        let order = LabelSet(rows.map(\.image)).labels
        guard order.count == rows.count else { throw InputError(message: "Image ids must be unique; some appear on more than one line.") }
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        var truths: [Detection.GroundTruth] = [], predictions: [Detection.Prediction] = []
        for row in rows.sorted(by: { position[$0.image]! < position[$1.image]! }) {
            let i = position[row.image]!
            for (b, k, crowd, area) in row.truths { truths.append(Detection.GroundTruth(image: i, category: k, box: b, area: area, crowd: crowd)) }
            for (b, k, s) in row.detections { predictions.append(Detection.Prediction(image: i, category: k, box: b, score: s)) }
        }
        guard !truths.isEmpty else { throw InputError(message: "No ground-truth boxes in '\(c.file)'; mAP needs at least one.") }
        let categories = Array(Set(truths.map(\.category) + predictions.map(\.category))).sorted()
        let summary = Detection.cocoEvaluate(imageCount: order.count, categories: categories, truths: truths, predictions: predictions)
        let names = ["map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_1", "mar_10", "mar_100", "mar_small", "mar_medium", "mar_large"]
        var report = EvalReport(task: "detection", samples: count)
        let wanted = c.metrics.isEmpty ? names : c.metrics
        for name in wanted {
            guard let i = names.firstIndex(of: name) else { throw InputError(message: "Unknown detection metric '\(name)'. Known: \(names.joined(separator: ", ")).") }
            report.metrics.append((name, summary.stats[i]))
        }
        if c.metrics.isEmpty {
            for (k, ap) in summary.perCategory { report.metrics.append(("ap_class_\(k)", ap)) }
        }
        report.details.append(("box_format", c.boxFormat))
        return report
    }
}
