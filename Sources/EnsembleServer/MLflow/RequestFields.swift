import EnsembleArtifacts
import EnsembleCore
import EnsembleJSON

/// The fields of an MLflow request, from a JSON body (POST, PATCH, DELETE) or a query string (GET),
/// read with MLflow's typing rules and error messages.
///
/// MLflow's client sends int64 as JSON numbers, may send them as strings, sends NaN and infinities as
/// the strings `"NaN"`/`"Infinity"`, and sends every GET field as text. Wrong types get
/// `Invalid value <json> for parameter '<name>' supplied` (400), never a crash.
struct RequestFields: Sendable {
    enum Source: Sendable {
        case json([(String, JSONValue)])
        case query([(String, String)])
    }

    let source: Source
    /// Prefix for nested field names in messages (`metrics[0].`).
    let path: String

    init(json members: [(String, JSONValue)], path: String = "") {
        self.source = .json(members)
        self.path = path
    }

    init(query: [(String, String)]) {
        self.source = .query(query)
        self.path = ""
    }

    /// Parses `a=1&b=x&b=y` strictly; a malformed escape is a 400.
    static func parseQuery(_ query: String?) throws(EnsembleError) -> [(String, String)] {
        guard let query, !query.isEmpty else { return [] }
        var pairs: [(String, String)] = []
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let k = PercentDecoding.decodeQueryComponent(kv[0]),
                let v = PercentDecoding.decodeQueryComponent(kv.count > 1 ? kv[1] : "")
            else {
                throw EnsembleError.invalid("Malformed query string: '\(part)' is not valid percent-encoded UTF-8.")
            }
            pairs.append((k, v))
        }
        return pairs
    }

    private func raw(_ name: String) -> JSONValue? {
        switch source {
        case .json(let members):
            return members.first { $0.0 == name }?.1
        case .query(let pairs):
            return pairs.first { $0.0 == name }.map { .string($0.1) }
        }
    }

    private func typeError(_ name: String, _ value: JSONValue, expected: String) -> EnsembleError {
        .invalid(
            "Invalid value \(value.jsonText) for parameter '\(path)\(name)' supplied: Hint: Value was of type '\(value.typeName)'. Expected \(expected). See the API docs for more information about request parameters."
        )
    }

    /// A field's JSON as sent (for documents kept as they are, such as an A/B analysis).
    func document(_ name: String) -> JSONValue? {
        guard case .json = source else { return nil }
        return raw(name)
    }

    func has(_ name: String) -> Bool {
        switch raw(name) {
        case nil, .null?: false
        default: true
        }
    }

    // MARK: Strings

    /// A string field; `nil` when absent or null. `""` is returned as `""`.
    func string(_ name: String) throws(EnsembleError) -> String? {
        switch raw(name) {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case let other?: throw typeError(name, other, expected: "a string")
        }
    }

    /// A required string: absent, null or `""` are all "missing".
    func requiredString(_ name: String) throws(EnsembleError) -> String {
        guard let s = try string(name), !s.isEmpty else { throw .missing(path + name) }
        return s
    }

    /// The run id, sent as `run_id` and/or the legacy `run_uuid`.
    func runID() throws(EnsembleError) -> String {
        if let id = try string("run_id"), !id.isEmpty { return id }
        if let id = try string("run_uuid"), !id.isEmpty { return id }
        throw .missing(path + "run_id")
    }

    // MARK: Numbers

    func int64(_ name: String) throws(EnsembleError) -> Int64? {
        guard let value = raw(name) else { return nil }
        switch value {
        case .null: return nil
        case .number(let text), .string(let text):
            if let v = Int64(text) { return v }
            // 1e3 or 12.0 are integers too, as long as they are whole and in range.
            if case .number = value, let d = Double(text), d == d.rounded(), abs(d) < 9.2e18 { return Int64(d) }
            throw typeError(name, value, expected: "an integer")
        default:
            throw typeError(name, value, expected: "an integer")
        }
    }

    /// An integer that must lie in `range`; outside it is a 400 naming the field and the range.
    func int64(_ name: String, in range: ClosedRange<Int64>) throws(EnsembleError) -> Int64? {
        guard let v = try int64(name) else { return nil }
        guard range.contains(v) else {
            throw .invalid("Invalid value \(v) for parameter '\(path)\(name)': it must be between \(range.lowerBound) and \(range.upperBound).")
        }
        return v
    }

    func requiredInt64(_ name: String) throws(EnsembleError) -> Int64 {
        guard let v = try int64(name) else { throw .missing(path + name) }
        return v
    }

    /// A double; also accepts `"NaN"`, `"Infinity"`, `"-Infinity"` and numeric strings.
    func double(_ name: String) throws(EnsembleError) -> Double? {
        guard let value = raw(name) else { return nil }
        switch value {
        case .null: return nil
        case .number(let text):
            guard let d = Double(text) else { throw typeError(name, value, expected: "a number") }
            return d
        case .string(let text):
            switch text {
            case "NaN", "nan": return .nan
            case "Infinity", "inf": return .infinity
            case "-Infinity", "-inf": return -.infinity
            default:
                guard let d = Double(text), d.isFinite else { throw typeError(name, value, expected: "a number") }
                return d
            }
        default:
            throw typeError(name, value, expected: "a number")
        }
    }

    func bool(_ name: String) throws(EnsembleError) -> Bool? {
        guard let value = raw(name) else { return nil }
        switch value {
        case .null: return nil
        case .bool(let b): return b
        case .string(let s) where s.lowercased() == "true": return true
        case .string(let s) where s.lowercased() == "false": return false
        default: throw typeError(name, value, expected: "true or false")
        }
    }

    // MARK: Lists

    /// A repeated string field: a JSON array of strings, or repeated query keys.
    func strings(_ name: String) throws(EnsembleError) -> [String] {
        switch source {
        case .query(let pairs):
            return pairs.filter { $0.0 == name }.map(\.1)
        case .json:
            guard let value = raw(name) else { return [] }
            switch value {
            case .null: return []
            case .array(let items):
                var out: [String] = []
                for item in items {
                    guard case .string(let s) = item else { throw typeError(name, value, expected: "a list of strings") }
                    out.append(s)
                }
                return out
            default:
                throw typeError(name, value, expected: "a list of strings")
            }
        }
    }

    /// A repeated message field, each element readable as fields of its own.
    func objects(_ name: String) throws(EnsembleError) -> [RequestFields] {
        guard let value = raw(name) else { return [] }
        switch value {
        case .null: return []
        case .array(let items):
            var out: [RequestFields] = []
            out.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                guard case .object(let members) = item else { throw typeError(name, value, expected: "a list of objects") }
                out.append(RequestFields(json: members, path: "\(path)\(name)[\(i)]."))
            }
            return out
        default:
            throw typeError(name, value, expected: "a list of objects")
        }
    }

    /// A nested message field.
    func object(_ name: String) throws(EnsembleError) -> RequestFields? {
        guard let value = raw(name) else { return nil }
        switch value {
        case .null: return nil
        case .object(let members): return RequestFields(json: members, path: "\(path)\(name).")
        default: throw typeError(name, value, expected: "an object")
        }
    }

    /// `[{key, value}]` lists (tags, params); a missing value reads as `""`.
    func keyValues(_ name: String) throws(EnsembleError) -> [KeyValue] {
        try objects(name).map { (f) throws(EnsembleError) -> KeyValue in
            KeyValue(key: try f.requiredString("key"), value: try f.string("value") ?? "")
        }
    }

    /// `max_results`, bounded: a clear 400 outside `1...limit`.
    func maxResults(default def: Int, limit: Int) throws(EnsembleError) -> Int {
        guard let v = try int64("max_results") else { return def }
        guard v >= 1, v <= limit else {
            throw .invalid("Invalid value \(v) for parameter 'max_results' supplied. It must be at most \(limit) and at least 1.")
        }
        return Int(v)
    }
}
