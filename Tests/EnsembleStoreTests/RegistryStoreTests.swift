import EnsembleCore
import Foundation
import Testing

@testable import EnsembleStore

@Suite("RegistryStore contract")
struct RegistryStoreTests {
    static func newVersion(_ name: String, source: String = "s3://bucket/model") -> NewModelVersion {
        NewModelVersion(name: name, source: source, storageLocation: source, runID: nil, runLink: nil, modelID: nil, description: nil, tags: [])
    }

    @Test("version numbers are never reused after deletes", arguments: StoreBackend.all)
    func numbering(backend: StoreBackend) async throws {
        let store = try await backend.make()
        _ = try await store.createRegisteredModel(name: "m", description: nil, tags: [])
        #expect(try await store.createModelVersion(Self.newVersion("m"), actor: nil).version == 1)
        #expect(try await store.createModelVersion(Self.newVersion("m"), actor: nil).version == 2)
        try await store.deleteModelVersion(name: "m", version: 2, actor: nil)
        #expect(try await store.createModelVersion(Self.newVersion("m"), actor: nil).version == 3)
        #expect(await errorCode { _ = try await store.modelVersion(name: "m", version: 2) } == .resourceDoesNotExist)
        #expect(await errorCode { _ = try await store.createRegisteredModel(name: "m", description: nil, tags: []) } == .resourceAlreadyExists)
        #expect(await errorCode { _ = try await store.createModelVersion(Self.newVersion("nope"), actor: nil) } == .resourceDoesNotExist)
    }

    @Test("aliases move, disappear with their version, and are recorded in the history", arguments: StoreBackend.all)
    func aliases(backend: StoreBackend) async throws {
        let store = try await backend.make()
        _ = try await store.createRegisteredModel(name: "m", description: nil, tags: [])
        _ = try await store.createModelVersion(Self.newVersion("m"), actor: nil)
        _ = try await store.createModelVersion(Self.newVersion("m"), actor: nil)
        try await store.setAlias(name: "m", alias: "champion", version: 1, actor: nil)
        #expect(try await store.versionByAlias(name: "m", alias: "champion").version == 1)
        try await store.setAlias(name: "m", alias: "champion", version: 2, actor: nil)
        #expect(try await store.versionByAlias(name: "m", alias: "champion").version == 2)
        #expect(try await store.registeredModel(name: "m").aliases == [KeyValue(key: "champion", value: "2")])
        #expect(try await store.modelVersion(name: "m", version: 2).aliases == ["champion"])
        try await store.deleteModelVersion(name: "m", version: 2, actor: nil)
        #expect(await errorCode { _ = try await store.versionByAlias(name: "m", alias: "champion") } == .invalidParameterValue)
        let kinds = try await store.registryEvents(name: "m").map(\.kind)
        #expect(kinds == [.versionCreated, .versionCreated, .aliasSet, .aliasSet, .versionDeleted])
        #expect(try await store.registryEvents(name: "m")[3].detail == "champion: 1 -> 2")
    }

    @Test("stage transitions archive the others on request and bump the model's timestamp", arguments: StoreBackend.all)
    func stages(backend: StoreBackend) async throws {
        let store = try await backend.make()
        _ = try await store.createRegisteredModel(name: "m", description: nil, tags: [])
        for _ in 0..<3 { _ = try await store.createModelVersion(Self.newVersion("m"), actor: nil) }
        _ = try await store.transitionStage(name: "m", version: 1, stage: .production, archiveExisting: false, actor: nil)
        _ = try await store.transitionStage(name: "m", version: 2, stage: .production, archiveExisting: false, actor: nil)
        #expect(try await store.modelVersion(name: "m", version: 1).currentStage == .production)
        let before = try await store.registeredModel(name: "m").lastUpdatedTimestamp
        try await Task.sleep(for: .milliseconds(5))
        _ = try await store.transitionStage(name: "m", version: 3, stage: .production, archiveExisting: true, actor: nil)
        #expect(try await store.modelVersion(name: "m", version: 1).currentStage == .archived)
        #expect(try await store.modelVersion(name: "m", version: 2).currentStage == .archived)
        #expect(try await store.registeredModel(name: "m").lastUpdatedTimestamp > before)
        let latest = try await store.latestVersions(name: "m", stages: [])
        #expect(latest.map(\.version) == [3, 2])
        #expect(latest.map(\.currentStage) == [.production, .archived])
        #expect(try await store.latestVersions(name: "m", stages: [.staging]).isEmpty)
        // A description edit leaves the registered model's timestamp alone.
        let stamp = try await store.registeredModel(name: "m").lastUpdatedTimestamp
        try await Task.sleep(for: .milliseconds(5))
        _ = try await store.updateModelVersion(name: "m", version: 3, description: "best")
        #expect(try await store.registeredModel(name: "m").lastUpdatedTimestamp == stamp)
    }

