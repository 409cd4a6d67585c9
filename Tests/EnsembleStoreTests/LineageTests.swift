import EnsembleCore
import Foundation
import Testing

@testable import EnsembleStore

@Suite("Lineage")
struct LineageTests {
    /// Two runs trained on the same dataset version; the first logged a model that was registered.
    func fixture(_ backend: StoreBackend) async throws -> (store: BackendStore, builder: LineageBuilder, run1: String, run2: String, model1: String, model2: String) {
        let store = try await backend.make()
        let data = DatasetInput(
            dataset: Dataset(name: "train", digest: "abc", sourceType: "local", source: "{}"),
            tags: [KeyValue(key: "mlflow.data.context", value: "training")]
        )
        let eval = DatasetInput(
            dataset: Dataset(name: "holdout", digest: "def", sourceType: "local", source: "{}"),
            tags: [KeyValue(key: "mlflow.data.context", value: "evaluation")]
        )
        let run1 = try await store.createRun(
            NewRun(experimentID: "0", userID: "u", runName: "first \"quoted\"", startTime: 1, tags: [KeyValue(key: "mlflow.source.git.commit", value: "c0ffee")])
        ).info.runID
        let run2 = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "second", startTime: 2, tags: [])).info.runID
        try await store.logInputs(runID: run1, datasets: [data, eval], modelIDs: [])
        try await store.logInputs(runID: run2, datasets: [data], modelIDs: [])
        let model1 = try await store.createLoggedModel(NewLoggedModel(experimentID: "0", name: "m1", modelType: nil, sourceRunID: run1, params: [], tags: [])).modelID
        let model2 = try await store.createLoggedModel(NewLoggedModel(experimentID: "0", name: "m2", modelType: nil, sourceRunID: run2, params: [], tags: [])).modelID
        try await store.logOutputs(runID: run1, models: [ModelOutput(modelID: model1, step: 0)])
        try await store.logOutputs(runID: run2, models: [ModelOutput(modelID: model2, step: 0)])
        _ = try await store.createRegisteredModel(name: "churn", description: nil, tags: [])
        _ = try await store.createModelVersion(
            NewModelVersion(name: "churn", source: "models:/\(model1)", storageLocation: "x", runID: run1, runLink: nil, modelID: model1, description: nil, tags: []), actor: nil
        )
        let builder = LineageBuilder(tracking: store, models: store, registry: store, datasets: store)
        return (store, builder, run1, run2, model1, model2)
    }

    @Test("a model version's graph reaches its run, code, data, and the other users of that data", arguments: StoreBackend.all)
    func fromModelVersion(backend: StoreBackend) async throws {
        let f = try await fixture(backend)
        let g = try await f.builder.graph(from: .modelVersion(name: "churn", version: 1))
        let ids = Set(g.nodes.map(\.id))
        #expect(ids == [
            "model_version:churn/1", "logged_model:\(f.model1)", "run:\(f.run1)", "code:c0ffee", "dataset:train@abc", "dataset:holdout@def",
            "run:\(f.run2)", "logged_model:\(f.model2)",
        ])
        let edges = Set(g.edges.map { "\($0.from) -\($0.relation)-> \($0.to)" })
        #expect(edges.contains("model_version:churn/1 -registered_from-> logged_model:\(f.model1)"))
        #expect(edges.contains("logged_model:\(f.model1) -produced_by-> run:\(f.run1)"))
        #expect(edges.contains("run:\(f.run1) -code_version-> code:c0ffee"))
        #expect(edges.contains("run:\(f.run1) -trained_on-> dataset:train@abc"))
        #expect(edges.contains("run:\(f.run1) -evaluated_on-> dataset:holdout@def"))
        #expect(edges.contains("run:\(f.run2) -trained_on-> dataset:train@abc"))
        #expect(edges.contains("logged_model:\(f.model2) -produced_by-> run:\(f.run2)"))
    }

    @Test("a dataset's graph lists the runs that used it and their models", arguments: StoreBackend.all)
    func fromDataset(backend: StoreBackend) async throws {
        let f = try await fixture(backend)
        let g = try await f.builder.graph(from: .dataset(name: "train", digest: "abc"))
        // The runs that used the data, their logged models, and the registered version one became.
        #expect(
            Set(g.nodes.map(\.id)) == [
                "dataset:train@abc", "run:\(f.run1)", "run:\(f.run2)", "logged_model:\(f.model1)", "logged_model:\(f.model2)", "model_version:churn/1",
            ])
        #expect(g.edges.contains { $0.from == "model_version:churn/1" && $0.relation == "registered_from" })
    }

    @Test("DOT output escapes labels", arguments: StoreBackend.all)
    func dot(backend: StoreBackend) async throws {
        let f = try await fixture(backend)
        let dot = try await f.builder.graph(from: .run(id: f.run1)).dot()
        #expect(dot.hasPrefix("digraph lineage {"))
        #expect(dot.contains("run: first \\\"quoted\\\""))
        #expect(dot.contains("-> \"code:c0ffee\" [label=\"code_version\"]"))
        #expect(dot.contains("model_version:churn/1"))
    }
}
