import Foundation

/// MLflow's search grammar: `AND`-joined comparisons such as
/// ``metrics.acc > 0.9 AND params.model = 'cnn' AND tags.`team name` LIKE 'vis%'``.
///
/// Parsing is pure and backend-independent; each store turns the resulting clauses into its own
/// query language. Every malformed filter becomes an `INVALID_PARAMETER_VALUE` with the reason.
public enum SearchKeyType: String, Sendable, Equatable {
    case attribute, metric, param, tag, dataset
}

public struct SearchKey: Sendable, Equatable, Hashable {
    public var type: SearchKeyType
    public var name: String
    public init(_ type: SearchKeyType, _ name: String) {
        self.type = type
        self.name = name
    }
}

public enum SearchComparator: String, Sendable, Equatable {
    case equal = "="
    case notEqual = "!="
    case greater = ">"
    case greaterOrEqual = ">="
    case less = "<"
    case lessOrEqual = "<="
    case like = "LIKE"
    case ilike = "ILIKE"
    case `in` = "IN"
    case notIn = "NOT IN"
    case isNull = "IS NULL"
    case isNotNull = "IS NOT NULL"

    public var isNumericOnly: Bool {
        switch self {
        case .greater, .greaterOrEqual, .less, .lessOrEqual: true
        default: false
        }
    }
}

public enum SearchValue: Sendable, Equatable {
    case string(String)
    case number(Double)
    case list([String])
    case none
}

public struct SearchClause: Sendable, Equatable {
    public var key: SearchKey
    public var comparator: SearchComparator
    public var value: SearchValue
    public init(key: SearchKey, comparator: SearchComparator, value: SearchValue) {
        self.key = key
        self.comparator = comparator
        self.value = value
    }

    /// Names of experiments and models are stored NFC-normalised, so a filter on `name` is
    /// normalised the same way: `name = 'café'` finds the experiment whatever the accent's encoding.
    func withNormalizedName() -> SearchClause {
        guard key.type == .attribute, key.name == "name" else { return self }
        var copy = self
        switch value {
        case .string(let s): copy.value = .string(s.precomposedStringWithCanonicalMapping)
        case .list(let items): copy.value = .list(items.map(\.precomposedStringWithCanonicalMapping))
        default: break
        }
        return copy
    }
}

public struct OrderByClause: Sendable, Equatable {
    public var key: SearchKey
    public var ascending: Bool
    public init(key: SearchKey, ascending: Bool) {
        self.key = key
        self.ascending = ascending
    }
}

// MARK: - Tokens

enum SearchToken: Equatable {
    /// An identifier such as `metrics.acc` or a bare word (`AND`, `LIKE`, `run_name`); `quotedKey` holds a
    /// backtick- or double-quoted key that followed a `prefix.`.
    case word(String)
    case quotedKeyIdentifier(prefix: String, key: String)
    case string(String, doubleQuoted: Bool)
    case number(Double, text: String)
    case op(String)
    case lparen, rparen, comma
}

