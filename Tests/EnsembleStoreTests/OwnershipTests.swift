import EnsembleCore
import Foundation
import Testing

@testable import EnsembleStore

@Suite("TrackingStore contract: what owns a run or a logged model")
struct OwnershipTests {
    @Test("experimentID(owning:) finds the experiment of a run and of a logged model, nil for anything else", arguments: StoreBackend.all)
    func owner(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let experiment = try await store.createExperiment(name: "owned", artifactLocation: nil, tags: [])
        let run = try await store.createRun(NewRun(experimentID: experiment, userID: "u", runName: "r", startTime: 1, tags: [])).info.runID
        let model = try await store.createLoggedModel(
            NewLoggedModel(experimentID: experiment, name: "m", modelType: nil, sourceRunID: run, params: [], tags: []))
        #expect(try await store.experimentID(owning: run) == experiment)
        #expect(try await store.experimentID(owning: model.modelID) == experiment)
        #expect(try await store.experimentID(owning: "no-such-thing") == nil)
        // A deleted run still has its owner: restoring it is a MANAGE decision on that experiment.
        try await store.deleteRun(id: run)
        #expect(try await store.experimentID(owning: run) == experiment)
    }
}
