import EnsembleCore
import Foundation
import Testing

@testable import EnsembleStore

@Suite("HandoffStore contract")
struct HandoffStoreTests {
    static func draft(_ receiver: String = "bo", project: String? = nil, model: String = "models:/churn/1") -> Handoff {
        var h = Handoff(title: "churn for serving", model: model, sender: "ana", receiver: receiver)
        h.project = project
        return h
    }

    @Test("handoffs: ids assigned, drafts stored, lists filtered newest first, revisions bumped on every change", arguments: StoreBackend.all)
    func lifecycle(backend: StoreBackend) async throws {
        let store = try await backend.make()
        var project = Project(id: "churn", name: "Churn")
        project.technicalMetrics = [ProjectMetric(name: "roc_auc", baseline: 0.7, target: 0.8)]
        try await store.saveProject(project, create: true, actor: nil)
        let first = try await store.createHandoff(Self.draft(project: "churn"))
        let second = try await store.createHandoff(Self.draft("cy"))
        #expect(first.id > 0 && second.id > first.id)
        #expect(first.status == .draft && first.revision == 1 && first.events.map(\.kind) == ["created"])
        #expect(try await store.handoff(id: first.id) == first)
        #expect(try await store.handoffs(HandoffQuery()).map(\.id) == [second.id, first.id])
        #expect(try await store.handoffs(HandoffQuery(receiver: "bo")).map(\.id) == [first.id])
        #expect(try await store.handoffs(HandoffQuery(project: "churn")).map(\.id) == [first.id])
        #expect(try await store.handoffs(HandoffQuery(status: .submitted)).isEmpty)
        #expect(try await store.handoffs(HandoffQuery(model: "models:/churn/1", limit: 1)).map(\.id) == [second.id])

        let submitted = try await store.updateHandoff(id: first.id) { h in
            h.status = .submitted
            h.events.append(HandoffEvent(kind: "submitted", by: "ana", at: 1))
        }
        #expect(submitted.revision == 2 && submitted.status == .submitted && submitted.createdAt == first.createdAt)
        #expect(try await store.handoffs(HandoffQuery(receiver: "bo", status: .submitted)).map(\.id) == [first.id])
        // A change that throws leaves the record as it was; so does one that breaks validation.
        #expect(await errorCode { _ = try await store.updateHandoff(id: first.id) { _ in throw EnsembleError.invalid("no") } } == .invalidParameterValue)
        #expect(await errorCode { _ = try await store.updateHandoff(id: first.id) { $0.receiver = "ana" } } == .invalidParameterValue)
        #expect(try await store.handoff(id: first.id) == submitted)
        #expect(await errorCode { _ = try await store.handoff(id: 999) } == .resourceDoesNotExist)
        #expect(await errorCode { _ = try await store.createHandoff(Self.draft("ana")) } == .invalidParameterValue)
        // The project's activity shows the handoff.
        let kinds = try await store.activity(project: "churn", limit: 10).map(\.kind)
        #expect(kinds.contains("handoff_created") && kinds.contains("handoff_submitted"))
    }

    @Test("gate results: stored on the version, newest first; a pass may move an alias; both in the history", arguments: StoreBackend.all)
    func gates(backend: StoreBackend) async throws {
        let store = try await backend.make()
        _ = try await store.createRegisteredModel(name: "churn", description: nil, tags: [])
        for _ in 0..<2 { _ = try await store.createModelVersion(RegistryStoreTests.newVersion("churn"), actor: nil) }
        try await store.setAlias(name: "churn", alias: "champion", version: 1, actor: nil)
        let failed = GateRecord(name: "churn", version: 2, decision: "fail", commit: "abc", actor: "ci", result: "{}", report: "# no")
        #expect(await errorCode { _ = try await store.recordGate(failed, promote: "champion") } == .invalidParameterValue)
        #expect(try await store.versionByAlias(name: "churn", alias: "champion").version == 1)
        let stored = try await store.recordGate(failed, promote: nil)
        #expect(stored.id > 0 && stored.at > 0 && stored.promoted == nil)
        let passed = try await store.recordGate(GateRecord(name: "churn", version: 2, decision: "pass", commit: "def", actor: "ci", result: "{}", report: "# yes"), promote: "champion")
        #expect(passed.promoted == "champion")
        #expect(try await store.versionByAlias(name: "churn", alias: "champion").version == 2)
        #expect(try await store.gateRecords(name: "churn", version: 2).map(\.decision) == ["pass", "fail"])
        #expect(try await store.gateRecords(name: "churn", version: 1).isEmpty)
        #expect(try await store.gateRecords(name: "churn", version: nil).count == 2)
        let events = try await store.registryEvents(name: "churn").suffix(3)
        #expect(events.map(\.kind) == [.gateRecorded, .gateRecorded, .aliasSet])
        #expect(events.last?.detail == "champion: 1 -> 2 (gate passed)")
        #expect(await errorCode { _ = try await store.recordGate(GateRecord(name: "churn", version: 9, decision: "pass", commit: nil, actor: nil, result: "{}", report: ""), promote: nil) } == .resourceDoesNotExist)
        #expect(await errorCode { _ = try await store.recordGate(GateRecord(name: "churn", version: 1, decision: "maybe", commit: nil, actor: nil, result: "{}", report: ""), promote: nil) } == .invalidParameterValue)
        // Results go with their version.
        try await store.deleteModelVersion(name: "churn", version: 2, actor: nil)
        #expect(try await store.gateRecords(name: "churn", version: nil).isEmpty)
    }

    @Test("accepting a handoff of a registered version writes the model's history", arguments: StoreBackend.all)
    func acceptedInHistory(backend: StoreBackend) async throws {
        let store = try await backend.make()
        _ = try await store.createRegisteredModel(name: "churn", description: nil, tags: [])
        _ = try await store.createModelVersion(RegistryStoreTests.newVersion("churn"), actor: nil)
        let h = try await store.createHandoff(Self.draft())
        _ = try await store.updateHandoff(id: h.id) { $0.status = .submitted }
        _ = try await store.updateHandoff(id: h.id) { h in
            h.status = .accepted
            h.events.append(HandoffEvent(kind: "accepted", by: "bo", at: 1))
        }
        let last = try await store.registryEvents(name: "churn").last
        #expect(last?.kind == .handoffAccepted && last?.actor == "bo" && last?.version == 1)
    }
}
