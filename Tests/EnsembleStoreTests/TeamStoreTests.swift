import EnsembleCore
import Foundation
import Testing

@testable import EnsembleStore

@Suite("TeamStore contract")
struct TeamStoreTests {
    @Test("people: create, duplicates refused, imports in one transaction, roles edited and restored", arguments: StoreBackend.all)
    func people(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let ana = Person(id: "ana", name: "Ana", email: "ana@example.com", roles: ["data-scientist"], skills: ["python": 5])
        try await store.savePerson(ana, create: true)
        await #expect(throws: EnsembleError.self) { try await store.savePerson(ana, create: true) }
        var clash = ana
        clash.id = "ana2"
        await #expect(throws: EnsembleError.alreadyExists("email: 'ana@example.com' already belongs to 'ana'.")) { try await store.savePerson(clash, create: true) }
        var bad = Person(id: "bob", name: "Bob", email: "bob@example.com", skills: ["sql": 9])
        await #expect(throws: EnsembleError.self) { try await store.savePeople([Person(id: "cy", name: "Cy", email: "cy@example.com"), bad]) }
        #expect(try await store.people().map(\.id) == ["ana"])  // nothing imported
        bad.skills["sql"] = 4
        try await store.savePeople([Person(id: "cy", name: "Cy", email: "cy@example.com"), bad])
        #expect(try await store.people().map(\.id) == ["ana", "bob", "cy"])

        var role = try #require(try await store.roles().first { $0.id == "data-engineer" })
        role.summary = "Ours now."
        try await store.saveRole(role)
        #expect(try await store.roles().first { $0.id == "data-engineer" }?.summary == "Ours now.")
        try await store.deleteRole(id: "data-engineer")
        #expect(try await store.roles().first { $0.id == "data-engineer" } == RoleCatalog.builtIn.first { $0.id == "data-engineer" })
        try await store.saveRole(Role(id: "annotator", name: "Annotator", summary: "", skills: ["labeling"], responsibilities: [], tools: [], leads: [], supports: [.data]))
        #expect(try await store.roles().last?.id == "annotator")
        var annotator = Person(id: "dee", name: "Dee", email: "dee@example.com", roles: ["annotator"])
        try await store.savePerson(annotator, create: true)
        await #expect(throws: EnsembleError.self) { try await store.deleteRole(id: "annotator") }
        annotator.roles = []
        try await store.savePerson(annotator, create: false)
        try await store.deleteRole(id: "annotator")
    }

    @Test("projects move through the gate in a transaction and leave an append-only history and feed", arguments: StoreBackend.all)
    func projects(backend: StoreBackend) async throws {
        let store = try await backend.make()
        var p = Project(id: "churn", name: "Churn")
        p.stage = .data  // ignored on create? no: a project may be created in any stage
        try await store.saveProject(p, create: true, actor: "ana")
        await #expect(throws: EnsembleError.self) { try await store.saveProject(p, create: true, actor: nil) }
        var edited = try await store.project(id: "churn")
        edited.name = "Churn v2"
        edited.stage = .done  // stage changes only through moves
        try await store.saveProject(edited, create: false, actor: nil)
        #expect(try await store.project(id: "churn").stage == .data)
        await #expect(throws: EnsembleError.self) {
            _ = try await store.moveProject(id: "churn", to: .modeling, why: "", actor: "ana") { _ in throw EnsembleError.invalid("gate says no") }
        }
        let moved = try await store.moveProject(id: "churn", to: .modeling, why: "baseline ready", actor: "ana") { _ in }
        #expect(moved.stage == .modeling && moved.history.count == 1 && moved.history[0].by == "ana" && moved.history[0].why == "baseline ready")
        _ = try await store.addUpdate(ProjectUpdate(project: "churn", author: "bob", done: "features", next: "tuning", blocked: ""))
        await #expect(throws: EnsembleError.self) { _ = try await store.addUpdate(ProjectUpdate(project: "churn", author: "bob", done: "", next: " ", blocked: "")) }
        await #expect(throws: EnsembleError.self) { _ = try await store.addUpdate(ProjectUpdate(project: "nope", author: "bob", done: "x", next: "", blocked: "")) }
        let feed = try await store.activity(project: "churn", limit: 10)
        #expect(Set(feed.map(\.kind)) == ["update", "stage_changed", "project_created"])
        #expect(feed.first { $0.kind == "update" }?.summary == "done: features | next: tuning")
    }
}
