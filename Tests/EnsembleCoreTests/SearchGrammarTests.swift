import Testing

@testable import EnsembleCore

@Suite("Search grammar")
struct SearchGrammarTests {
    @Test("an empty or blank filter has no clauses")
    func emptyFilter() throws {
        #expect(try SearchFilterParser.parse(nil, for: .runs).isEmpty)
        #expect(try SearchFilterParser.parse("   ", for: .runs).isEmpty)
    }

    @Test("metric, param, tag and attribute clauses joined by AND")
    func mixedClauses() throws {
        let clauses = try SearchFilterParser.parse(
            "metrics.acc > 0.9 and params.model = 'cnn' AND tags.team LIKE \"vis%\" AND attributes.status != 'FAILED'", for: .runs
        )
        #expect(clauses == [
            SearchClause(key: SearchKey(.metric, "acc"), comparator: .greater, value: .number(0.9)),
            SearchClause(key: SearchKey(.param, "model"), comparator: .equal, value: .string("cnn")),
            SearchClause(key: SearchKey(.tag, "team"), comparator: .like, value: .string("vis%")),
            SearchClause(key: SearchKey(.attribute, "status"), comparator: .notEqual, value: .string("FAILED")),
        ])
    }

    @Test("quoted keys with spaces and dots", arguments: [
        ("metrics.`my metric` <= -1.5e3", SearchKey(.metric, "my metric"), SearchValue.number(-1500)),
        ("tags.\"mlflow.prompt.is_prompt\" != 'true'", SearchKey(.tag, "mlflow.prompt.is_prompt"), .string("true")),
        ("params.a.b = 'x'", SearchKey(.param, "a.b"), .string("x")),
    ])
    func quotedKeys(filter: String, key: SearchKey, value: SearchValue) throws {
        let clauses = try SearchFilterParser.parse(filter, for: .runs)
        #expect(clauses.count == 1)
        #expect(clauses[0].key == key)
        #expect(clauses[0].value == value)
    }

    @Test("prefix aliases and attribute aliases")
    func aliases() throws {
        let c = try SearchFilterParser.parse(
            "metric.a = 1 AND param.b = 'x' AND tag.c = 'y' AND attr.created > 5 AND run_name = 'n' AND parameters.d = 'z'", for: .runs
        )
        #expect(c.map(\.key) == [
            SearchKey(.metric, "a"), SearchKey(.param, "b"), SearchKey(.tag, "c"), SearchKey(.attribute, "start_time"),
            SearchKey(.attribute, "run_name"), SearchKey(.param, "d"),
        ])
    }

    @Test("IN lists, IS NULL and IS NOT NULL")
    func listsAndNulls() throws {
        let c = try SearchFilterParser.parse(
            "attributes.run_id IN ('a', 'b') AND tags.x IS NULL AND params.y is not null AND datasets.name NOT IN ('d')", for: .runs
        )
        #expect(c[0].comparator == .in)
        #expect(c[0].value == .list(["a", "b"]))
        #expect(c[1].comparator == .isNull)
        #expect(c[2].comparator == .isNotNull)
        #expect(c[3] == SearchClause(key: SearchKey(.dataset, "name"), comparator: .notIn, value: .list(["d"])))
    }

    @Test("escaped quotes inside values")
    func escapedQuotes() throws {
        let c = try SearchFilterParser.parse("params.q = 'it''s'", for: .runs)
        #expect(c[0].value == .string("it's"))
    }

    @Test("malformed filters are INVALID_PARAMETER_VALUE", arguments: [
        "metrics.acc >",
        "metrics.acc > 1 OR metrics.b < 2",
        "params.a = 'unclosed",
        "metrics.acc = 'text'",
        "params.lr = 0.1",
        "foo.bar = 'x'",
        "attributes.nope = 'x'",
        "metrics.acc LIKE '1'",
        "tags.a IN ('x')",
        "attributes.status IN ('A')",
        "(metrics.a > 1)",
        "params.a = 'x' AND",
        "params.a = 'x'; DROP TABLE runs",
        "start_time > '5'",
        "metrics.a > 1abc",
    ])
    func malformed(filter: String) {
        #expect(throws: EnsembleError.self) { try SearchFilterParser.parse(filter, for: .runs) }
        do {
            _ = try SearchFilterParser.parse(filter, for: .runs)
        } catch {
            #expect(error.code == .invalidParameterValue)
        }
    }

    @Test("experiment filters accept tags and experiment attributes only")
    func experimentFilters() throws {
        let c = try SearchFilterParser.parse("name != 'a' AND tags.key ILIKE '%alu%' AND creation_time > 3", for: .experiments)
        #expect(c.map(\.key) == [SearchKey(.attribute, "name"), SearchKey(.tag, "key"), SearchKey(.attribute, "creation_time")])
        #expect(throws: EnsembleError.self) { try SearchFilterParser.parse("metrics.a > 1", for: .experiments) }
        #expect(throws: EnsembleError.self) { try SearchFilterParser.parse("run_name = 'x'", for: .experiments) }
    }

    @Test("order_by clauses", arguments: [
        ("metrics.loss DESC", SearchKey(.metric, "loss"), false),
        ("params.`a b` ASC", SearchKey(.param, "a b"), true),
        ("attributes.start_time", SearchKey(.attribute, "start_time"), true),
        ("Run name desc", SearchKey(.attribute, "run_name"), false),
        ("tags.t", SearchKey(.tag, "t"), true),
    ])
    func orderBy(text: String, key: SearchKey, ascending: Bool) throws {
        let o = try SearchFilterParser.parseOrderBy(text, for: .runs)
        #expect(o.key == key)
        #expect(o.ascending == ascending)
    }

    @Test("bad order_by clauses are refused", arguments: ["", "metrics.a DESC ASC", "datasets.name", "nope.x", "metrics.a SIDEWAYS"])
    func badOrderBy(text: String) {
        #expect(throws: EnsembleError.self) { try SearchFilterParser.parseOrderBy(text, for: .runs) }
    }
}
