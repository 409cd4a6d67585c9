import EnsembleCore
import Foundation
import Testing

@testable import EnsembleStore

@Suite("DeploymentStore contract")
struct DeploymentStoreTests {
    static func setUp(_ store: BackendStore) async throws {
        _ = try await store.createRegisteredModel(name: "churn", description: nil, tags: [])
        for _ in 0..<2 { _ = try await store.createModelVersion(RegistryStoreTests.newVersion("churn"), actor: nil) }
        try await store.saveEnvironment(DeploymentEnvironment(name: "production", kind: .online, url: "https://scoring", region: "eu"))
        try await store.saveEnvironment(DeploymentEnvironment(name: "nightly", kind: .batch))
    }

    @Test("environments: slugs only, saved and replaced, listed by name", arguments: StoreBackend.all)
    func environments(backend: StoreBackend) async throws {
        let store = try await backend.make()
        try await Self.setUp(store)
        try await store.saveEnvironment(DeploymentEnvironment(name: "nightly", kind: .batch, description: "the 2 a.m. scoring job"))
        #expect(try await store.environments().map(\.name) == ["nightly", "production"])
        #expect(try await store.environments().first?.description == "the 2 a.m. scoring job")
        for bad in ["Production", "prod env", "", "a/b"] {
            #expect(await errorCode { try await store.saveEnvironment(DeploymentEnvironment(name: bad, kind: .online)) } == .invalidParameterValue, "\(bad)")
        }
    }

    @Test("records: one deployment per version and environment while active, with its history; traffic capped at 100%", arguments: StoreBackend.all)
    func records(backend: StoreBackend) async throws {
        let store = try await backend.make()
        try await Self.setUp(store)
        let v1 = try await store.recordDeployment(DeploymentReport(name: "churn", version: 1, environment: "production", commit: "aaa"), actor: "ci")
        #expect(v1.id > 0 && v1.status == .live && v1.traffic == 1 && v1.history.count == 1 && v1.history[0].by == "ci")
        // v2 cannot take 10% while v1 has all of it; once v1 gives it up, it can.
        #expect(await errorCode { _ = try await store.recordDeployment(DeploymentReport(name: "churn", version: 2, environment: "production", traffic: 0.1), actor: nil) } == .invalidParameterValue)
        let lowered = try await store.recordDeployment(DeploymentReport(name: "churn", version: 1, environment: "production", traffic: 0.9), actor: "ci")
        #expect(lowered.id == v1.id && lowered.traffic == 0.9 && lowered.history.map(\.traffic) == [1, 0.9])
        let canary = try await store.recordDeployment(DeploymentReport(name: "churn", version: 2, environment: "production", status: .deploying, traffic: 0.1), actor: nil)
        #expect(canary.id != v1.id)
        let active = try await store.deployments(DeploymentQuery(environment: "production", activeOnly: true))
        #expect(Set(active.map(\.version)) == [1, 2])
        // Rolling back frees its traffic; the record stays with its history.
        let back = try await store.recordDeployment(DeploymentReport(name: "churn", version: 2, environment: "production", status: .rolledBack, note: "p99 over budget"), actor: "ana")
        #expect(back.id == canary.id && back.status == .rolledBack && back.traffic == 0 && back.history.last?.note == "p99 over budget")
        #expect(try await store.deployments(DeploymentQuery(environment: "production", activeOnly: true)).map(\.version) == [1])
        #expect(try await store.deployments(DeploymentQuery(name: "churn", version: 2)).count == 1)
        // A new rollout of the same version after its rollback is a new deployment.
        let again = try await store.recordDeployment(DeploymentReport(name: "churn", version: 2, environment: "production", traffic: 0.1), actor: nil)
        #expect(again.id != canary.id)
        #expect(try await store.deployment(id: again.id) == again)
        // Each change is in the model's history.
        let kinds = try await store.registryEvents(name: "churn").filter { $0.kind == .deployment }.map(\.detail)
        #expect(kinds.first == "production: live at 100% (aaa)" && kinds.contains("production: rolled_back"))
    }

