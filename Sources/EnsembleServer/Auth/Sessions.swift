import Crypto
import EnsembleCore
import Foundation
import Hummingbird
import HummingbirdAuth
import Logging
import ServiceLifecycle

/// A signed-in browser: who, the CSRF token its forms carry, and the password generation it signed
/// in under (a password change signs every session out).
public struct WebSession: Codable, Sendable {
    var user: String
    var csrf: String
    var passwordChangedAt: Int64
}

/// hummingbird-auth's session storage on the database, so sessions survive restarts and are shared by
/// every server. Keys are stored as their SHA-256: the database never holds a usable session id.
struct StorePersistDriver: PersistDriver {
    let store: any ExpiringValueStore
    let logger: Logger

    static func key(_ key: String) -> String { DatasetManifest.hex(SHA256.hash(data: Data(key.utf8))) }

    static func expiry(_ expires: Duration?) -> Int64? {
        expires.map { Authenticator.now() + $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000 }
    }

    func create<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        guard try await store.createValue(key: Self.key(key), value: Array(try JSONEncoder().encode(value)), expiresAt: Self.expiry(expires)) else {
            throw PersistError.duplicate
        }
    }

    func set<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        try await store.setValue(key: Self.key(key), value: Array(try JSONEncoder().encode(value)), expiresAt: Self.expiry(expires))
    }

    func get<Object: Codable & Sendable>(key: String, as: Object.Type) async throws -> Object? {
        try await getWithTTL(key: key, as: Object.self)?.object
    }

    func getWithTTL<Object: Codable & Sendable>(key: String, as: Object.Type) async throws -> (object: Object, ttl: Duration?)? {
        let now = Authenticator.now()
        guard let found = try await store.value(key: Self.key(key), now: now) else { return nil }
        guard let object = try? JSONDecoder().decode(Object.self, from: Data(found.value)) else { throw PersistError.invalidConversion }
        return (object, found.expiresAt.map { .milliseconds($0 - now) })
    }

    func remove(key: String) async throws {
        try await store.removeValue(key: Self.key(key))
    }

    /// Removes expired sessions every ten minutes until shutdown.
    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(600))
                if let removed = try? await store.removeExpiredValues(now: Authenticator.now()), removed > 0 {
                    logger.debug("expired sessions removed", metadata: ["count": "\(removed)"])
                }
            }
        }
    }
}

extension Authenticator {
    /// The user a web session belongs to, if it is still good: the user exists, is enabled, and has
    /// not changed their password since signing in.
    func user(session: WebSession) async throws -> User? {
        guard let user = try await store.user(named: session.user), !user.disabled, user.passwordChangedAt == session.passwordChangedAt else { return nil }
        return user
    }
}