    @Test("rename carries versions, tags, aliases and history; delete removes everything", arguments: StoreBackend.all)
    func renameAndDelete(backend: StoreBackend) async throws {
        let store = try await backend.make()
        _ = try await store.createRegisteredModel(name: "old", description: "d", tags: [KeyValue(key: "k", value: "v")])
        _ = try await store.createModelVersion(Self.newVersion("old"), actor: nil)
        try await store.setModelVersionTag(name: "old", version: 1, tag: KeyValue(key: "t", value: "1"))
        try await store.setAlias(name: "old", alias: "a", version: 1, actor: nil)
        let renamed = try await store.renameRegisteredModel(name: "old", newName: "new")
        #expect(renamed.tags == [KeyValue(key: "k", value: "v")])
        #expect(renamed.aliases == [KeyValue(key: "a", value: "1")])
        #expect(try await store.modelVersion(name: "new", version: 1).tags == [KeyValue(key: "t", value: "1")])
        #expect(try await store.registryEvents(name: "new").count == 2)
        #expect(await errorCode { _ = try await store.registeredModel(name: "old") } == .resourceDoesNotExist)
        try await store.deleteRegisteredModel(name: "new")
        #expect(await errorCode { _ = try await store.registeredModel(name: "new") } == .resourceDoesNotExist)
        _ = try await store.createRegisteredModel(name: "new", description: nil, tags: [])
        #expect(try await store.createModelVersion(Self.newVersion("new"), actor: nil).version == 1)
    }

    @Test("search: names, tags, the prompt guard, versions by run and number, pages", arguments: StoreBackend.all)
    func search(backend: StoreBackend) async throws {
        let store = try await backend.make()
        for name in ["alpha", "beta", "prompt"] {
            _ = try await store.createRegisteredModel(name: name, description: nil, tags: name == "prompt" ? [KeyValue(key: "mlflow.prompt.is_prompt", value: "true")] : [])
        }
        try await store.setRegisteredModelTag(name: "beta", tag: KeyValue(key: "team", value: "vision"))
        func names(_ filter: String) async throws -> [String] {
            try await store.searchRegisteredModels(RegistrySearch(filter: try SearchFilterParser.parse(filter, for: .registeredModels))).items.map(\.name)
        }
        #expect(try await names("tag.`mlflow.prompt.is_prompt` != 'true'") == ["alpha", "beta"])
        #expect(try await names("name LIKE 'a%' AND tags.`mlflow.prompt.is_prompt` != 'true'") == ["alpha"])
        #expect(try await names("tags.team = 'vision'") == ["beta"])
        #expect(try await names("name IN ('alpha', 'prompt')") == ["alpha", "prompt"])
        let first = try await store.searchRegisteredModels(RegistrySearch(maxResults: 2))
        #expect(first.items.map(\.name) == ["alpha", "beta"])
        let second = try await store.searchRegisteredModels(RegistrySearch(maxResults: 2, offset: try PageToken.decode(first.nextPageToken)))
        #expect(second.items.map(\.name) == ["prompt"] && second.nextPageToken == nil)

        for i in 0..<3 {
            var v = Self.newVersion("alpha")
            v.runID = i == 1 ? "run-1" : "run-0"
            _ = try await store.createModelVersion(v, actor: nil)
        }
        func versions(_ filter: String) async throws -> [Int64] {
            try await store.searchModelVersions(RegistrySearch(filter: try SearchFilterParser.parse(filter, for: .modelVersions))).items.map(\.version)
        }
        #expect(try await versions("name = 'alpha'") == [3, 2, 1])
        #expect(try await versions("run_id = 'run-1'") == [2])
        #expect(try await versions("name = 'alpha' AND version_number >= 2") == [3, 2])
        #expect(try await versions("source_path = 's3://bucket/model' AND run_id IN ('run-0')") == [3, 1])
    }
}