struct SearchLexer {
    static func tokenize(_ text: String) throws(EnsembleError) -> [SearchToken] {
        var tokens: [SearchToken] = []
        let chars = Array(text.unicodeScalars)
        var i = 0
        func fail(_ why: String) -> EnsembleError {
            .invalid("Invalid filter '\(text)': \(why)")
        }
        func readQuoted(_ quote: Unicode.Scalar) throws(EnsembleError) -> String {
            // chars[i] is the opening quote; a doubled quote inside is an escaped quote.
            var out = String.UnicodeScalarView()
            i += 1
            while i < chars.count {
                let c = chars[i]
                if c == quote {
                    if i + 1 < chars.count, chars[i + 1] == quote {
                        out.append(quote)
                        i += 2
                        continue
                    }
                    i += 1
                    return String(out)
                }
                if c == "\\", i + 1 < chars.count, chars[i + 1] == quote {
                    out.append(quote)
                    i += 2
                    continue
                }
                out.append(c)
                i += 1
            }
            throw fail("unbalanced quote \(quote) — close every quoted value or key")
        }
        func isWordScalar(_ c: Unicode.Scalar) -> Bool {
            c.properties.isAlphabetic || c.properties.numericType != nil || c == "_" || c == "." || c == "/" || c == ":" || c == "-"
        }
        while i < chars.count {
            let c = chars[i]
            if c.properties.isWhitespace {
                i += 1
                continue
            }
            switch c {
            case "(":
                tokens.append(.lparen); i += 1
            case ")":
                tokens.append(.rparen); i += 1
            case ",":
                tokens.append(.comma); i += 1
            case "'":
                tokens.append(.string(try readQuoted("'"), doubleQuoted: false))
            case "\"":
                tokens.append(.string(try readQuoted("\""), doubleQuoted: true))
            case "`":
                // A backtick-quoted identifier on its own, e.g. `run name`.
                tokens.append(.quotedKeyIdentifier(prefix: "", key: try readQuoted("`")))
            case "=", "!", "<", ">":
                var op = String(c)
                if i + 1 < chars.count, chars[i + 1] == "=" || (c == "<" && chars[i + 1] == ">") {
                    op.unicodeScalars.append(chars[i + 1])
                    i += 2
                } else {
                    i += 1
                }
                if op == "!" { throw fail("'!' must be followed by '='") }
                if op == "==" { op = "=" }
                if op == "<>" { op = "!=" }
                tokens.append(.op(op))
            default:
                let startsNumber = (c == "-" || c == "+" || c == ".") ? (i + 1 < chars.count && chars[i + 1].properties.numericType != nil) : c.properties.numericType != nil && c.isASCII
                if startsNumber {
                    var j = i + 1
                    while j < chars.count {
                        let d = chars[j]
                        if d.isASCII && (d.properties.numericType != nil || d == "." || d == "e" || d == "E") {
                            j += 1
                        } else if (d == "-" || d == "+") && (chars[j - 1] == "e" || chars[j - 1] == "E") {
                            j += 1
                        } else {
                            break
                        }
                    }
                    let text = String(String.UnicodeScalarView(chars[i..<j]))
                    // A word that merely starts with digits (e.g. `1abc`) is not a number.
                    if j < chars.count, isWordScalar(chars[j]) {
                        throw fail("'\(text)\(chars[j])…' is neither a number nor a quoted value")
                    }
                    guard let v = Double(text) else { throw fail("'\(text)' is not a number") }
                    tokens.append(.number(v, text: text))
                    i = j
                } else if isWordScalar(c) {
                    var j = i
                    while j < chars.count, isWordScalar(chars[j]) { j += 1 }
                    let word = String(String.UnicodeScalarView(chars[i..<j]))
                    i = j
                    // `metrics.` followed by a quoted key.
                    if word.hasSuffix("."), i < chars.count, chars[i] == "`" || chars[i] == "\"" {
                        let key = try readQuoted(chars[i])
                        tokens.append(.quotedKeyIdentifier(prefix: String(word.dropLast()), key: key))
                    } else {
                        tokens.append(.word(word))
                    }
                } else {
                    throw fail("unexpected character '\(c)'")
                }
            }
        }
        return tokens
    }
}

// MARK: - Parsing

/// Which entity a filter or order-by applies to; each accepts different keys and comparators.
public enum SearchEntity: Sendable {
    case runs
    case experiments
    case registeredModels
    case modelVersions
    case loggedModels
}

