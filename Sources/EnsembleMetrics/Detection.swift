/// Box and mask IoU, and COCO-style detection mAP matching pycocotools' `COCOeval` (bbox) on the same
/// annotations: ten IoU thresholds 0.50:0.05:0.95, 101 recall points, at most 1/10/100 detections per
/// image and class, areas all/small/medium/large, crowd regions that absorb detections.
public enum Detection {
    /// An axis-aligned box as x, y (top-left), width, height.
    public struct Box: Sendable, Equatable {
        public var x: Double, y: Double, width: Double, height: Double
        public init(x: Double, y: Double, width: Double, height: Double) {
            self.x = x
            self.y = y
            self.width = width
            self.height = height
        }
        /// From corners x1, y1, x2, y2.
        public init(x1: Double, y1: Double, x2: Double, y2: Double) {
            self.init(x: x1, y: y1, width: x2 - x1, height: y2 - y1)
        }
        public var area: Double { width * height }
    }

    /// Intersection over union; for a crowd ground truth, intersection over the detection's area.
    public static func iou(_ detection: Box, _ truth: Box, crowd: Bool = false) -> Double {
        let w = min(detection.x + detection.width, truth.x + truth.width) - max(detection.x, truth.x)
        guard w > 0 else { return 0 }
        let h = min(detection.y + detection.height, truth.y + truth.height) - max(detection.y, truth.y)
        guard h > 0 else { return 0 }
        let intersection = w * h
        let union = crowd ? detection.area : detection.area + truth.area - intersection
        return intersection / union
    }

    /// IoU of two binary masks of the same size; 0 when both are empty.
    public static func maskIoU(_ a: [Bool], _ b: [Bool]) throws(MetricError) -> Double {
        guard a.count == b.count else { throw MetricError("The masks have different sizes (\(a.count) and \(b.count) pixels).") }
        var intersection = 0, union = 0
        for (x, y) in zip(a, b) {
            if x && y { intersection += 1 }
            if x || y { union += 1 }
        }
        return union == 0 ? 0 : Double(intersection) / Double(union)
    }

    public struct GroundTruth: Sendable {
        /// Index of the image in evaluation order.
        public var image: Int
        public var category: Int
        public var box: Box
        /// The area used for the small/medium/large ranges (COCO's annotation `area`); the box area by default.
        public var area: Double
        public var crowd: Bool
        public init(image: Int, category: Int, box: Box, area: Double? = nil, crowd: Bool = false) {
            self.image = image
            self.category = category
            self.box = box
            self.area = area ?? box.area
            self.crowd = crowd
        }
    }

    public struct Prediction: Sendable {
        public var image: Int
        public var category: Int
        public var box: Box
        public var score: Double
        public init(image: Int, category: Int, box: Box, score: Double) {
            self.image = image
            self.category = category
            self.box = box
            self.score = score
        }
    }

    public struct COCOSummary: Sendable, Equatable {
        /// pycocotools' twelve `stats`: AP@[.5:.95], AP@.5, AP@.75, AP small/medium/large, AR@1, AR@10,
        /// AR@100, AR small/medium/large; -1 where undefined.
        public var stats: [Double]
        /// AP@[.5:.95] per category id (-1 when the category has no ground truth).
        public var perCategory: [(category: Int, ap: Double)]

        public static func == (a: COCOSummary, b: COCOSummary) -> Bool {
            a.stats == b.stats && a.perCategory.map(\.category) == b.perCategory.map(\.category) && a.perCategory.map(\.ap) == b.perCategory.map(\.ap)
        }
    }

    static let iouThresholds: [Double] = {
        let step = (0.95 - 0.5) / 9
        return (0..<10).map { $0 == 9 ? 0.95 : Double($0) * step + 0.5 }
    }()
    static let recallThresholds: [Double] = (0...100).map { $0 == 100 ? 1.0 : Double($0) * 0.01 }
    static let areaRanges: [(Double, Double)] = [(0, 1e10), (0, 32 * 32), (32 * 32, 96 * 96), (96 * 96, 1e10)]
    static let maxDetections = [1, 10, 100]

    /// One image × category × area range, detections in score order (at most 100).
    struct ImageEvaluation {
        var scores: [Double]
        /// `[threshold][detection]`: matched a ground truth.
        var matched: [[Bool]]
        /// `[threshold][detection]`: ignored (matched a crowd or out-of-range truth, or unmatched and out of range).
        var ignored: [[Bool]]
        var truthIgnored: [Bool]
    }

