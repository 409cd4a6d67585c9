import EnsembleCore
import Foundation
import Testing

@testable import EnsembleStore

@Suite("LoggedModelStore contract")
struct LoggedModelStoreTests {
    @Test("create, finalize, tag, param and delete a logged model", arguments: StoreBackend.all)
    func lifecycle(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let run = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "r", startTime: 1, tags: []))
        let created = try await store.createLoggedModel(
            NewLoggedModel(experimentID: "0", name: "model", modelType: "pyfunc", sourceRunID: run.info.runID,
                           params: [KeyValue(key: "alpha", value: "0.1")], tags: [KeyValue(key: "t", value: "1")])
        )
        #expect(LoggedModel.isValidID(created.modelID))
        #expect(created.status == .pending)
        #expect(created.artifactURI == "mlflow-artifacts:/0/models/\(created.modelID)/artifacts")
        #expect(created.params == [KeyValue(key: "alpha", value: "0.1")])
        let ready = try await store.finalizeLoggedModel(id: created.modelID, status: .ready)
        #expect(ready.status == .ready)
        try await store.setLoggedModelTags(id: created.modelID, tags: [KeyValue(key: "t", value: "2"), KeyValue(key: "u", value: "3")])
        try await store.deleteLoggedModelTag(id: created.modelID, key: "u")
        #expect(await errorCode { try await store.deleteLoggedModelTag(id: created.modelID, key: "u") } == .resourceDoesNotExist)
        try await store.logLoggedModelParams(id: created.modelID, params: [KeyValue(key: "beta", value: "2")])
        // Metrics logged with the model's id belong to the model.
        try await store.logBatch(runID: run.info.runID, metrics: [Metric(key: "acc", value: 0.8, timestamp: 5, step: 1, modelID: created.modelID)], params: [], tags: [])
        let got = try await store.loggedModel(id: created.modelID, allowDeleted: false)
        #expect(got.tags == [KeyValue(key: "t", value: "2")])
        #expect(got.params.map(\.key) == ["alpha", "beta"])
        #expect(got.metrics.map(\.value) == [0.8])
        #expect(got.metrics.first?.runID == run.info.runID)
        try await store.deleteLoggedModel(id: created.modelID)
        #expect(await errorCode { _ = try await store.loggedModel(id: created.modelID, allowDeleted: false) } == .resourceDoesNotExist)
        #expect(try await store.loggedModel(id: created.modelID, allowDeleted: true).lifecycleStage == .deleted)
        #expect(await errorCode { _ = try await store.finalizeLoggedModel(id: created.modelID, status: .ready) } == .resourceDoesNotExist)
    }

    @Test("creation needs an active experiment; an unknown source run is stored as given (as MLflow does)", arguments: StoreBackend.all)
    func creationRules(backend: StoreBackend) async throws {
        let store = try await backend.make()
        #expect(await errorCode { _ = try await store.createLoggedModel(NewLoggedModel(experimentID: "42", name: nil, modelType: nil, sourceRunID: nil, params: [], tags: [])) } == .resourceDoesNotExist)
        let orphan = try await store.createLoggedModel(NewLoggedModel(experimentID: "0", name: nil, modelType: nil, sourceRunID: "nope", params: [], tags: []))
        #expect(try await store.loggedModel(id: orphan.modelID, allowDeleted: false).sourceRunID == "nope")
        let unnamed = try await store.createLoggedModel(NewLoggedModel(experimentID: "0", name: nil, modelType: nil, sourceRunID: nil, params: [], tags: []))
        #expect(!unnamed.name.isEmpty)
    }

    @Test("search by name, source run, tags, params and metrics, with order and pages", arguments: StoreBackend.all)
    func search(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let run = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "r", startTime: 1, tags: []))
        var ids: [String] = []
        for (i, name) in ["alpha", "beta", "gamma"].enumerated() {
            let m = try await store.createLoggedModel(
                NewLoggedModel(experimentID: "0", name: name, modelType: nil, sourceRunID: i == 0 ? run.info.runID : nil,
                               params: [KeyValue(key: "k", value: "\(i)")], tags: [KeyValue(key: "team", value: i == 2 ? "nlp" : "vision")])
            )
            try await store.logBatch(runID: run.info.runID, metrics: [Metric(key: "acc", value: Double(i) / 2, timestamp: 1, step: 0, modelID: m.modelID)], params: [], tags: [])
            ids.append(m.modelID)
        }
        func names(_ filter: String, order: [String] = []) async throws -> [String] {
            let search = LoggedModelSearch(
                experimentIDs: ["0"], filter: try SearchFilterParser.parse(filter, for: .loggedModels),
                orderBy: try order.map { try SearchFilterParser.parseOrderBy($0, for: .loggedModels) }
            )
            return try await store.searchLoggedModels(search).items.map(\.name)
        }
        #expect(try await names("name = 'beta'") == ["beta"])
        #expect(try await names("source_run_id = '\(run.info.runID)'") == ["alpha"])
        #expect(try await names("tags.team = 'vision'", order: ["name DESC"]) == ["beta", "alpha"])
        #expect(try await names("params.k != '0'", order: ["name"]) == ["beta", "gamma"])
        #expect(try await names("metrics.acc >= 0.5", order: ["name"]) == ["beta", "gamma"])
        #expect(try await names("name LIKE '%a'", order: ["name ASC"]) == ["alpha", "beta", "gamma"])
        let first = try await store.searchLoggedModels(LoggedModelSearch(experimentIDs: ["0"], maxResults: 2))
        #expect(first.items.count == 2)
        let rest = try await store.searchLoggedModels(LoggedModelSearch(experimentIDs: ["0"], maxResults: 2, offset: try PageToken.decode(first.nextPageToken)))
        #expect(rest.items.count == 1 && rest.nextPageToken == nil)
        #expect(Set((first.items + rest.items).map(\.modelID)) == Set(ids))
    }
}
