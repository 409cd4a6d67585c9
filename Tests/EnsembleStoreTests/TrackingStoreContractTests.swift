import EnsembleCore
import Foundation
import Testing

@testable import EnsembleStore

/// Every store protocol a backend implements. The contract suites are written against these
/// protocols only, never against a concrete store, so a new backend runs the very same suites.
typealias BackendStore = any MetadataStore

/// The store implementations the contracts run against: SQLite and PostgreSQL.
typealias StoreBackend = Backend<BackendStore>

extension Backend where Store == any MetadataStore {
    static var all: [Backend] { sqliteAndPostgres({ $0 }, { $0 }) }
}

func errorCode(_ body: () async throws -> Void) async -> EnsembleError.Code? {
    do {
        try await body()
        return nil
    } catch let e as EnsembleError {
        return e.code
    } catch {
        return .internalError
    }
}

@Suite("TrackingStore contract")
struct TrackingStoreContractTests {
    // MARK: Experiments

    @Test("the Default experiment exists from the start", arguments: StoreBackend.all)
    func defaultExperiment(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let e = try await store.experiment(id: "0")
        #expect(e.name == "Default")
        #expect(e.lifecycleStage == .active)
        #expect(e.artifactLocation == "mlflow-artifacts:/0")
    }

    @Test("create, read by id and name, duplicates refused", arguments: StoreBackend.all)
    func experiments(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await store.createExperiment(name: "exp", artifactLocation: nil, tags: [KeyValue(key: "k", value: "v")])
        let e = try await store.experiment(id: id)
        #expect(e.name == "exp")
        #expect(e.tags == [KeyValue(key: "k", value: "v")])
        #expect(e.artifactLocation == "mlflow-artifacts:/\(id)")
        #expect(try await store.experiment(named: "exp")?.id == id)
        #expect(try await store.experiment(named: "nope") == nil)
        #expect(await errorCode { _ = try await store.createExperiment(name: "exp", artifactLocation: nil, tags: []) } == .resourceAlreadyExists)
        #expect(await errorCode { _ = try await store.experiment(id: "999") } == .resourceDoesNotExist)
    }

    @Test("deleting an experiment deletes its runs; restoring brings them back", arguments: StoreBackend.all)
    func deleteRestoreExperiment(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await store.createExperiment(name: "e", artifactLocation: nil, tags: [])
        let run = try await store.createRun(NewRun(experimentID: id, userID: "u", runName: "r", startTime: 1, tags: []))
        try await store.deleteExperiment(id: id)
        #expect(try await store.experiment(id: id).lifecycleStage == .deleted)
        #expect(try await store.run(id: run.info.runID).info.lifecycleStage == .deleted)
        #expect(await errorCode { _ = try await store.createRun(NewRun(experimentID: id, userID: "u", runName: nil, startTime: 1, tags: [])) } == .invalidParameterValue)
        #expect(await errorCode { try await store.renameExperiment(id: id, newName: "x") } == .invalidParameterValue)
        try await store.restoreExperiment(id: id)
        #expect(try await store.run(id: run.info.runID).info.lifecycleStage == .active)
        try await store.renameExperiment(id: id, newName: "renamed")
        #expect(try await store.experiment(id: id).name == "renamed")
    }

    @Test("experiment tags: upsert and delete", arguments: StoreBackend.all)
    func experimentTags(backend: StoreBackend) async throws {
        let store = try await backend.make()
        try await store.setExperimentTag(id: "0", tag: KeyValue(key: "a", value: "1"))
        try await store.setExperimentTag(id: "0", tag: KeyValue(key: "a", value: "2"))
        #expect(try await store.experiment(id: "0").tags == [KeyValue(key: "a", value: "2")])
        try await store.deleteExperimentTag(id: "0", key: "a")
        #expect(try await store.experiment(id: "0").tags.isEmpty)
        #expect(await errorCode { try await store.deleteExperimentTag(id: "0", key: "a") } == .resourceDoesNotExist)
    }