public enum SearchFilterParser {
    /// Parses a filter string into clauses joined by `AND`. An empty or blank filter has no clauses.
    public static func parse(_ filter: String?, for entity: SearchEntity) throws(EnsembleError) -> [SearchClause] {
        guard let filter, !filter.allSatisfy(\.isWhitespace) else { return [] }
        let tokens = try SearchLexer.tokenize(filter)
        var clauses: [SearchClause] = []
        var i = 0
        func fail(_ why: String) -> EnsembleError { .invalid("Invalid filter '\(filter)': \(why)") }

        while true {
            guard i < tokens.count else { throw fail("expected a comparison after AND") }
            let key = try identifier(tokens[i], entity: entity, filter: filter)
            i += 1
            guard i < tokens.count else { throw fail("'\(key.name)' needs a comparator and a value") }
            // Comparator
            var comparator: SearchComparator
            switch tokens[i] {
            case .op(let op):
                comparator = SearchComparator(rawValue: op)!
                i += 1
            case .word(let w):
                switch w.uppercased() {
                case "LIKE": comparator = .like; i += 1
                case "ILIKE": comparator = .ilike; i += 1
                case "IN": comparator = .in; i += 1
                case "NOT":
                    guard i + 1 < tokens.count, case .word(let w2) = tokens[i + 1], w2.uppercased() == "IN" else {
                        throw fail("expected IN after NOT")
                    }
                    comparator = .notIn; i += 2
                case "IS":
                    if i + 1 < tokens.count, case .word(let w2) = tokens[i + 1], w2.uppercased() == "NULL" {
                        comparator = .isNull; i += 2
                    } else if i + 2 < tokens.count, case .word(let w2) = tokens[i + 1], w2.uppercased() == "NOT",
                        case .word(let w3) = tokens[i + 2], w3.uppercased() == "NULL"
                    {
                        comparator = .isNotNull; i += 3
                    } else {
                        throw fail("expected IS NULL or IS NOT NULL")
                    }
                default:
                    throw fail("'\(w)' is not a comparator; use one of =, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL")
                }
            default:
                throw fail("expected a comparator after '\(key.name)'")
            }
            // Value
            var value: SearchValue = .none
            switch comparator {
            case .isNull, .isNotNull:
                value = .none
            case .in, .notIn:
                guard i < tokens.count, tokens[i] == .lparen else { throw fail("\(comparator.rawValue) needs a parenthesised list like ('a', 'b')") }
                i += 1
                var items: [String] = []
                while true {
                    guard i < tokens.count, case .string(let s, _) = tokens[i] else {
                        throw fail("\(comparator.rawValue) lists hold quoted strings, separated by commas")
                    }
                    items.append(s)
                    i += 1
                    guard i < tokens.count else { throw fail("unclosed list") }
                    if tokens[i] == .comma { i += 1; continue }
                    if tokens[i] == .rparen { i += 1; break }
                    throw fail("expected ',' or ')' in the list")
                }
                value = .list(items)
            default:
                guard i < tokens.count else { throw fail("'\(key.name) \(comparator.rawValue)' needs a value") }
                switch tokens[i] {
                case .string(let s, _): value = .string(s)
                case .number(let n, _): value = .number(n)
                default: throw fail("expected a value after '\(key.name) \(comparator.rawValue)'; quote strings, e.g. 'value'")
                }
                i += 1
            }
            let clause = SearchClause(key: key, comparator: comparator, value: value)
            try check(clause, entity: entity, filter: filter)
            clauses.append(entity == .runs ? clause : clause.withNormalizedName())
            if i == tokens.count { break }
            guard case .word(let w) = tokens[i], w.uppercased() == "AND" else {
                if case .word(let w) = tokens[i], w.uppercased() == "OR" {
                    throw fail("OR is not supported; only AND joins comparisons")
                }
                throw fail("expected AND between comparisons")
            }
            i += 1
        }
        return clauses
    }

