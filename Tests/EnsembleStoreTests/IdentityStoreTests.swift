import EnsembleCore
import Foundation
import Testing

@testable import EnsembleStore

@Suite("IdentityStore contract")
struct IdentityStoreTests {
    @Test("users: create, names unique ignoring case, update, the last admin kept, passwords", arguments: StoreBackend.all)
    func users(backend: StoreBackend) async throws {
        let store = try await backend.make()
        #expect(try await store.userCount() == 0)
        let ana = try await store.createUser(User(name: "ana", displayName: "Ana Lima", email: "ana@example.com", role: .admin), passwordHash: "$2b$hash-a")
        #expect(ana.createdAt > 0 && ana.passwordChangedAt == ana.createdAt)
        #expect(await errorCode { _ = try await store.createUser(User(name: "ANA", email: "x@example.com"), passwordHash: nil) } == .resourceAlreadyExists)
        #expect(await errorCode { _ = try await store.createUser(User(name: "bad name"), passwordHash: nil) } == .invalidParameterValue)
        #expect(await errorCode { _ = try await store.createUser(User(name: "x", email: "no-at-sign"), passwordHash: nil) } == .invalidParameterValue)
        let ci = try await store.createUser(User(name: "ci-bot", role: .member, isServiceAccount: true), passwordHash: "ignored")
        #expect(ci.isServiceAccount)
        #expect(try await store.passwordHash(user: "ci-bot") == nil)  // service accounts never have one
        #expect(try await store.passwordHash(user: "ana") == "$2b$hash-a")
        #expect(try await store.users().map(\.name) == ["ana", "ci-bot"])

        // The last active admin can be neither demoted nor disabled.
        var demoted = ana
        demoted.role = .member
        #expect(await errorCode { _ = try await store.updateUser(demoted) } == .invalidParameterValue)
        var disabled = ana
        disabled.disabled = true
        #expect(await errorCode { _ = try await store.updateUser(disabled) } == .invalidParameterValue)
        var promoted = try #require(try await store.user(named: "ci-bot"))
        promoted.role = .admin
        _ = try await store.updateUser(promoted)
        _ = try await store.updateUser(demoted)
        #expect(try await store.user(named: "ana")?.role == .member)

        try await store.setPassword(user: "ana", hash: "$2b$hash-b")
        #expect(try await store.passwordHash(user: "ana") == "$2b$hash-b")
        #expect(try #require(try await store.user(named: "ana")).passwordChangedAt > ana.passwordChangedAt)
        #expect(await errorCode { try await store.setPassword(user: "ci-bot", hash: "x") } == .invalidParameterValue)
        #expect(await errorCode { try await store.setPassword(user: "nobody", hash: "x") } == .resourceDoesNotExist)
    }

    @Test("tokens: stored by hash, found with their user, listed, revoked, marked used", arguments: StoreBackend.all)
    func tokens(backend: StoreBackend) async throws {
        let store = try await backend.make()
        _ = try await store.createUser(User(name: "bo", email: "bo@example.com"), passwordHash: "h")
        let secret = TokenFormat.generate()
        #expect(TokenFormat.looksLikeToken(secret))
        let hash = TokenFormat.hash(secret)
        let t = try await store.createToken(user: "bo", label: "laptop", tokenHash: hash, hint: TokenFormat.hint(secret), expiresAt: nil)
        #expect(t.id > 0 && t.hint.hasPrefix("ens_") && t.isActive(at: t.createdAt))
        let (found, owner) = try #require(try await store.token(hash: hash))
        #expect(found == t && owner.name == "bo")
        #expect(try await store.token(hash: TokenFormat.hash(TokenFormat.generate())) == nil)
        #expect(await errorCode { _ = try await store.createToken(user: "nobody", label: "", tokenHash: "x", hint: "", expiresAt: nil) } == .resourceDoesNotExist)

        #expect(try await store.markTokenUsed(id: t.id, at: 1000), "the first use is reported as such")
        #expect(try await store.markTokenUsed(id: t.id, at: 1234) == false)
        #expect(try await store.tokens(user: "bo").first?.lastUsedAt == 1234)
        // Only the owner can revoke (a wrong owner looks like a missing token); twice is fine.
        #expect(await errorCode { try await store.revokeToken(id: t.id, user: "someone") } == .resourceDoesNotExist)
        try await store.revokeToken(id: t.id, user: "bo")
        try await store.revokeToken(id: t.id, user: "bo")
        let revoked = try #require(try await store.tokens(user: "bo").first)
        #expect(revoked.revokedAt != nil && !revoked.isActive(at: revoked.createdAt))
        let expiring = APIToken(userName: "bo", label: "", hint: "", createdAt: 0, expiresAt: 100)
        #expect(expiring.isActive(at: 99) && !expiring.isActive(at: 100))
    }