    @Test("search experiments: filters, order and pages", arguments: StoreBackend.all)
    func searchExperiments(backend: StoreBackend) async throws {
        let store = try await backend.make()
        for name in ["Abc", "ab", "a"] {
            _ = try await store.createExperiment(name: name, artifactLocation: nil, tags: name == "ab" ? [KeyValue(key: "key", value: "value")] : [])
        }
        let notA = try await store.searchExperiments(ExperimentSearch(filter: SearchFilterParser.parse("name != 'a'", for: .experiments)))
        // Creation times can tie within a millisecond, so only the set is certain here.
        #expect(Set(notA.items.map(\.name)) == ["ab", "Abc", "Default"])
        let tagged = try await store.searchExperiments(ExperimentSearch(filter: SearchFilterParser.parse("tags.key ILIKE '%ALU%'", for: .experiments)))
        #expect(tagged.items.map(\.name) == ["ab"])
        let byName = try await store.searchExperiments(ExperimentSearch(orderBy: [SearchFilterParser.parseOrderBy("name DESC", for: .experiments)]))
        #expect(byName.items.map(\.name) == ["ab", "a", "Default", "Abc"])
        var seen: [String] = []
        var offset = 0
        while true {
            let page = try await store.searchExperiments(ExperimentSearch(maxResults: 3, offset: offset))
            seen += page.items.map(\.name)
            guard let token = page.nextPageToken else { break }
            offset = try PageToken.decode(token)
        }
        #expect(seen.count == 4)
        #expect(Set(seen).count == 4)
    }

    // MARK: Runs

    @Test("a new run is RUNNING, active, named, and under its experiment's artifact location", arguments: StoreBackend.all)
    func createRun(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let run = try await store.createRun(NewRun(experimentID: "0", userID: "alice", runName: nil, startTime: 42, tags: []))
        #expect(run.info.status == .running)
        #expect(run.info.lifecycleStage == .active)
        #expect(run.info.endTime == nil)
        #expect(run.info.runID.count == 32)
        #expect(run.info.artifactURI == "mlflow-artifacts:/0/\(run.info.runID)/artifacts")
        #expect(!run.info.runName.isEmpty)
        #expect(run.tags.contains(KeyValue(key: "mlflow.runName", value: run.info.runName)))
        #expect(await errorCode { _ = try await store.run(id: "deadbeef") } == .resourceDoesNotExist)
        #expect(await errorCode { _ = try await store.createRun(NewRun(experimentID: "77", userID: "", runName: nil, startTime: 0, tags: [])) } == .resourceDoesNotExist)
    }

