import EnsembleCore
import GRDB

/// Turns parsed search clauses into SQLite predicates with bound arguments — never by splicing
/// user text into SQL.
enum SQLPredicate {
    /// `column <op> ?` for a string or number comparison (`LIKE` is case-sensitive, `ILIKE` is not).
    static func compare(_ column: String, clause: SearchClause, args: inout [DatabaseValue]) throws -> String {
        switch clause.comparator {
        case .equal, .notEqual, .greater, .greaterOrEqual, .less, .lessOrEqual:
            switch clause.value {
            case .string(let s): args.append(s.databaseValue)
            case .number(let n):
                if n == n.rounded(), abs(n) < 9.0e18 { args.append(Int64(n).databaseValue) } else { args.append(n.databaseValue) }
            default: throw EnsembleError.invalid("\(clause.comparator.rawValue) needs a single value")
            }
            return "\(column) \(clause.comparator.rawValue) ?"
        case .like:
            guard case .string(let pattern) = clause.value else { throw EnsembleError.invalid("LIKE needs a quoted pattern") }
            args.append(globPattern(fromLike: pattern).databaseValue)
            return "\(column) GLOB ?"
        case .ilike:
            guard case .string(let pattern) = clause.value else { throw EnsembleError.invalid("ILIKE needs a quoted pattern") }
            args.append(pattern.lowercased().databaseValue)
            return "lower(\(column)) LIKE ?"
        case .in, .notIn:
            guard case .list(let items) = clause.value else { throw EnsembleError.invalid("IN needs a list") }
            if items.isEmpty { return clause.comparator == .in ? "0" : "1" }
            args.append(contentsOf: items.map(\.databaseValue))
            let marks = Array(repeating: "?", count: items.count).joined(separator: ", ")
            return "\(column) \(clause.comparator == .in ? "IN" : "NOT IN") (\(marks))"
        case .isNull:
            return "\(column) IS NULL"
        case .isNotNull:
            return "\(column) IS NOT NULL"
        }
    }

    /// A predicate on a key/value table (`params`, `tags`, `experiment_tags`) aliased `t`.
    /// `IS NULL` means "has no such key"; every other comparator requires the key to be present.
    static func keyValueExists(table: String, owner: String, clause: SearchClause, args: inout [DatabaseValue]) throws -> String {
        args.append(clause.key.name.databaseValue)
        switch clause.comparator {
        case .isNull:
            return "NOT EXISTS (SELECT 1 FROM \(table) t WHERE \(owner) AND t.key = ?)"
        case .isNotNull:
            return "EXISTS (SELECT 1 FROM \(table) t WHERE \(owner) AND t.key = ?)"
        default:
            let predicate = try compare("t.value", clause: clause, args: &args)
            return "EXISTS (SELECT 1 FROM \(table) t WHERE \(owner) AND t.key = ? AND \(predicate))"
        }
    }

    /// SQL `LIKE` wildcards (`%`, `_`) as a case-sensitive `GLOB` pattern, with GLOB's own special
    /// characters escaped.
    static func globPattern(fromLike like: String) -> String {
        var out = ""
        for c in like {
            switch c {
            case "%": out.append("*")
            case "_": out.append("?")
            case "*": out.append("[*]")
            case "?": out.append("[?]")
            case "[": out.append("[[]")
            default: out.append(c)
            }
        }
        return out
    }
}