    /// Evaluates like `COCOeval(gt, dt, "bbox").evaluate(); accumulate(); summarize()`.
    /// - Parameters:
    ///   - imageCount: images are `0..<imageCount`, in the order pycocotools sorts their ids.
    ///   - categories: the category ids, sorted.
    public static func cocoEvaluate(imageCount: Int, categories: [Int], truths: [GroundTruth], predictions: [Prediction]) -> COCOSummary {
        let T = iouThresholds.count, R = recallThresholds.count, K = categories.count, A = areaRanges.count, M = maxDetections.count
        var precision = [Double](repeating: -1, count: T * R * K * A * M)
        var recall = [Double](repeating: -1, count: T * K * A * M)
        func pIndex(_ t: Int, _ r: Int, _ k: Int, _ a: Int, _ m: Int) -> Int { (((t * R + r) * K + k) * A + a) * M + m }
        func rIndex(_ t: Int, _ k: Int, _ a: Int, _ m: Int) -> Int { ((t * K + k) * A + a) * M + m }
        let categoryIndex = Dictionary(uniqueKeysWithValues: categories.enumerated().map { ($1, $0) })

        // Group by (category, image), keeping input order.
        var truthGroups = [[Int]](repeating: [], count: K * imageCount)
        var predictionGroups = [[Int]](repeating: [], count: K * imageCount)
        for (i, g) in truths.enumerated() { if let k = categoryIndex[g.category] { truthGroups[k * imageCount + g.image].append(i) } }
        for (i, d) in predictions.enumerated() { if let k = categoryIndex[d.category] { predictionGroups[k * imageCount + d.image].append(i) } }

        for k in 0..<K {
            for a in 0..<A {
                var evaluations: [ImageEvaluation] = []
                for image in 0..<imageCount {
                    if let e = evaluate(truthGroups[k * imageCount + image].map { truths[$0] }, predictionGroups[k * imageCount + image].map { predictions[$0] }, area: areaRanges[a]) {
                        evaluations.append(e)
                    }
                }
                guard !evaluations.isEmpty else { continue }
                let notIgnored = evaluations.reduce(0) { $0 + $1.truthIgnored.lazy.filter { !$0 }.count }
                guard notIgnored > 0 else { continue }
                for (m, maxDet) in maxDetections.enumerated() {
                    // Concatenate each image's first maxDet detections, then a stable sort by score.
                    var scores: [Double] = [], owner: [(Int, Int)] = []
                    for (e, ev) in evaluations.enumerated() {
                        for d in 0..<min(maxDet, ev.scores.count) {
                            scores.append(ev.scores[d])
                            owner.append((e, d))
                        }
                    }
                    let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
                    for t in 0..<T {
                        var tp = 0.0, fp = 0.0
                        var recallCurve: [Double] = [], precisionCurve: [Double] = []
                        recallCurve.reserveCapacity(order.count)
                        precisionCurve.reserveCapacity(order.count)
                        for idx in order {
                            let (e, d) = owner[idx]
                            let ev = evaluations[e]
                            if ev.ignored[t][d] {
                                // Ignored detections add neither; the cumulative sums repeat.
                            } else if ev.matched[t][d] {
                                tp += 1
                            } else {
                                fp += 1
                            }
                            recallCurve.append(tp / Double(notIgnored))
                            precisionCurve.append(tp / (fp + tp + Double.ulpOfOne))
                        }
                        let nd = recallCurve.count
                        recall[rIndex(t, k, a, m)] = nd > 0 ? recallCurve[nd - 1] : 0
                        if nd > 1 {
                            for i in stride(from: nd - 1, to: 0, by: -1) where precisionCurve[i] > precisionCurve[i - 1] {
                                precisionCurve[i - 1] = precisionCurve[i]
                            }
                        }
                        // For each recall threshold, the first point reaching it (searchsorted left); 0 beyond the curve.
                        var position = 0
                        for (r, threshold) in recallThresholds.enumerated() {
                            while position < nd && recallCurve[position] < threshold { position += 1 }
                            precision[pIndex(t, r, k, a, m)] = position < nd ? precisionCurve[position] : 0
                            if position >= nd {
                                for rest in r..<R { precision[pIndex(t, rest, k, a, m)] = 0 }
                                break
                            }
                        }
                    }
                }
            }
        }

        func meanDefined(_ values: [Double]) -> Double {
            let defined = values.filter { $0 > -1 }
            return defined.isEmpty ? -1 : compensatedSum(defined) / Double(defined.count)
        }
        func ap(threshold: Int?, area: Int, maxDet: Int, category: Int? = nil) -> Double {
            var values: [Double] = []
            for t in 0..<T where threshold == nil || threshold == t {
                for r in 0..<R {
                    for k in 0..<K where category == nil || category == k { values.append(precision[pIndex(t, r, k, area, maxDet)]) }
                }
            }
            return meanDefined(values)
        }
        func ar(area: Int, maxDet: Int) -> Double {
            var values: [Double] = []
            for t in 0..<T { for k in 0..<K { values.append(recall[rIndex(t, k, area, maxDet)]) } }
            return meanDefined(values)
        }
        let t50 = iouThresholds.firstIndex(of: 0.5), t75 = iouThresholds.firstIndex(of: 0.75)
        let stats = [
            ap(threshold: nil, area: 0, maxDet: 2), ap(threshold: t50 ?? -1, area: 0, maxDet: 2), ap(threshold: t75 ?? -1, area: 0, maxDet: 2),
            ap(threshold: nil, area: 1, maxDet: 2), ap(threshold: nil, area: 2, maxDet: 2), ap(threshold: nil, area: 3, maxDet: 2),
            ar(area: 0, maxDet: 0), ar(area: 0, maxDet: 1), ar(area: 0, maxDet: 2),
            ar(area: 1, maxDet: 2), ar(area: 2, maxDet: 2), ar(area: 3, maxDet: 2),
        ]
        let perCategory = categories.enumerated().map { (category: $1, ap: ap(threshold: nil, area: 0, maxDet: 2, category: $0)) }
        return COCOSummary(stats: stats, perCategory: perCategory)
    }