    @Test("update, rename by tag, delete and restore", arguments: StoreBackend.all)
    func updateRun(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "first", startTime: 1, tags: [])).info.runID
        let info = try await store.updateRun(id: id, RunUpdate(status: .finished, endTime: 99))
        #expect(info.status == .finished)
        #expect(info.endTime == 99)
        #expect(info.runName == "first")
        try await store.logBatch(runID: id, metrics: [], params: [], tags: [KeyValue(key: "mlflow.runName", value: "second")])
        #expect(try await store.run(id: id).info.runName == "second")
        _ = try await store.updateRun(id: id, RunUpdate(runName: "third"))
        let run = try await store.run(id: id)
        #expect(run.info.runName == "third")
        #expect(run.tags.contains(KeyValue(key: "mlflow.runName", value: "third")))
        try await store.deleteRun(id: id)
        #expect(await errorCode { try await store.logBatch(runID: id, metrics: [], params: [KeyValue(key: "p", value: "1")], tags: []) } == .invalidParameterValue)
        try await store.restoreRun(id: id)
        try await store.logBatch(runID: id, metrics: [], params: [KeyValue(key: "p", value: "1")], tags: [])
    }

    @Test("params are write-once; the same value again is fine", arguments: StoreBackend.all)
    func params(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "r", startTime: 1, tags: [])).info.runID
        try await store.logBatch(runID: id, metrics: [], params: [KeyValue(key: "lr", value: "0.1")], tags: [])
        try await store.logBatch(runID: id, metrics: [], params: [KeyValue(key: "lr", value: "0.1")], tags: [])
        #expect(await errorCode { try await store.logBatch(runID: id, metrics: [], params: [KeyValue(key: "lr", value: "0.2")], tags: []) } == .invalidParameterValue)
        // A failed batch changes nothing, not even its valid parts.
        #expect(await errorCode {
            try await store.logBatch(runID: id, metrics: [Metric(key: "m", value: 1, timestamp: 1)], params: [KeyValue(key: "lr", value: "0.3")], tags: [])
        } == .invalidParameterValue)
        let run = try await store.run(id: id)
        #expect(run.params == [KeyValue(key: "lr", value: "0.1")])
        #expect(run.metrics.isEmpty)
    }

    @Test("latest metric is the max of (step, timestamp, value); history is ordered and de-duplicated", arguments: StoreBackend.all)
    func metrics(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "r", startTime: 1, tags: [])).info.runID
        let points = [
            Metric(key: "loss", value: 0.5, timestamp: 10, step: 2),
            Metric(key: "loss", value: 0.9, timestamp: 5, step: 0),
            Metric(key: "loss", value: 0.7, timestamp: 20, step: 1),
            Metric(key: "loss", value: 0.5, timestamp: 10, step: 2),  // duplicate
        ]
        try await store.logBatch(runID: id, metrics: points, params: [], tags: [])
        try await store.logBatch(runID: id, metrics: [Metric(key: "loss", value: 0.1, timestamp: 99, step: 1)], params: [], tags: [])
        let run = try await store.run(id: id)
        #expect(run.metrics.map(\.value) == [0.5])
        #expect(run.metrics.first?.step == 2)
        let history = try await store.metricHistory(runID: id, key: "loss", limit: nil, offset: 0)
        #expect(history.items.map(\.step) == [0, 1, 1, 2])
        #expect(history.items.map(\.value) == [0.9, 0.7, 0.1, 0.5])
        #expect(history.nextPageToken == nil)
        #expect(try await store.metricHistory(runID: id, key: "other", limit: nil, offset: 0).items.isEmpty)
    }

    @Test("NaN and infinities are stored and returned", arguments: StoreBackend.all)
    func specialValues(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "r", startTime: 1, tags: [])).info.runID
        try await store.logBatch(
            runID: id,
            metrics: [
                Metric(key: "n", value: .nan, timestamp: 1, step: 0), Metric(key: "p", value: .infinity, timestamp: 1, step: 0),
                Metric(key: "q", value: -.infinity, timestamp: 1, step: 0),
            ],
            params: [], tags: []
        )
        let run = try await store.run(id: id)
        let byKey = Dictionary(uniqueKeysWithValues: run.metrics.map { ($0.key, $0.value) })
        #expect(byKey["n"]!.isNaN)
        #expect(byKey["p"] == .infinity)
        #expect(byKey["q"] == -.infinity)
        #expect(try await store.metricHistory(runID: id, key: "n", limit: nil, offset: 0).items.first!.value.isNaN)
    }

    @Test("metric history pages", arguments: StoreBackend.all)
    func historyPages(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "r", startTime: 1, tags: [])).info.runID
        try await store.logBatch(runID: id, metrics: (0..<1000).map { Metric(key: "m", value: Double($0), timestamp: 1, step: Int64($0)) }, params: [], tags: [])
        var steps: [Int64] = []
        var offset = 0
        var pages = 0
        while true {
            let page = try await store.metricHistory(runID: id, key: "m", limit: 300, offset: offset)
            steps += page.items.map(\.step)
            pages += 1
            guard let token = page.nextPageToken else { break }
            offset = try PageToken.decode(token)
        }
        #expect(pages == 4)
        #expect(steps == (0..<1000).map(Int64.init))
    }

    @Test("history at a real shape: points logged in many requests, out of order, retried, with NaN, infinities and model contexts, come back sorted and once each",
          arguments: StoreBackend.all)
    func historyRandomised(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "r", startTime: 1, tags: [])).info.runID
        let model = try await store.createLoggedModel(NewLoggedModel(experimentID: "0", name: "m", modelType: nil, sourceRunID: id, params: [], tags: [])).modelID
        var rng = SplitMix(seed: 42)
        let key = "train/loss.per_token.ema"
        let special: [Double] = [.nan, .infinity, -.infinity, 0, -0.5]
        var points: [Metric] = []
        for i in 0..<2500 {
            let step = Int64(rng.next() % 800)
            let value = i % 97 == 0 ? special[Int(rng.next() % 5)] : Double(rng.next() % 1000) / 8
            points.append(Metric(key: key, value: value, timestamp: 1_700_000_000_000 + Int64(rng.next() % 50), step: step,
                                 modelID: i % 11 == 0 ? model : nil))
            if i % 50 == 49 { points.append(points[i / 2]) }  // the same point again, in another request
        }
        // Requests of 1 to 1000 points in a shuffled order; a tenth of them sent twice (a client's retry).
        var requests: [[Metric]] = []
        var at = 0
        while at < points.count {
            let n = [1, 7, 300, 1000][Int(rng.next() % 4)]
            requests.append(Array(points[at..<min(points.count, at + n)]))
            at += n
        }
        requests += requests.enumerated().filter { $0.offset % 10 == 3 }.map(\.element)
        requests.shuffle(using: &rng)
        for r in requests { try await store.logBatch(runID: id, metrics: r, params: [], tags: []) }

        // Expected: sorted by step, timestamp and value (NaN as 0, after a real 0), identical points once.
        func before(_ a: Metric, _ b: Metric) -> Bool {
            let (x, y) = (a.value.isNaN ? 0 : a.value, b.value.isNaN ? 0 : b.value)
            return (a.step, a.timestamp, x, a.value.isNaN ? 1 : 0) < (b.step, b.timestamp, y, b.value.isNaN ? 1 : 0)
        }
        struct Point: Hashable { let step: Int64, timestamp: Int64, value: String }
        func point(_ m: Metric) -> Point { Point(step: m.step, timestamp: m.timestamp, value: m.value.isNaN ? "nan" : "\(m.value)") }
        var seen = Set<Point>()
        let expected = points.sorted(by: before).filter { seen.insert(point($0)).inserted }
        #expect(expected.count < points.count, "the case has identical points")

        let history = try await store.metricHistory(runID: id, key: key, limit: nil, offset: 0).items
        #expect(history.map(point) == expected.map(point))
        #expect(history.allSatisfy { $0.key == key })
        // Paged in pages of 333, the same sequence.
        var paged: [Metric] = []
        var offset = 0
        while true {
            let page = try await store.metricHistory(runID: id, key: key, limit: 333, offset: offset)
            paged += page.items
            guard let token = page.nextPageToken else { break }
            offset = try PageToken.decode(token)
        }
        #expect(paged.map(point) == expected.map(point))
        // The latest value is the largest point, and points logged with the model carry it.
        #expect(try await store.run(id: id).metrics.first.map(point) == expected.last.map(point))
        #expect(history.contains { $0.modelID == model })
        // A series logged in order, in requests of 1 to 1000 points, one of them retried later: pages
        // of 97 walk it exactly (PostgreSQL skips the chunks before a page by their counts).
        let gpu = "system/gpu_0_utilization_percentage"
        var series: [[Metric]] = []
        var step: Int64 = 0
        for _ in 0..<40 {
            let n = [1, 13, 250, 1000][Int(rng.next() % 4)]
            series.append((0..<n).map { i in Metric(key: gpu, value: Double((step + Int64(i)) % 101), timestamp: 5, step: step + Int64(i)) })
            step += Int64(n)
        }
        series.insert(series[17], at: 30)
        for r in series { try await store.logBatch(runID: id, metrics: r, params: [], tags: []) }
        var walked: [Metric] = []
        offset = 0
        while true {
            let page = try await store.metricHistory(runID: id, key: gpu, limit: 97, offset: offset)
            walked += page.items
            guard let token = page.nextPageToken else { break }
            offset = try PageToken.decode(token)
        }
        #expect(walked.map(\.step) == Array(0..<step))
        #expect(try await store.metricHistory(runID: id, key: gpu, limit: 10, offset: Int(step)).items.isEmpty)

        // Bulk interval over the same points: each chosen step's points, in order.
        let sampled = try await store.metricHistoryBulkInterval(runIDs: [id], key: key, startStep: 100, endStep: 200, maxResults: 1000)
        #expect(sampled.map(point) == expected.filter { (100...200).contains($0.step) }.map(point))
    }

    @Test("bulk interval history samples steps per run, keeping the ends", arguments: StoreBackend.all)
    func bulkInterval(backend: StoreBackend) async throws {
        let store = try await backend.make()
        var ids: [String] = []
        for _ in 0..<2 {
            let id = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: nil, startTime: 1, tags: [])).info.runID
            try await store.logBatch(runID: id, metrics: (0..<100).map { Metric(key: "m", value: Double($0), timestamp: 1, step: Int64($0)) }, params: [], tags: [])
            ids.append(id)
        }
        let all = try await store.metricHistoryBulkInterval(runIDs: ids, key: "m", startStep: nil, endStep: nil, maxResults: 10)
        // MLflow's choice: every tenth step of 100, plus the last.
        #expect(all.filter { $0.runID == ids[0] }.map(\.step) == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99])
        #expect(all.count == 22)
        let window = try await store.metricHistoryBulkInterval(runIDs: [ids[1]], key: "m", startStep: 10, endStep: 20, maxResults: 100)
        #expect(window.map(\.step) == (10...20).map(Int64.init))
    }

    @Test("inputs and outputs", arguments: StoreBackend.all)
    func inputs(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "r", startTime: 1, tags: [])).info.runID
        let ds = Dataset(name: "d", digest: "abc", sourceType: "http", source: "{\"url\": \"x\"}", schema: nil, profile: "{}")
        try await store.logInputs(runID: id, datasets: [DatasetInput(dataset: ds, tags: [KeyValue(key: "mlflow.data.context", value: "training")])], modelIDs: ["m-1"])
        try await store.logInputs(runID: id, datasets: [DatasetInput(dataset: ds, tags: [KeyValue(key: "mlflow.data.context", value: "training")])], modelIDs: [])
        try await store.logOutputs(runID: id, models: [ModelOutput(modelID: "m-2", step: 3)])
        let run = try await store.run(id: id)
        #expect(run.datasetInputs.count == 1)
        #expect(run.datasetInputs[0].dataset == ds)
        #expect(run.datasetInputs[0].context == "training")
        #expect(run.modelInputs == ["m-1"])
        #expect(run.modelOutputs == [ModelOutput(modelID: "m-2", step: 3)])
        let summaries = try await store.datasetSummaries(experimentIDs: ["0"])
        #expect(summaries == [DatasetSummary(experimentID: "0", name: "d", digest: "abc", context: "training")])
    }

    @Test("a page of runs gives each run its own params, tags, metrics, inputs and outputs", arguments: StoreBackend.all)
    func pageOfRunsKeepsEachRunsParts(backend: StoreBackend) async throws {
        let store = try await backend.make()
        struct Expected {
            var id = "", params: [KeyValue] = [], tags: [KeyValue] = [], metrics: [Metric] = []
            var inputs: [DatasetInput] = [], modelInputs: [String] = [], outputs: [ModelOutput] = []
        }
        var expected: [Expected] = []
        // Twelve runs of different shapes: some with nothing attached, some with many values, a dataset
        // with a schema and no profile and one with both, unicode and long dotted keys.
        for i in 0..<12 {
            let id = try await store.createRun(
                NewRun(experimentID: "0", userID: "user-\(i)", runName: "run.\(i)", startTime: Int64(1_000 + i), tags: [])
            ).info.runID
            var e = Expected(id: id)
            if i % 3 != 0 {
                e.params = (0..<(i * 7)).map { KeyValue(key: "optimizer.adamw.group_\(i).param_\($0)", value: "v\(i)-\($0)-é") }
                e.tags = [KeyValue(key: "team", value: "vision-\(i)"), KeyValue(key: "τ.\(i)", value: "")]
                e.metrics = (0..<(i + 1)).map { Metric(key: "train/loss.\($0)", value: $0 == 2 ? .nan : Double(i) + Double($0) / 8, timestamp: Int64(i), step: Int64($0)) }
                try await store.logBatch(runID: id, metrics: e.metrics, params: e.params, tags: e.tags)
            }
            if i % 4 == 1 {
                let a = Dataset(name: "corpus-\(i)", digest: "d\(i)", sourceType: "s3", source: "{\"uri\": \"s3://b/\(i)\"}", schema: "{\"f\": \(i)}", profile: nil)
                let b = Dataset(name: "eval-\(i)", digest: "e\(i)", sourceType: "http", source: "{}", schema: "{}", profile: "{\"rows\": \(i)}")
                e.inputs = [
                    DatasetInput(dataset: a, tags: [KeyValue(key: "mlflow.data.context", value: "train")]),
                    DatasetInput(dataset: b, tags: [KeyValue(key: "mlflow.data.context", value: "eval"), KeyValue(key: "split", value: "\(i)")]),
                ]
                e.modelInputs = ["m-in-\(i)"]
                try await store.logInputs(runID: id, datasets: e.inputs, modelIDs: e.modelInputs)
                e.outputs = [ModelOutput(modelID: "m-out-\(i)", step: Int64(i))]
                try await store.logOutputs(runID: id, models: e.outputs)
            }
            expected.append(e)
        }
        let page = try await store.searchRuns(RunSearch(experimentIDs: ["0"], maxResults: 100)).items
        #expect(page.map(\.info.runID) == expected.reversed().map(\.id))
        let byKey = { (x: KeyValue, y: KeyValue) in x.key.utf8.lexicographicallyPrecedes(y.key.utf8) }
        for run in page {
            let e = try #require(expected.first { $0.id == run.info.runID })
            #expect(run.info.userID == "user-\(expected.firstIndex { $0.id == e.id }!)")
            #expect(run.params == e.params.sorted(by: byKey))
            #expect(run.tags.filter { !$0.key.hasPrefix("mlflow.") } == e.tags.sorted(by: byKey))
            let latest = run.metrics.map { "\($0.key)=\($0.value.isNaN ? "nan" : String($0.value))@\($0.step)" }
            let wanted = e.metrics.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { "\($0.key)=\($0.value.isNaN ? "nan" : String($0.value))@\($0.step)" }
            #expect(latest == wanted)
            #expect(run.datasetInputs.map(\.dataset) == e.inputs.map(\.dataset))
            #expect(run.datasetInputs.map { $0.tags.sorted(by: byKey) } == e.inputs.map { $0.tags.sorted(by: byKey) })
            #expect(run.modelInputs == e.modelInputs)
            #expect(run.modelOutputs == e.outputs)
            // The page reads each run as reading it alone does.
            let alone = try await store.run(id: e.id)
            #expect(alone.params == run.params && alone.tags == run.tags && alone.datasetInputs == run.datasetInputs && alone.modelOutputs == run.modelOutputs)
        }
    }

    // MARK: Search

    /// Five runs with known data for the search tests.
    func seed(_ store: any TrackingStore) async throws -> [String] {
        let rows: [(name: String, acc: Double?, model: String, team: String?, status: RunStatus)] = [
            ("r0", 0.9, "cnn", "vision", .finished),
            ("r1", 0.4, "cnn", "Vision", .failed),
            ("r2", 0.7, "rnn", nil, .finished),
            ("r3", nil, "mlp", "nlp", .running),
            ("r4", .nan, "rnn", "vis_ion", .finished),
        ]
        var ids: [String] = []
        for (i, r) in rows.enumerated() {
            let id = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: r.name, startTime: Int64(100 + i), tags: [])).info.runID
            try await store.logBatch(
                runID: id,
                metrics: r.acc.map { [Metric(key: "acc", value: $0, timestamp: 1, step: 0)] } ?? [],
                params: [KeyValue(key: "model", value: r.model)],
                tags: r.team.map { [KeyValue(key: "team", value: $0)] } ?? []
            )
            _ = try await store.updateRun(id: id, RunUpdate(status: r.status))
            ids.append(id)
        }
        return ids
    }

    func names(_ store: any TrackingStore, _ filter: String, orderBy: [String] = [], view: ViewType = .activeOnly) async throws -> [String] {
        let search = RunSearch(
            experimentIDs: ["0"], filter: try SearchFilterParser.parse(filter, for: .runs),
            orderBy: try orderBy.map { try SearchFilterParser.parseOrderBy($0, for: .runs) }, viewType: view
        )
        return try await store.searchRuns(search).items.map(\.info.runName)
    }

    @Test("search runs by metrics, params, tags and attributes", arguments: StoreBackend.all)
    func searchRuns(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let ids = try await seed(store)
        // Default order: start_time DESC.
        #expect(try await names(store, "") == ["r4", "r3", "r2", "r1", "r0"])
        #expect(try await names(store, "metrics.acc > 0.5") == ["r2", "r0"])
        #expect(try await names(store, "metrics.acc != 0.4") == ["r2", "r0"])
        #expect(try await names(store, "params.model = 'cnn'") == ["r1", "r0"])
        #expect(try await names(store, "params.model != 'cnn'") == ["r4", "r3", "r2"])
        #expect(try await names(store, "tags.team LIKE 'vis%'") == ["r4", "r0"])
        #expect(try await names(store, "tags.team LIKE 'vis_ion'") == ["r4"])
        #expect(try await names(store, "tags.team ILIKE 'VIS%'") == ["r4", "r1", "r0"])
        #expect(try await names(store, "tags.team IS NULL") == ["r2"])
        #expect(try await names(store, "tags.team IS NOT NULL AND params.model = 'rnn'") == ["r4"])
        #expect(try await names(store, "tags.team != 'nlp'") == ["r4", "r1", "r0"])
        #expect(try await names(store, "attributes.status = 'FINISHED'") == ["r4", "r2", "r0"])
        #expect(try await names(store, "attributes.run_name = 'r3'") == ["r3"])
        #expect(try await names(store, "attributes.start_time >= 103") == ["r4", "r3"])
        #expect(try await names(store, "attributes.run_id IN ('\(ids[0])', '\(ids[2])')") == ["r2", "r0"])
        #expect(try await names(store, "attributes.run_id NOT IN ('\(ids[0])')").count == 4)
        // Injection attempts are just strings that match nothing.
        #expect(try await names(store, "params.model = 'x'' OR 1=1 --'").isEmpty)
    }

    @Test("order by metrics puts missing last and NaN after numbers", arguments: StoreBackend.all)
    func orderRuns(backend: StoreBackend) async throws {
        let store = try await backend.make()
        _ = try await seed(store)
        #expect(try await names(store, "", orderBy: ["metrics.acc DESC"]) == ["r0", "r2", "r1", "r4", "r3"])
        #expect(try await names(store, "", orderBy: ["metrics.acc ASC"]) == ["r1", "r2", "r0", "r4", "r3"])
        #expect(try await names(store, "", orderBy: ["params.model ASC", "attributes.start_time ASC"]) == ["r0", "r1", "r3", "r2", "r4"])
        #expect(try await names(store, "", orderBy: ["tags.team DESC"]).last == "r2")
        #expect(try await names(store, "", orderBy: ["attributes.run_name DESC"]) == ["r4", "r3", "r2", "r1", "r0"])
    }

    @Test("group runs by a param, tag or attribute with metric mean, min and max", arguments: StoreBackend.all)
    func groupRuns(backend: StoreBackend) async throws {
        let store = try await backend.make()
        _ = try await seed(store)
        let all = RunSearch(experimentIDs: ["0"])
        let byModel = try await store.groupRuns(all, by: SearchKey(.param, "model"), metrics: ["acc", "absent"], limit: 10)
        // Largest group first; NaN (r4) and a missing value (r3) are left out of the summary, not counted as numbers.
        #expect(byModel.map(\.value) == ["cnn", "rnn", "mlp"])
        #expect(byModel.map(\.runs) == [2, 2, 1])
        let cnn = try #require(byModel[0].metrics["acc"])
        #expect(cnn.count == 2 && abs(cnn.mean - 0.65) < 1e-12 && cnn.min == 0.4 && cnn.max == 0.9)
        #expect(byModel[1].metrics["acc"] == RunGroup.Summary(count: 1, mean: 0.7, min: 0.7, max: 0.7))
        #expect(byModel[2].metrics.isEmpty && byModel[0].metrics["absent"] == nil)
        // Runs without the tag form the nil group; the filter applies before grouping.
        let byTeam = try await store.groupRuns(all, by: SearchKey(.tag, "team"), metrics: [], limit: 10)
        #expect(byTeam.reduce(0) { $0 + $1.runs } == 5 && byTeam.contains { $0.value == nil && $0.runs == 1 })
        let filtered = RunSearch(experimentIDs: ["0"], filter: try SearchFilterParser.parse("metrics.acc > 0.5", for: .runs))
        #expect(try await store.groupRuns(filtered, by: SearchKey(.param, "model"), metrics: ["acc"], limit: 10).map(\.value) == ["cnn", "rnn"])
        let byStatus = try await store.groupRuns(all, by: SearchKey(.attribute, "status"), metrics: ["acc"], limit: 1)
        #expect(byStatus.count == 1 && byStatus[0].value == "FINISHED" && byStatus[0].runs == 3)
        #expect(await errorCode { _ = try await store.groupRuns(all, by: SearchKey(.metric, "acc"), metrics: [], limit: 10) } == .invalidParameterValue)
    }

    @Test("view types and pagination without duplicates", arguments: StoreBackend.all)
    func viewTypesAndPages(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let ids = try await seed(store)
        try await store.deleteRun(id: ids[1])
        #expect(try await names(store, "").count == 4)
        #expect(try await names(store, "", view: .deletedOnly) == ["r1"])
        #expect(try await names(store, "", view: .all).count == 5)
        // Same start time for many runs: the run id breaks ties, so pages never overlap.
        for _ in 0..<7 { _ = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: nil, startTime: 500, tags: [])) }
        var seen: [String] = []
        var offset = 0
        while true {
            let page = try await store.searchRuns(RunSearch(experimentIDs: ["0"], maxResults: 3, offset: offset))
            seen += page.items.map(\.info.runID)
            guard let token = page.nextPageToken else { break }
            offset = try PageToken.decode(token)
        }
        #expect(seen.count == 11)
        #expect(Set(seen).count == 11)
        // A page exactly as long as what is left says no page follows; past the end, and a filter that
        // matches nothing, give no runs and no token.
        let whole = try await store.searchRuns(RunSearch(experimentIDs: ["0"], maxResults: 11))
        #expect(whole.items.map(\.info.runID) == seen && whole.nextPageToken == nil)
        let last = try await store.searchRuns(RunSearch(experimentIDs: ["0"], maxResults: 1, offset: 10))
        #expect(last.items.map(\.info.runID) == [seen[10]] && last.nextPageToken == nil)
        let past = try await store.searchRuns(RunSearch(experimentIDs: ["0"], maxResults: 5, offset: 40))
        #expect(past.items.isEmpty && past.nextPageToken == nil)
        let none = try await store.searchRuns(RunSearch(experimentIDs: ["0"], filter: try SearchFilterParser.parse("params.model = 'absent'", for: .runs)))
        #expect(none.items.isEmpty && none.nextPageToken == nil)
    }

    @Test("many concurrent writers to one run: no errors, nothing lost", arguments: StoreBackend.all)
    func concurrentWriters(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "r", startTime: 1, tags: [])).info.runID
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<32 {
                group.addTask {
                    for i in 0..<50 {
                        try await store.logBatch(
                            runID: id, metrics: [Metric(key: "m", value: Double(i), timestamp: Int64(writer), step: Int64(writer * 1000 + i))],
                            params: [], tags: []
                        )
                    }
                }
            }
            try await group.waitForAll()
        }
        let history = try await store.metricHistory(runID: id, key: "m", limit: nil, offset: 0)
        #expect(history.items.count == 32 * 50)
        let latest = try await store.run(id: id).metrics
        #expect(latest.map(\.step) == [31_049])
        #expect(latest.map(\.value) == [49])
    }

    @Test("data survives reopening the database", arguments: StoreBackend.all)
    func reopen(backend: StoreBackend) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-reopen-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("db.sqlite").path
        var id = ""
        do {
            let store = try SQLiteStore(path: path)
            id = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "keep", startTime: 1, tags: [])).info.runID
        }
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.run(id: id).info.runName == "keep")
        #expect(try await reopened.experiment(id: "0").name == "Default")
    }
}

/// A small seeded generator, so a randomised case is the same on every run.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