    /// Parses one `order_by` entry: an identifier with an optional `ASC` or `DESC`.
    public static func parseOrderBy(_ text: String, for entity: SearchEntity) throws(EnsembleError) -> OrderByClause {
        let tokens = try SearchLexer.tokenize(text)
        func fail(_ why: String) -> EnsembleError { .invalid("Invalid order_by clause '\(text)': \(why)") }
        guard !tokens.isEmpty else { throw fail("it is empty") }
        var identTokens = tokens
        var ascending = true
        if tokens.count >= 2, case .word(let w) = tokens.last!, ["ASC", "DESC"].contains(w.uppercased()) {
            ascending = w.uppercased() == "ASC"
            identTokens.removeLast()
        }
        // Unquoted attribute aliases may contain spaces ("Run name").
        var key: SearchKey
        if identTokens.count == 1 {
            key = try identifier(identTokens[0], entity: entity, filter: text)
        } else if identTokens.allSatisfy({ if case .word(let w) = $0 { !w.contains(".") } else { false } }) {
            let joined = identTokens.map { if case .word(let w) = $0 { w } else { "" } }.joined(separator: " ")
            key = try identifier(.word(joined), entity: entity, filter: text)
        } else {
            throw fail("expected '<key> [ASC|DESC]'")
        }
        if entity == .runs, key.type == .dataset {
            throw fail("datasets cannot be used for ordering")
        }
        return OrderByClause(key: key, ascending: ascending)
    }

    // MARK: Identifiers

    static func identifier(_ token: SearchToken, entity: SearchEntity, filter: String) throws(EnsembleError) -> SearchKey {
        let prefix: String
        let name: String
        switch token {
        case .word(let w):
            if let dot = w.firstIndex(of: ".") {
                prefix = String(w[..<dot])
                name = String(w[w.index(after: dot)...])
            } else {
                prefix = ""
                name = w
            }
        case .quotedKeyIdentifier(let p, let k):
            prefix = p
            name = k
        case .string(let s, true):
            prefix = ""
            name = s
        default:
            throw .invalid("Invalid filter '\(filter)': expected an identifier such as metrics.<key>, params.<key>, tags.<key> or an attribute")
        }
        guard let type = keyType(prefix, entity: entity) else {
            throw .invalid("Invalid entity type '\(prefix)' in '\(filter)'. Valid values are \(validPrefixes(entity))")
        }
        if name.isEmpty { throw .invalid("Invalid filter '\(filter)': the key after '\(prefix).' is empty") }
        if type == .attribute || type == .dataset {
            return SearchKey(type, try attributeName(name, type: type, entity: entity, filter: filter))
        }
        return SearchKey(type, name)
    }

    static func keyType(_ prefix: String, entity: SearchEntity) -> SearchKeyType? {
        switch prefix.lowercased() {
        case "": return .attribute
        case "attribute", "attributes", "attr", "run": return entity == .runs || entity == .experiments || entity == .loggedModels ? .attribute : nil
        case "metric", "metrics": return entity == .runs || entity == .loggedModels ? .metric : nil
        case "param", "params", "parameter", "parameters": return entity == .runs || entity == .loggedModels ? .param : nil
        case "tag", "tags": return .tag
        case "dataset", "datasets": return entity == .runs ? .dataset : nil
        default: return nil
        }
    }

    static func validPrefixes(_ entity: SearchEntity) -> String {
        switch entity {
        case .runs: "metrics, params, tags, attributes, datasets"
        case .experiments: "tags, attributes"
        case .registeredModels, .modelVersions: "tags and attributes without a prefix"
        case .loggedModels: "metrics, params, tags, attributes"
        }
    }

