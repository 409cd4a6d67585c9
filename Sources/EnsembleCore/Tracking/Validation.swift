/// Input rules shared by every backend, matching the MLflow tracking server's limits so that
/// clients see the same errors here as there.
public enum Validation {
    public static let maxEntityKeyLength = 250
    public static let maxParamValueLength = 6000
    public static let maxRunTagValueLength = 8000
    public static let maxExperimentTagKeyLength = 250
    public static let maxExperimentTagValueLength = 20000
    public static let maxExperimentNameLength = 500
    public static let maxRunNameLength = 250
    public static let maxDatasetNameLength = 500
    public static let maxDatasetDigestLength = 36
    public static let maxDatasetSourceLength = 65535
    public static let maxDatasetSchemaLength = 1_048_575
    public static let maxDatasetProfileLength = 16_777_215
    public static let maxInputTagKeyLength = 255
    public static let maxInputTagValueLength = 500
    public static let maxBatchMetrics = 1000
    public static let maxBatchParams = 100
    public static let maxBatchTags = 100
    public static let maxBatchEntities = 1000
    /// People, projects and roles: names a person reads, ids that go into URLs.
    public static let maxPersonNameLength = 200
    public static let maxSlugLength = 100

    /// Checks a metric, param or tag key: MLflow's character set, no path tricks, bounded length.
    /// - Parameter kind: `metric`, `param` or `tag`, used in the message.
    public static func validateKey(_ key: String, kind: String) throws(EnsembleError) {
        if isPlainASCIIKey(key) { return }
        for scalar in key.unicodeScalars where !isKeyScalar(scalar) {
            throw .invalid(
                "Invalid \(kind) name: '\(key)'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/)."
            )
        }
        if !isNormalizedPath(key) {
            throw .invalid(
                "Invalid \(kind) name: '\(key)'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such. Use a name without '..', '.', empty or leading '/' segments."
            )
        }
        if key.count > maxEntityKeyLength {
            throw .invalid("'key' exceeds the maximum length of \(maxEntityKeyLength) characters")
        }
    }