    @Test("bad reports name what is wrong; a live deployment ticks the project's deployment gate item", arguments: StoreBackend.all)
    func reportsAndProjects(backend: StoreBackend) async throws {
        let store = try await backend.make()
        try await Self.setUp(store)
        #expect(await errorCode { _ = try await store.recordDeployment(DeploymentReport(name: "churn", version: 9, environment: "production"), actor: nil) } == .resourceDoesNotExist)
        #expect(await errorCode { _ = try await store.recordDeployment(DeploymentReport(name: "churn", version: 1, environment: "mars"), actor: nil) } == .invalidParameterValue)
        #expect(await errorCode { _ = try await store.recordDeployment(DeploymentReport(name: "churn", version: 1, environment: "production", traffic: 1.5), actor: nil) } == .invalidParameterValue)
        #expect(await errorCode { _ = try await store.recordDeployment(DeploymentReport(name: "churn", version: 1, environment: "production", project: "ghost"), actor: nil) } == .resourceDoesNotExist)
        try await store.saveProject(Project(id: "churn", name: "Churn"), create: true, actor: nil)
        #expect(try await store.project(id: "churn").checklist(for: .deployment).first { $0.text == Project.liveDeploymentItem }?.done == false)
        _ = try await store.recordDeployment(DeploymentReport(name: "churn", version: 1, environment: "nightly", status: .deploying, project: "churn"), actor: nil)
        #expect(try await store.project(id: "churn").checklist(for: .deployment).first { $0.text == Project.liveDeploymentItem }?.done == false)
        _ = try await store.recordDeployment(DeploymentReport(name: "churn", version: 1, environment: "nightly", status: .live, project: "churn"), actor: nil)
        let items = try await store.project(id: "churn").checklist(for: .deployment)
        #expect(items.first { $0.text == Project.liveDeploymentItem }?.done == true && items.filter(\.done).count == 1)
        #expect(try await store.deployments(DeploymentQuery(project: "churn")).count == 1)
        #expect(try await store.activity(project: "churn", limit: 10).map(\.kind).contains("deployment_live"))
    }
}

@Suite("A/B results on projects")
struct ABResultStoreTests {
    @Test("kept on an existing project, linked to existing versions; listed by project and by version", arguments: StoreBackend.all)
    func abResults(backend: StoreBackend) async throws {
        let store = try await backend.make()
        try await DeploymentStoreTests.setUp(store)
        try await store.saveProject(Project(id: "churn", name: "Churn"), create: true, actor: nil)
        let result = ABResult(project: "churn", title: "v2 vs v1", controlModel: "models:/churn/1", treatmentModel: "models:/churn/2", result: "{}", summary: "v2 lowered churn.", srmPValue: 0.4, actor: "ana")
        let saved = try await store.saveABResult(result)
        #expect(saved.id > 0 && saved.at > 0)
        #expect(try await store.abResult(id: saved.id) == saved)
        #expect(try await store.abResults(project: "churn", model: nil).map(\.id) == [saved.id])
        #expect(try await store.abResults(project: nil, model: "models:/churn/1").map(\.id) == [saved.id])
        #expect(try await store.abResults(project: nil, model: "models:/churn/3").isEmpty)
        #expect(try await store.activity(project: "churn", limit: 5).first?.summary == "A/B test 'v2 vs v1': v2 lowered churn.")
        var bad = result
        bad.project = "ghost"
        #expect(await errorCode { _ = try await store.saveABResult(bad) } == .resourceDoesNotExist)
        bad = result
        bad.treatmentModel = "models:/churn/9"
        #expect(await errorCode { _ = try await store.saveABResult(bad) } == .resourceDoesNotExist)
        bad.treatmentModel = "models:/m-0123456789abcdef0123456789abcdef"
        #expect(await errorCode { _ = try await store.saveABResult(bad) } == .invalidParameterValue)
        bad = result
        bad.title = " "
        #expect(await errorCode { _ = try await store.saveABResult(bad) } == .invalidParameterValue)
        #expect(await errorCode { _ = try await store.abResult(id: 999) } == .resourceDoesNotExist)
    }
}

@Suite("Drift windows on deployments")
struct DriftWindowStoreTests {
    @Test("kept oldest first on an existing deployment; a drifted window posts to the project's feed", arguments: StoreBackend.all)
    func windows(backend: StoreBackend) async throws {
        let store = try await backend.make()
        try await DeploymentStoreTests.setUp(store)
        try await store.saveProject(Project(id: "churn", name: "Churn"), create: true, actor: nil)
        let d = try await store.recordDeployment(DeploymentReport(name: "churn", version: 1, environment: "production", project: "churn"), actor: nil)
        func column(_ name: String, drifted: Bool) -> DriftWindow.Column {
            DriftWindow.Column(column: name, kind: "numeric", statistic: 0.1, pValue: drifted ? 0.001 : 0.4, wasserstein: 1, wassersteinNormed: 0.2, psi: 0.1, jensenShannon: nil, drifted: drifted)
        }
        let calm = try await store.saveDriftWindow(DriftWindow(deployment: d.id, label: "day 1", driftShare: 0, drifted: false, columns: [column("x", drifted: false)], metrics: ["accuracy": 0.8], actor: nil))
        let moved = try await store.saveDriftWindow(DriftWindow(deployment: d.id, label: "day 2", driftShare: 1, drifted: true, columns: [column("x", drifted: true)], metrics: [:], actor: "job"))
        #expect(try await store.driftWindows(deployment: d.id).map(\.id) == [calm.id, moved.id])
        #expect(try await store.driftWindows(deployment: d.id).first?.metrics == ["accuracy": 0.8])
        let feed = try await store.activity(project: "churn", limit: 5)
        #expect(feed.first?.kind == "drift_detected" && feed.first?.summary.contains("window day 2: 1 of 1 columns drifted (x)") == true)
        #expect(feed.filter { $0.kind == "drift_detected" }.count == 1)
        #expect(await errorCode { _ = try await store.saveDriftWindow(DriftWindow(deployment: 99, label: "d", driftShare: 0, drifted: false, columns: [column("x", drifted: false)], metrics: [:], actor: nil)) } == .resourceDoesNotExist)
        #expect(await errorCode { _ = try await store.saveDriftWindow(DriftWindow(deployment: d.id, label: " ", driftShare: 0, drifted: false, columns: [column("x", drifted: false)], metrics: [:], actor: nil)) } == .invalidParameterValue)
        #expect(await errorCode { _ = try await store.saveDriftWindow(DriftWindow(deployment: d.id, label: "d", driftShare: 0, drifted: false, columns: [], metrics: [:], actor: nil)) } == .invalidParameterValue)
    }
}