    static func attributeName(_ raw: String, type: SearchKeyType, entity: SearchEntity, filter: String) throws(EnsembleError) -> String {
        let valid: [String: String]
        switch (entity, type) {
        case (.runs, .dataset):
            valid = ["name": "name", "digest": "digest", "context": "context"]
        case (.runs, _):
            valid = [
                "run_id": "run_id", "run_name": "run_name", "status": "status", "user_id": "user_id",
                "artifact_uri": "artifact_uri", "start_time": "start_time", "end_time": "end_time",
                "created": "start_time", "Created": "start_time",
                "run name": "run_name", "Run name": "run_name", "Run Name": "run_name",
            ]
        case (.experiments, _):
            valid = ["name": "name", "experiment_id": "experiment_id", "creation_time": "creation_time", "last_update_time": "last_update_time"]
        case (.loggedModels, _):
            valid = [
                "name": "name", "model_id": "model_id", "model_type": "model_type", "status": "status",
                "source_run_id": "source_run_id", "creation_timestamp": "creation_timestamp",
                "creation_time": "creation_timestamp", "last_updated_timestamp": "last_updated_timestamp",
            ]
        case (.registeredModels, _):
            valid = ["name": "name", "timestamp": "last_updated_timestamp", "last_updated_timestamp": "last_updated_timestamp", "creation_timestamp": "creation_timestamp"]
        case (.modelVersions, _):
            valid = [
                "name": "name", "run_id": "run_id", "version_number": "version_number", "source_path": "source_path",
                "creation_timestamp": "creation_timestamp", "last_updated_timestamp": "last_updated_timestamp",
                "timestamp": "last_updated_timestamp",
            ]
        }
        guard let name = valid[raw] else {
            let names = Set(valid.values).sorted().joined(separator: ", ")
            throw .invalid("Invalid attribute key '\(raw)' in '\(filter)'. Valid keys are: \(names)")
        }
        return name
    }

    static let numericAttributes: Set<String> = [
        "start_time", "end_time", "creation_time", "last_update_time", "version_number",
        "creation_timestamp", "last_updated_timestamp",
    ]

    /// Enforces which comparators and value types each kind of key accepts.
    static func check(_ clause: SearchClause, entity: SearchEntity, filter: String) throws(EnsembleError) {
        let key = clause.key
        let c = clause.comparator
        func fail(_ why: String) -> EnsembleError { .invalid("Invalid filter '\(filter)': \(why)") }
        switch key.type {
        case .metric:
            guard [.equal, .notEqual, .greater, .greaterOrEqual, .less, .lessOrEqual].contains(c) else {
                throw fail("metrics accept =, !=, <, <=, >, >= against a number, not \(c.rawValue)")
            }
            guard case .number = clause.value else { throw fail("metrics.\(key.name) must be compared with a bare number") }
        case .param, .tag:
            guard [.equal, .notEqual, .like, .ilike, .isNull, .isNotNull].contains(c) else {
                throw fail("\(key.type == .param ? "params" : "tags") accept =, !=, LIKE, ILIKE, IS NULL, IS NOT NULL, not \(c.rawValue)")
            }
            if c != .isNull && c != .isNotNull {
                guard case .string = clause.value else {
                    throw fail("the value for \(key.type == .param ? "params" : "tags").\(key.name) must be a quoted string")
                }
            }
        case .dataset:
            guard [.equal, .notEqual, .like, .ilike, .in, .notIn].contains(c) else {
                throw fail("datasets.\(key.name) accepts =, !=, LIKE, ILIKE, IN, NOT IN")
            }
            if case .number = clause.value { throw fail("datasets.\(key.name) must be compared with a quoted string") }
        case .attribute:
            if numericAttributes.contains(key.name) {
                guard [.equal, .notEqual, .greater, .greaterOrEqual, .less, .lessOrEqual].contains(c) else {
                    throw fail("\(key.name) accepts =, !=, <, <=, >, >= against a number")
                }
                guard case .number = clause.value else { throw fail("\(key.name) must be compared with a bare number") }
            } else {
                var allowed: [SearchComparator] = [.equal, .notEqual, .like, .ilike]
                switch (entity, key.name) {
                case (.runs, "run_id"), (.registeredModels, "name"), (.modelVersions, "name"), (.modelVersions, "run_id"),
                    (.loggedModels, "model_id"), (.loggedModels, "source_run_id"), (.loggedModels, "name"):
                    allowed += [.in, .notIn]
                case (.experiments, "experiment_id"):
                    allowed = [.equal, .notEqual, .in, .notIn]
                default:
                    break
                }
                guard allowed.contains(c) else {
                    throw fail("\(key.name) accepts \(allowed.map(\.rawValue).joined(separator: ", "))")
                }
                if case .number = clause.value { throw fail("the value for \(key.name) must be a quoted string") }
            }
        }
    }
}
