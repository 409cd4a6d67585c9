import Testing

@testable import EnsembleCore

@Suite("Validation")
struct ValidationTests {
    @Test("accepted keys", arguments: ["loss", "train/loss", "a.b-c d:e", "é_ü", "x1"])
    func goodKeys(key: String) throws {
        try Validation.validateKey(key, kind: "metric")
    }

    @Test("refused keys", arguments: ["a$b", "../x", "/abs", "a//b", "a/./b", "a/..", ".", "..a", "a/", "a\\b", "a\u{0}b", String(repeating: "k", count: 251)])
    func badKeys(key: String) {
        #expect(throws: EnsembleError.self) { try Validation.validateKey(key, kind: "metric") }
    }

    @Test("long param and tag values are truncated, not refused")
    func truncation() throws {
        let p = try Validation.validateParam(KeyValue(key: "p", value: String(repeating: "v", count: 7000)))
        #expect(p.value.count == Validation.maxParamValueLength)
        let t = try Validation.validateRunTag(KeyValue(key: "t", value: String(repeating: "v", count: 9000)))
        #expect(t.value.count == Validation.maxRunTagValueLength)
    }

    @Test("experiment tags over the limit are refused")
    func experimentTagLimit() {
        #expect(throws: EnsembleError.self) {
            try Validation.validateExperimentTag(KeyValue(key: "k", value: String(repeating: "v", count: 20001)))
        }
    }

    @Test("batch limits")
    func batchLimits() throws {
        try Validation.validateBatchLimits(metrics: 1000, params: 0, tags: 0)
        #expect(throws: EnsembleError.self) { try Validation.validateBatchLimits(metrics: 1001, params: 0, tags: 0) }
        #expect(throws: EnsembleError.self) { try Validation.validateBatchLimits(metrics: 0, params: 101, tags: 0) }
        #expect(throws: EnsembleError.self) { try Validation.validateBatchLimits(metrics: 900, params: 100, tags: 1) }
    }

    @Test("duplicate param keys in one batch")
    func duplicateParams() {
        #expect(throws: EnsembleError.self) {
            try Validation.validateUniqueParamKeys([KeyValue(key: "a", value: "1"), KeyValue(key: "a", value: "1")])
        }
    }

    @Test("run and experiment ids")
    func ids() throws {
        try Validation.validateRunID("0f21abc")
        try Validation.validateRunID("a-b_c")
        #expect(throws: EnsembleError.self) { try Validation.validateRunID("-x") }
        #expect(throws: EnsembleError.self) { try Validation.validateRunID("../etc") }
        #expect(throws: EnsembleError.self) { try Validation.validateRunID("") }
        try Validation.validateExperimentID("12")
        #expect(throws: EnsembleError.self) { try Validation.validateExperimentID("1x") }
        #expect(throws: EnsembleError.self) { try Validation.validateExperimentID("-1") }
    }

    @Test("negative timestamps are refused; negative steps are fine")
    func metrics() throws {
        try Validation.validateMetric(Metric(key: "m", value: .nan, timestamp: 0, step: -5))
        #expect(throws: EnsembleError.self) { try Validation.validateMetric(Metric(key: "m", value: 1, timestamp: -1)) }
    }
}

@Suite("Page tokens")
struct PageTokenTests {
    @Test("round trip")
    func roundTrip() throws {
        #expect(try PageToken.decode(PageToken.encode(offset: 12345)) == 12345)
        #expect(try PageToken.decode(nil) == 0)
        #expect(try PageToken.decode("") == 0)
    }

    @Test("forged and malformed tokens are refused", arguments: [
        "not base64!", "eyJvZmZzZXQiOiAtMX0=", /* {"offset": -1} */ "eyJvZmZzZXQiOiAiYSJ9", /* {"offset": "a"} */
        "e30=", /* {} */ String(repeating: "A", count: 400), "eyJvZmZzZXQiOiA5OTk5OTk5OTk5OTk5fQ==", /* huge */
    ])
    func forged(token: String) {
        #expect(throws: EnsembleError.self) { try PageToken.decode(token) }
    }

    @Test("paging keeps limit items and makes a token only when more remain")
    func page() {
        let p = PageToken.page([1, 2, 3, 4], offset: 10, limit: 3)
        #expect(p.items == [1, 2, 3])
        #expect(p.nextPageToken == PageToken.encode(offset: 13))
        #expect(PageToken.page([1, 2, 3], offset: 0, limit: 3).nextPageToken == nil)
    }
}

@Suite("Metric sampling")
struct MetricSamplingTests {
    @Test("short series are returned whole")
    func short() {
        #expect(MetricSampling.sampleSteps(runSteps: [[1, 2, 3]], start: nil, end: nil, maxResults: 5) == [1, 2, 3])
    }

    @Test("ten steps with max_results 5 are 0, 2, 4, 6, 8, 9 — MLflow 3.17's own expectation")
    func mlflowCase() {
        #expect(MetricSampling.sampleSteps(runSteps: [Array(0..<10)], start: nil, end: nil, maxResults: 5) == [0, 2, 4, 6, 8, 9])
        #expect(MetricSampling.sampleSteps(runSteps: [Array(0..<10)], start: 2, end: 7, maxResults: 3) == [2, 4, 6, 7])
    }

    @Test("steps come from all runs; each run keeps its own first and last step in range")
    func runsAndEnds() {
        let a: [Int64] = Array(0..<1000)
        let b: [Int64] = [3, 500, 997]
        let s = MetricSampling.sampleSteps(runSteps: [a, b], start: nil, end: nil, maxResults: 10)
        #expect(s == [0, 3, 100, 200, 300, 400, 500, 600, 700, 800, 900, 997, 999])
        #expect(MetricSampling.sampleSteps(runSteps: [a], start: nil, end: nil, maxResults: 1) == [0, 999])
        #expect(MetricSampling.sampleSteps(runSteps: [[], []], start: nil, end: nil, maxResults: 5) == [])
        #expect(MetricSampling.sampleSteps(runSteps: [a], start: 2000, end: 3000, maxResults: 5) == [])
    }
}

@Suite("Display names")
struct DisplayNameTests {
    @Test("invisible, control and text-direction characters are refused, with the character named", arguments: [
        "x\u{0}y", "a\u{202E}b", "admin\u{200B}", "\u{FEFF}name", "tab\there", "line\nbreak", "mark\u{200F}", "iso\u{2066}late", "c1\u{85}",
    ])
    func hidden(name: String) {
        #expect(throws: EnsembleError.self) { try Validation.validateDisplayName(name, field: "name", maxLength: 100) }
        #expect(throws: EnsembleError.self) { try Validation.validateExperimentName(name) }
        #expect(throws: EnsembleError.self) { try Validation.validateModelName(name) }
    }

    @Test("ordinary names in any script pass, emoji sequences with joiners included", arguments: [
        "churn-model v2", "café", "模型实验", "مدل", "👩‍🔬 lab", "model.decoder.block.12.self_attention",
    ])
    func visible(name: String) throws {
        try Validation.validateDisplayName(name, field: "name", maxLength: 100)
        try Validation.validateExperimentName(name)
    }

    @Test("length limits hold on people and projects")
    func lengths() {
        var p = Person(id: String(repeating: "a", count: 10_000), name: "A", email: "a@b.c")
        #expect(throws: EnsembleError.self) { try p.validate(knownRoles: []) }
        p.id = "a"
        p.name = String(repeating: "n", count: 10_000)
        #expect(throws: EnsembleError.self) { try p.validate(knownRoles: []) }
        p.name = "Ada"
        #expect(throws: Never.self) { try p.validate(knownRoles: []) }
    }
}
