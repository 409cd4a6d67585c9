import EnsembleCore
import EnsembleStore
import Foundation
import Logging
import Testing

@testable import EnsembleServer

@Suite("Audit writer")
struct AuditWriterTests {
    static func store() throws -> SQLiteStore {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-audit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return try SQLiteStore(path: dir.appendingPathComponent("db.sqlite").path)
    }

    static func write(_ actor: String, at: Int64) -> AuditEvent {
        AuditEvent(at: at, actor: actor, action: "POST /api/2.0/mlflow/runs/log-metric", target: "/api/2.0/mlflow/runs/log-metric", client: "10.0.0.7")
    }

    @Test("past the cap on open summaries a tracking write is an entry of its own, and none is lost")
    func summaryCap() async throws {
        let store = try Self.store()
        let writer = AuditWriter(store: store, logger: Logger(label: "test"), clock: { 1_900_000_000_000 })
        let at: Int64 = 1_900_000_000_000
        let cap = AuditWriter.maxSummaries
        for i in 0..<(cap + 5) { writer.summarise(Self.write("user-\(i)", at: at)) }
        writer.summarise(Self.write("user-0", at: at + 1))  // counted into its open summary
        writer.summarise(Self.write("user-\(cap + 2)", at: at + 1))  // no summary of its own: recorded as it is
        await writer.flush()

        let first = try await store.audit(AuditQuery(actor: "user-0", limit: 10))
        #expect(first.map(\.detail) == ["first of 2 such requests in this minute"])
        let over = try await store.audit(AuditQuery(actor: "user-\(cap + 2)", limit: 10))
        #expect(over.count == 2 && over.allSatisfy { $0.detail.isEmpty })
        var stored = 0
        var before: Int64? = nil
        while true {
            let page = try await store.audit(AuditQuery(limit: 10_000, before: before))
            stored += page.count
            guard let last = page.last, page.count == 10_000 else { break }
            before = last.id
        }
        #expect(stored == cap + 6, "a summary per user under the cap (user-0's counting 2), the five past it one entry per write")
    }
}