    /// The common case, checked byte by byte: short ASCII names of letters, digits and `_-.: /`
    /// whose `/`-separated segments are neither empty nor `.`/`..`.
    static func isPlainASCIIKey(_ key: String) -> Bool {
        var key = key
        return key.withUTF8 { bytes -> Bool in
            guard !bytes.isEmpty, bytes.count <= maxEntityKeyLength else { return false }
            var segmentStart = 0
            for i in 0...bytes.count {
                let b: UInt8 = i < bytes.count ? bytes[i] : UInt8(ascii: "/")
                switch b {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: " "), UInt8(ascii: ":"):
                    continue
                case UInt8(ascii: "/"):
                    let length = i - segmentStart
                    if length == 0 { return false }
                    if bytes[segmentStart] == UInt8(ascii: ".") && (length == 1 || (length == 2 && bytes[segmentStart + 1] == UInt8(ascii: "."))) {
                        return false
                    }
                    segmentStart = i + 1
                default:
                    return false
                }
            }
            // A leading ".." (e.g. "..a") resolves outside its folder on some platforms.
            return !(bytes.count >= 2 && bytes[0] == UInt8(ascii: ".") && bytes[1] == UInt8(ascii: "."))
        }
    }

    static func isKeyScalar(_ s: Unicode.Scalar) -> Bool {
        switch s {
        case "/", ".", "-", " ", ":", "_": return true
        default:
            let p = s.properties
            return p.isAlphabetic || p.numericType != nil
        }
    }

    /// True when `posixpath.normpath(key) == key` and the key does not start with `/` or `..`.
    static func isNormalizedPath(_ key: String) -> Bool {
        if key.hasPrefix("/") || key.hasPrefix("..") { return false }
        for part in key.split(separator: "/", omittingEmptySubsequences: false) {
            if part.isEmpty || part == "." || part == ".." { return false }
        }
        return true
    }

    /// Long param and run-tag values are cut to the limit, as the MLflow server does by default
    /// (`MLFLOW_TRUNCATE_LONG_VALUES`).
    public static func truncated(_ value: String, limit: Int) -> String {
        value.count <= limit ? value : String(value.prefix(limit))
    }

    public static func validateMetric(_ m: Metric) throws(EnsembleError) {
        try validateKey(m.key, kind: "metric")
        if m.timestamp < 0 {
            throw .invalid("Invalid value \(m.timestamp) for parameter 'timestamp' supplied. Timestamps must be non-negative epoch milliseconds.")
        }
    }

    public static func validateParam(_ p: KeyValue) throws(EnsembleError) -> KeyValue {
        try validateKey(p.key, kind: "param")
        return KeyValue(key: p.key, value: truncated(p.value, limit: maxParamValueLength))
    }

    public static func validateRunTag(_ t: KeyValue) throws(EnsembleError) -> KeyValue {
        try validateKey(t.key, kind: "tag")
        return KeyValue(key: t.key, value: truncated(t.value, limit: maxRunTagValueLength))
    }

    public static func validateExperimentName(_ name: String) throws(EnsembleError) {
        if name.allSatisfy(\.isWhitespace) {
            throw .invalid("Invalid experiment name: '\(name)'. Give the experiment a non-blank name.")
        }
        if name.count > maxExperimentNameLength {
            throw .invalid("Experiment name exceeds the maximum length of \(maxExperimentNameLength) characters")
        }
        try validateDisplayName(name, field: "experiment name", maxLength: maxExperimentNameLength)
    }

    /// Characters no name may hold: they are invisible or reorder what a person reads, so two names
    /// that look the same could differ, or a name could pose as another (`"admin\u{202E}nimda"`).
    /// Zero-width joiners inside emoji sequences are the one exception worth making, and they are
    /// allowed between two non-ASCII scalars.
    static func isHiddenScalar(_ v: UInt32) -> Bool {
        switch v {
        case 0x00...0x1F, 0x7F...0x9F: true  // C0 and C1 controls, DEL (tabs and newlines included)
        case 0x200B, 0x200C, 0x200E, 0x200F, 0x2060...0x2064, 0xFEFF: true  // zero-width and direction marks
        case 0x202A...0x202E, 0x2066...0x2069: true  // bidi embeddings, overrides and isolates
        case 0x180E, 0x061C, 0xFFF9...0xFFFB: true  // Mongolian vowel separator, Arabic letter mark, interlinear
        default: false
        }
    }

    /// The rule every human-chosen name follows on every path (create, rename, search, the team):
    /// at most `maxLength` characters, no control, zero-width or bidi-override characters, and no
    /// NUL (which SQLite's C API would silently cut the name at).
    public static func validateDisplayName(_ value: String, field: String, maxLength: Int) throws(EnsembleError) {
        if value.count > maxLength {
            throw .invalid("\(field): at most \(maxLength) characters; got \(value.count).")
        }
        let scalars = Array(value.unicodeScalars)
        for (i, scalar) in scalars.enumerated() {
            let v = scalar.value
            if v == 0x200D, i > 0, i + 1 < scalars.count, scalars[i - 1].value > 0x7F, scalars[i + 1].value > 0x7F { continue }
            if v == 0x200D || isHiddenScalar(v) {
                throw .invalid(
                    "\(field): '\(value.unicodeScalars.map { isHiddenScalar($0.value) || $0.value == 0x200D ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined())' holds an invisible or text-direction character (U+\(String(format: "%04X", v))). Use visible characters only."
                )
            }
        }
    }

    public static func validateExperimentTag(_ t: KeyValue) throws(EnsembleError) {
        try validateKey(t.key, kind: "tag")
        if t.key.count > maxExperimentTagKeyLength {
            throw .invalid("'key' exceeds the maximum length of \(maxExperimentTagKeyLength) characters")
        }
        if t.value.count > maxExperimentTagValueLength {
            throw .invalid("'value' exceeds the maximum length of \(maxExperimentTagValueLength) characters")
        }
    }

    /// Experiment ids are integers; anything else can never name an experiment.
    public static func validateExperimentID(_ id: String) throws(EnsembleError) {
        guard !id.isEmpty, id.count <= 19, id.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw .invalid("Experiment ID must be a valid integer, got '\(id)'")
        }
    }

    /// Run ids are `[a-zA-Z0-9][\w-]{0,255}`; anything else is refused before it reaches storage.
    public static func validateRunID(_ id: String) throws(EnsembleError) {
        var valid = !id.isEmpty && id.utf8.count <= 256
        if valid {
            for (i, b) in id.utf8.enumerated() {
                let alnum = (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122)
                if i == 0 ? !alnum : !(alnum || b == 95 || b == 45) {
                    valid = false
                    break
                }
            }
        }
        if !valid {
            throw .invalid("Invalid run ID: '\(id)'. Run ids are letters, digits, '_' and '-', starting with a letter or digit.")
        }
    }

    public static func validateBatchLimits(metrics: Int, params: Int, tags: Int) throws(EnsembleError) {
        func tooMany(_ n: Int, _ what: String, _ limit: Int) -> EnsembleError {
            .invalid("A batch logging request can contain at most \(limit) \(what). Got \(n) \(what). Please split up \(what) across multiple requests and try again.")
        }
        if metrics > maxBatchMetrics { throw tooMany(metrics, "metrics", maxBatchMetrics) }
        if params > maxBatchParams { throw tooMany(params, "params", maxBatchParams) }
        if tags > maxBatchTags { throw tooMany(tags, "tags", maxBatchTags) }
        let total = metrics + params + tags
        if total > maxBatchEntities {
            throw .invalid("A batch logging request can contain at most \(maxBatchEntities) metrics, params, and tags in total. Got \(total) entities. Please split up entities across multiple requests and try again.")
        }
    }

    /// Params in one batch must have distinct keys (the same key twice is ambiguous).
    public static func validateUniqueParamKeys(_ params: [KeyValue]) throws(EnsembleError) {
        var seen = Set<String>()
        var duplicates: [String] = []
        for p in params where !seen.insert(p.key).inserted { duplicates.append(p.key) }
        if !duplicates.isEmpty {
            throw .invalid("Duplicate parameter keys have been submitted: \(duplicates). Please ensure the request contains only one param value per param key.")
        }
    }

    public static func validateDatasetInput(_ input: DatasetInput) throws(EnsembleError) {
        let d = input.dataset
        func check(_ value: String?, _ name: String, _ limit: Int) throws(EnsembleError) {
            if let value, value.utf8.count > limit {
                throw .invalid("Dataset \(name) exceeds the maximum length of \(limit)")
            }
        }
        if d.name.isEmpty { throw .missing("dataset.name") }
        if d.digest.isEmpty { throw .missing("dataset.digest") }
        if d.sourceType.isEmpty { throw .missing("dataset.source_type") }
        try check(d.name, "name", maxDatasetNameLength)
        try check(d.digest, "digest", maxDatasetDigestLength)
        try check(d.source, "source", maxDatasetSourceLength)
        try check(d.schema, "schema", maxDatasetSchemaLength)
        try check(d.profile, "profile", maxDatasetProfileLength)
        for t in input.tags {
            if t.key.isEmpty { throw .missing("tags.key") }
            try check(t.key, "input tag key", maxInputTagKeyLength)
            try check(t.value, "input tag value", maxInputTagValueLength)
        }
    }
}
