import EnsembleCore
import Foundation
import Testing

@testable import EnsembleStore

/// The stores that implement ``ExpiringValueStore`` (web sessions): SQLite, and PostgreSQL.
typealias ExpiringBackend = Backend<any ExpiringValueStore>

extension Backend where Store == any ExpiringValueStore {
    static var all: [Backend] { sqliteAndPostgres({ $0 }, { $0 }) }
}

@Suite("ExpiringValueStore contract")
struct ExpiringValueStoreTests {
    @Test("create once, read until expiry, replace, remove, sweep what expired", arguments: ExpiringBackend.all)
    func lifecycle(backend: ExpiringBackend) async throws {
        let store = try await backend.make()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let bytes: [UInt8] = Array(0...255)
        #expect(try await store.createValue(key: "s1", value: bytes, expiresAt: now + 60_000))
        #expect(try await !store.createValue(key: "s1", value: [1], expiresAt: nil), "a live key is not created twice")
        let read = try #require(try await store.value(key: "s1", now: now))
        #expect(read.value == bytes && read.expiresAt == now + 60_000)
        #expect(try await store.value(key: "s1", now: now + 60_000) == nil, "expired at its expiry")
        #expect(try await store.value(key: "nope", now: now) == nil)

        try await store.setValue(key: "s1", value: [9, 9], expiresAt: nil)
        #expect(try await store.value(key: "s1", now: now + 10_000_000)?.value == [9, 9])
        try await store.removeValue(key: "s1")
        #expect(try await store.value(key: "s1", now: now) == nil)

        // An expired key can be created again; the sweep removes only what expired.
        #expect(try await store.createValue(key: "old", value: [1], expiresAt: now - 1))
        #expect(try await store.createValue(key: "old", value: [2], expiresAt: now + 1000))
        #expect(try await store.value(key: "old", now: now)?.value == [2])
        #expect(try await store.createValue(key: "gone-1", value: [1], expiresAt: now - 5))
        #expect(try await store.createValue(key: "gone-2", value: [1], expiresAt: now - 5))
        #expect(try await store.createValue(key: "forever", value: [1], expiresAt: nil))
        #expect(try await store.removeExpiredValues(now: now) == 2)
        #expect(try await store.value(key: "forever", now: now + 1_000_000_000)?.value == [1])
        #expect(try await store.value(key: "old", now: now)?.value == [2])
    }

    @Test("of many servers creating one key at once, exactly one wins", arguments: ExpiringBackend.all)
    func oneWinner(backend: ExpiringBackend) async throws {
        let store = try await backend.make()
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<16 { group.addTask { try await store.createValue(key: "race", value: [UInt8(i)], expiresAt: nil) } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(wins == 1)
    }

    @Test("updates are atomic: 60 concurrent increments of one counter all count; an expired value starts again", arguments: ExpiringBackend.all)
    func updates(backend: ExpiringBackend) async throws {
        let store = try await backend.make()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        @Sendable func increment(_ current: [UInt8]?) -> [UInt8] {
            let n = current.flatMap { String(validating: $0, as: UTF8.self) }.flatMap { Int($0) } ?? 0
            return Array(String(n + 1).utf8)
        }
        await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<60 { group.addTask { _ = try await store.updateValue(key: "counter", now: now, expiresAt: now + 60_000, increment) } }
        }
        #expect(try await store.value(key: "counter", now: now)?.value == Array("60".utf8))
        #expect(try await store.value(key: "counter", now: now)?.expiresAt == now + 60_000)
        // Past its expiry the old count is not seen: the update starts from nothing.
        #expect(try await store.updateValue(key: "counter", now: now + 60_000, expiresAt: nil, increment) == Array("1".utf8))
        #expect(try await store.updateValue(key: "fresh", now: now, expiresAt: nil, increment) == Array("1".utf8))
    }
}