    @Test("audit: appended in order, newest first, filtered and paged", arguments: StoreBackend.all)
    func audit(backend: StoreBackend) async throws {
        let store = try await backend.make()
        var events: [AuditEvent] = []
        for i in 0..<30 {
            events.append(AuditEvent(at: Int64(1000 + i), actor: i % 3 == 0 ? "ana" : "bo", action: i % 2 == 0 ? "token.created" : "POST /api/x_y", target: "t\(i)"))
        }
        try await store.appendAudit(events)
        let newest = try await store.audit(AuditQuery(limit: 5))
        #expect(newest.map(\.target) == ["t29", "t28", "t27", "t26", "t25"])
        let next = try await store.audit(AuditQuery(limit: 5, before: newest.last?.id))
        #expect(next.map(\.target) == ["t24", "t23", "t22", "t21", "t20"])
        #expect(try await store.audit(AuditQuery(actor: "ana", limit: 100)).count == 10)
        #expect(try await store.audit(AuditQuery(actionPrefix: "token.", limit: 100)).count == 15)
        // `_` and `%` in a prefix are literal, not wildcards.
        #expect(try await store.audit(AuditQuery(actionPrefix: "POST /api/x_", limit: 100)).count == 15)
        #expect(try await store.audit(AuditQuery(actionPrefix: "POST /api/x%", limit: 100)).isEmpty)
        #expect(try await store.audit(AuditQuery(since: 1010, until: 1020, limit: 100)).count == 10)
    }

    @Test("audit retention: the oldest events before a time are deleted, a bounded number at a time", arguments: StoreBackend.all)
    func pruneAudit(backend: StoreBackend) async throws {
        let store = try await backend.make()
        // Appended out of time order (servers flush their buffers independently).
        let times: [Int64] = [5_000, 1_000, 4_000, 2_000, 9_000, 3_000, 8_000]
        try await store.appendAudit(times.map { AuditEvent(at: $0, actor: "ana", action: "token.created", target: "t\($0)") })
        #expect(try await store.pruneAudit(before: 4_500, limit: 2) == 2)
        #expect(Set(try await store.audit(AuditQuery(limit: 100)).map(\.at)) == [3_000, 4_000, 5_000, 8_000, 9_000], "the two oldest went first")
        #expect(try await store.pruneAudit(before: 4_500, limit: 100) == 2)
        #expect(try await store.pruneAudit(before: 4_500, limit: 100) == 0)
        #expect(try await store.pruneAudit(before: 100_000, limit: 0) == 0)
        #expect(Set(try await store.audit(AuditQuery(limit: 100)).map(\.at)) == [5_000, 8_000, 9_000])
    }

    @Test("grants: set, replaced, listed per resource and per user, renamed, removed, gone with their user", arguments: StoreBackend.all)
    func grants(backend: StoreBackend) async throws {
        let store = try await backend.make()
        _ = try await store.createUser(User(name: "ana", role: .admin), passwordHash: "h")
        _ = try await store.createUser(User(name: "bo"), passwordHash: "h")
        try await store.setGrant(.experiment, "7", user: "bo", permission: .read)
        try await store.setGrant(.experiment, "7", user: "bo", permission: .manage)  // replaces
        try await store.setGrant(.experiment, "7", user: "ana", permission: .edit)
        try await store.setGrant(.registeredModel, "churn", user: "bo", permission: .edit)
        #expect(try await store.grant(.experiment, "7", user: "bo") == .manage)
        #expect(try await store.grant(.experiment, "8", user: "bo") == nil)
        #expect(try await store.grants(.experiment, "7").map(\.user) == ["ana", "bo"])
        #expect(try await store.grants(user: "bo").map(\.kind) == [.experiment, .registeredModel])
        #expect(await errorCode { try await store.setGrant(.project, "p", user: "nobody", permission: .read) } == .resourceDoesNotExist)

        try await store.renameGrants(.registeredModel, from: "churn", to: "churn-v2")
        #expect(try await store.grant(.registeredModel, "churn-v2", user: "bo") == .edit)
        #expect(try await store.grant(.registeredModel, "churn", user: "bo") == nil)
        try await store.setGrant(.experiment, "7", user: "ana", permission: nil)
        #expect(try await store.grants(.experiment, "7").map(\.user) == ["bo"])

        // Deleting a user takes their tokens and grants; the last admin stays.
        _ = try await store.createToken(user: "bo", label: "", tokenHash: "hash-bo", hint: "", expiresAt: nil)
        try await store.deleteUser(named: "bo")
        #expect(try await store.user(named: "bo") == nil)
        #expect(try await store.grants(user: "bo").isEmpty)
        #expect(try await store.token(hash: "hash-bo") == nil)
        #expect(await errorCode { try await store.deleteUser(named: "ana") } == .invalidParameterValue)
    }
}
