import EnsembleCore
import NIOCore
import PostgresNIO

/// Web sessions and other short-lived values, in the database every server shares: a user signed in
/// through one server is signed in on all of them. Bytes go as `ByteBuffer` (`bytea`): PostgresNIO sends a
/// `[UInt8]` as an array of "char".
extension PostgresStore: ExpiringValueStore {
    public func createValue(key: String, value: [UInt8], expiresAt: Int64?) async throws -> Bool {
        let now = Self.now()
        return try await transaction { [logger] db in
            try await db.query("DELETE FROM expiring_values WHERE key = \(key) AND expires_at <= \(now)", logger: logger)
            let rows = try await db.query(
                "INSERT INTO expiring_values (key, value, expires_at) VALUES (\(key), \(ByteBuffer(bytes: value)), \(expiresAt)) ON CONFLICT (key) DO NOTHING RETURNING 1",
                logger: logger)
            var created = false
            for try await _ in rows { created = true }
            return created
        }
    }

    public func setValue(key: String, value: [UInt8], expiresAt: Int64?) async throws {
        try await transaction { [logger] db in
            _ = try await db.query(
                """
                INSERT INTO expiring_values (key, value, expires_at) VALUES (\(key), \(ByteBuffer(bytes: value)), \(expiresAt))
                ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at
                """, logger: logger)
        }
    }

    public func value(key: String, now: Int64) async throws -> (value: [UInt8], expiresAt: Int64?)? {
        try await read { [logger] db in
            var found: ([UInt8], Int64?)?
            for try await (bytes, expires) in try await db.query("SELECT value, expires_at FROM expiring_values WHERE key = \(key)", logger: logger)
                .decode((ByteBuffer, Int64?).self)
            {
                found = (Array(bytes.readableBytesView), expires)
            }
            guard let found else { return nil }
            if let expires = found.1, expires <= now { return nil }
            return (found.0, found.1)
        }
    }

    public func removeValue(key: String) async throws {
        try await transaction { [logger] db in
            _ = try await db.query("DELETE FROM expiring_values WHERE key = \(key)", logger: logger)
        }
    }

    public func updateValue(key: String, now: Int64, expiresAt: Int64?, _ transform: @escaping @Sendable ([UInt8]?) -> [UInt8]) async throws -> [UInt8] {
        try await transaction { [logger] db in
            // Make sure the row exists (an expired placeholder if it did not), then lock it: servers
            // updating the key at once take turns.
            try await db.query(
                "INSERT INTO expiring_values (key, value, expires_at) VALUES (\(key), \(ByteBuffer()), \(now)) ON CONFLICT (key) DO NOTHING", logger: logger)
            var current: [UInt8]?
            for try await (bytes, expires) in try await db.query("SELECT value, expires_at FROM expiring_values WHERE key = \(key) FOR UPDATE", logger: logger)
                .decode((ByteBuffer, Int64?).self)
            {
                if expires.map({ $0 > now }) ?? true { current = Array(bytes.readableBytesView) }
            }
            let next = transform(current)
            try await db.query(
                "UPDATE expiring_values SET value = \(ByteBuffer(bytes: next)), expires_at = \(expiresAt) WHERE key = \(key)", logger: logger)
            return next
        }
    }

    public func removeExpiredValues(now: Int64) async throws -> Int {
        try await transaction { [logger] db in
            var removed = 0
            for try await (count) in try await db.query(
                "WITH gone AS (DELETE FROM expiring_values WHERE expires_at <= \(now) RETURNING 1) SELECT count(*) FROM gone", logger: logger
            ).decode(Int64.self) {
                removed = Int(count)
            }
            return removed
        }
    }
}