@Suite("A deployment's reference data")
struct DeploymentReferenceTests {
    @Test("recorded with the deployment, else the stored version the model's run (or its logged model's run) trained on; else a message saying how to record one", arguments: StoreBackend.all)
    func resolve(backend: StoreBackend) async throws {
        let store = try await backend.make()
        try await DeploymentStoreTests.setUp(store)
        let resolver = DeploymentReferenceResolver(tracking: store, models: store, registry: store, stored: store)
        let files = [DatasetFile(path: "train.csv", size: 10, sha256: String(repeating: "a", count: 64))]
        let stored = try await store.addDatasetVersion(name: "churn-train", files: files, description: nil, createdBy: nil).version
        let run = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "fit", startTime: 1, tags: [])).info.runID
        let context = [KeyValue(key: "mlflow.data.context", value: "training")]
        try await store.logInputs(
            runID: run,
            datasets: [
                DatasetInput(dataset: Dataset(name: "holdout", digest: "eee", sourceType: "local", source: "{}"), tags: [KeyValue(key: "mlflow.data.context", value: "evaluation")]),
                DatasetInput(dataset: Dataset(name: "warehouse", digest: "fff", sourceType: "sql", source: "{}"), tags: context),
                DatasetInput(dataset: Dataset(name: "churn-train", digest: stored.mlflowDigest, sourceType: "ensemble", source: "{}"), tags: context),
            ], modelIDs: [])
        // Version 3 comes from a logged model whose source run is `run`.
        let model = try await store.createLoggedModel(NewLoggedModel(experimentID: "0", name: "m", modelType: nil, sourceRunID: run, params: [], tags: [])).modelID
        var fromModel = RegistryStoreTests.newVersion("churn")
        fromModel.modelID = model
        _ = try await store.createModelVersion(fromModel, actor: nil)
        let viaModel = try await store.recordDeployment(DeploymentReport(name: "churn", version: 3, environment: "nightly"), actor: nil)
        let found = try await resolver.resolve(viaModel)
        #expect(found == DeploymentReference(reference: "datasets:/churn-train@1", source: "the training data of run 'fit'", runID: run))

        // Version 1 has no run: the message says how to record a reference; a recorded one wins.
        let plain = try await store.recordDeployment(DeploymentReport(name: "churn", version: 1, environment: "production"), actor: nil)
        await #expect { try await resolver.resolve(plain) } throws: { "\($0)".contains("was not registered from a run") && "\($0)".contains("--reference datasets:/NAME@V") }
        #expect(try await resolver.validate("datasets:/churn-train@latest") == "datasets:/churn-train@1")
        for bad in ["churn-train@1", "datasets:/churn-train@9", "datasets:/nope@1", "datasets:/bad name@1"] {
            await #expect(throws: EnsembleError.self, "\(bad)") { _ = try await resolver.validate(bad) }
        }
        var report = DeploymentReport(name: "churn", version: 1, environment: "production")
        report.reference = "datasets:/churn-train@1"
        let recorded = try await store.recordDeployment(report, actor: nil)
        #expect(recorded.id == plain.id && recorded.reference == "datasets:/churn-train@1")
        #expect(try await resolver.resolve(recorded).source == "recorded with the deployment")
        // A later report without a reference keeps it.
        #expect(try await store.recordDeployment(DeploymentReport(name: "churn", version: 1, environment: "production", traffic: 0.5), actor: nil).reference == "datasets:/churn-train@1")
    }
}