    /// pycocotools' `evaluateImg` for one image and category, with at most 100 detections.
    static func evaluate(_ truths: [GroundTruth], _ predictions: [Prediction], area: (Double, Double)) -> ImageEvaluation? {
        if truths.isEmpty && predictions.isEmpty { return nil }
        // Ground truth: in range and not crowd first (stable).
        let ignoredFlags = truths.map { $0.crowd || $0.area < area.0 || $0.area > area.1 }
        let truthOrder = truths.indices.sorted { (ignoredFlags[$0] ? 1 : 0, $0) < (ignoredFlags[$1] ? 1 : 0, $1) }
        let gt = truthOrder.map { truths[$0] }
        let gtIgnored = truthOrder.map { ignoredFlags[$0] }
        // Detections by descending score (stable), at most 100.
        let dt = Array(predictions.indices.sorted { predictions[$0].score > predictions[$1].score || (predictions[$0].score == predictions[$1].score && $0 < $1) }
            .prefix(100).map { predictions[$0] })
        let T = iouThresholds.count
        var matched = [[Bool]](repeating: [Bool](repeating: false, count: dt.count), count: T)
        var ignored = matched
        var gtMatched = [[Bool]](repeating: [Bool](repeating: false, count: gt.count), count: T)
        var ious = [Double](repeating: 0, count: dt.count * gt.count)
        for (d, det) in dt.enumerated() { for (g, truth) in gt.enumerated() { ious[d * gt.count + g] = iou(det.box, truth.box, crowd: truth.crowd) } }
        if !gt.isEmpty && !dt.isEmpty {
            for (t, threshold) in iouThresholds.enumerated() {
                for d in 0..<dt.count {
                    var best = min(threshold, 1 - 1e-10)
                    var m = -1
                    for g in 0..<gt.count {
                        if gtMatched[t][g] && !gt[g].crowd { continue }
                        if m > -1 && !gtIgnored[m] && gtIgnored[g] { break }
                        let value = ious[d * gt.count + g]
                        if value < best { continue }
                        best = value
                        m = g
                    }
                    guard m > -1 else { continue }
                    ignored[t][d] = gtIgnored[m]
                    matched[t][d] = true
                    gtMatched[t][m] = true
                }
            }
        }
        for (d, det) in dt.enumerated() where det.box.area < area.0 || det.box.area > area.1 {
            for t in 0..<T where !matched[t][d] { ignored[t][d] = true }
        }
        return ImageEvaluation(scores: dt.map(\.score), matched: matched, ignored: ignored, truthIgnored: gtIgnored)
    }
}
