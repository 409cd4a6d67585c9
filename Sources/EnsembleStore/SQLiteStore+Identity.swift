import EnsembleCore
import Foundation
import GRDB

extension SQLiteStore: IdentityStore {
    private typealias Users = UserRecord.Columns
    private typealias Tokens = APITokenRecord.Columns

    public func createUser(_ user: User, passwordHash: String?) async throws -> User {
        try User.validateName(user.name)
        try user.validateProfile()
        return try await pool.write { db in
            // User names are unique ignoring case, so `Ana` and `ana` cannot both exist.
            if try UserRecord.filter(sql: "name = ? COLLATE NOCASE", arguments: [user.name]).fetchCount(db) > 0 {
                throw EnsembleError.alreadyExists("A user named '\(user.name)' already exists.")
            }
            var stored = user
            stored.createdAt = Self.now()
            stored.passwordChangedAt = stored.createdAt
            try UserRecord(stored, passwordHash: user.isServiceAccount ? nil : passwordHash).insert(db)
            return stored
        }
    }

    public func user(named name: String) async throws -> User? {
        try await pool.read { db in try UserRecord.fetchOne(db, key: name)?.user }
    }

    public func users() async throws -> [User] {
        try await pool.read { db in try UserRecord.order(Users.name).fetchAll(db).map(\.user) }
    }

    public func userCount() async throws -> Int {
        try await pool.read { db in try UserRecord.fetchCount(db) }
    }

    public func updateUser(_ user: User) async throws -> User {
        try user.validateProfile()
        return try await pool.write { db in
            guard let existing = try UserRecord.fetchOne(db, key: user.name) else { throw Self.noUser(user.name) }
            var updated = user
            // What the caller cannot change here: kind, creation, password.
            updated.isServiceAccount = existing.serviceAccount
            updated.createdAt = existing.createdAt
            updated.passwordChangedAt = existing.passwordChangedAt
            if existing.role == InstanceRole.admin.rawValue, updated.role != .admin || updated.disabled {
                let admins = try UserRecord.filter(sql: "role = 'admin' AND disabled = 0").fetchCount(db)
                if admins <= 1 { throw EnsembleError.invalid("'\(user.name)' is the last active admin; make another admin first.") }
            }
            try UserRecord(updated, passwordHash: existing.passwordHash).update(db)
            return updated
        }
    }

    public func passwordHash(user name: String) async throws -> String? {
        try await pool.read { db in try UserRecord.fetchOne(db, key: name)?.passwordHash }
    }

    public func setPassword(user name: String, hash: String) async throws {
        try await pool.write { db in
            guard var record = try UserRecord.fetchOne(db, key: name) else { throw Self.noUser(name) }
            guard !record.serviceAccount else { throw EnsembleError.invalid("'\(name)' is a service account; it signs in with tokens only.") }
            record.passwordHash = hash
            // Strictly later than before, so a check cached in the same millisecond is still void.
            record.passwordChangedAt = max(Self.now(), record.passwordChangedAt + 1)
            try record.update(db)
        }
    }

    public func createToken(user name: String, label: String, tokenHash: String, hint: String, expiresAt: Int64?) async throws -> APIToken {
        let label = try APIToken.checkedLabel(label)
        return try await pool.write { db in
            guard try UserRecord.fetchOne(db, key: name) != nil else { throw Self.noUser(name) }
            var record = APITokenRecord(
                userName: name, label: label, hint: hint, tokenHash: tokenHash, createdAt: Self.now(), expiresAt: expiresAt)
            try record.insert(db)
            return record.token
        }
    }

    public func token(hash: String) async throws -> (APIToken, User)? {
        try await pool.read { db in
            guard let token = try APITokenRecord.filter(Tokens.tokenHash == hash).fetchOne(db),
                let user = try UserRecord.fetchOne(db, key: token.userName)
            else { return nil }
            return (token.token, user.user)
        }
    }

    public func tokens(user name: String) async throws -> [APIToken] {
        try await pool.read { db in try APITokenRecord.filter(Tokens.userName == name).order(Tokens.id.desc).fetchAll(db).map(\.token) }
    }

    public func revokeToken(id: Int64, user name: String) async throws {
        try await pool.write { db in
            guard var record = try APITokenRecord.fetchOne(db, key: id), record.userName == name else {
                throw EnsembleError.notFound("User '\(name)' has no token \(id).")
            }
            if record.revokedAt == nil {
                record.revokedAt = Self.now()
                try record.update(db)
            }
        }
    }

    @discardableResult
    public func markTokenUsed(id: Int64, at: Int64) async throws -> Bool {
        try await pool.write { db in
            let first = try APITokenRecord.filter(key: id).filter(Tokens.lastUsedAt == nil).updateAll(db, Tokens.lastUsedAt.set(to: at)) > 0
            if !first { try APITokenRecord.filter(key: id).updateAll(db, Tokens.lastUsedAt.set(to: at)) }
            return first
        }
    }

    public func appendAudit(_ events: [AuditEvent]) async throws {
        guard !events.isEmpty else { return }
        try await pool.write { db in
            for event in events {
                var record = AuditRecord(event)
                record.id = nil
                try record.insert(db)
            }
        }
    }

    public func pruneAudit(before: Int64, limit: Int) async throws -> Int {
        try await pool.write { db in
            try db.execute(
                sql: "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ? ORDER BY at LIMIT ?)", arguments: [before, max(0, limit)])
            return db.changesCount
        }
    }

    public func audit(_ query: AuditQuery) async throws -> [AuditEvent] {
        typealias Audit = AuditRecord.Columns
        return try await pool.read { db in
            var request = AuditRecord.all()
            if let actor = query.actor { request = request.filter(Audit.actor == actor) }
            if let prefix = query.actionPrefix { request = request.filter(Audit.action.like(Self.likePrefix(prefix), escape: "\\")) }
            if let since = query.since { request = request.filter(Audit.at >= since) }
            if let until = query.until { request = request.filter(Audit.at < until) }
            if let before = query.before { request = request.filter(Audit.id < before) }
            return try request.order(Audit.id.desc).limit(max(1, min(query.limit, 10_000))).fetchAll(db).map(\.event)
        }
    }

    static func likePrefix(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%"
    }

    static func noUser(_ name: String) -> EnsembleError { .notFound("No user named '\(name)'.") }
}

extension SQLiteStore: GrantStore {
    private typealias Grants = GrantRecord.Columns

    public func setGrant(_ kind: ResourceKind, _ resource: String, user: String, permission: Permission?) async throws {
        try await pool.write { db in
            guard try UserRecord.fetchOne(db, key: user) != nil else { throw Self.noUser(user) }
            let key = Grants.kind == kind.rawValue && Grants.resource == resource && Grants.userName == user
            if let permission {
                // Plain SQL: GRDB's upsert reads back a rowid, which this WITHOUT ROWID table has not.
                try db.execute(
                    sql: """
                        INSERT INTO grants (kind, resource, user_name, permission) VALUES (?, ?, ?, ?)
                        ON CONFLICT (kind, resource, user_name) DO UPDATE SET permission = excluded.permission
                        """,
                    arguments: [kind.rawValue, resource, user, permission.rawValue])
            } else {
                _ = try GrantRecord.filter(key).deleteAll(db)
            }
        }
    }

    public func grant(_ kind: ResourceKind, _ resource: String, user: String) async throws -> Permission? {
        try await pool.read { db in
            try GrantRecord.filter(Grants.kind == kind.rawValue && Grants.resource == resource && Grants.userName == user).fetchOne(db)?.grant?.permission
        }
    }

    public func grants(_ kind: ResourceKind, _ resource: String) async throws -> [Grant] {
        try await pool.read { db in
            try GrantRecord.filter(Grants.kind == kind.rawValue && Grants.resource == resource).order(Grants.userName).fetchAll(db).compactMap(\.grant)
        }
    }

    public func grants(user: String) async throws -> [Grant] {
        try await pool.read { db in
            try GrantRecord.filter(Grants.userName == user).order(Grants.kind, Grants.resource).fetchAll(db).compactMap(\.grant)
        }
    }

    public func deleteUser(named name: String) async throws {
        try await pool.write { db in
            guard let user = try UserRecord.fetchOne(db, key: name) else { throw Self.noUser(name) }
            if user.role == InstanceRole.admin.rawValue, !user.disabled {
                let admins = try UserRecord.filter(sql: "role = 'admin' AND disabled = 0").fetchCount(db)
                if admins <= 1 { throw EnsembleError.invalid("'\(name)' is the last active admin; make another admin first.") }
            }
            // Tokens and grants go with the account (foreign keys cascade).
            _ = try APITokenRecord.filter(APITokenRecord.Columns.userName == name).deleteAll(db)
            _ = try GrantRecord.filter(Grants.userName == name).deleteAll(db)
            _ = try UserRecord.deleteOne(db, key: name)
        }
    }

    public func renameGrants(_ kind: ResourceKind, from: String, to: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE grants SET resource = ? WHERE kind = ? AND resource = ?", arguments: [to, kind.rawValue, from])
        }
    }
}

extension SQLiteStore: ExpiringValueStore {
    public func createValue(key: String, value: [UInt8], expiresAt: Int64?) async throws -> Bool {
        let now = Self.now()
        return try await pool.write { db in
            try db.execute(sql: "DELETE FROM expiring_values WHERE key = ? AND expires_at <= ?", arguments: [key, now])
            try db.execute(sql: "INSERT OR IGNORE INTO expiring_values (key, value, expires_at) VALUES (?, ?, ?)", arguments: [key, Data(value), expiresAt])
            return db.changesCount > 0
        }
    }

    public func setValue(key: String, value: [UInt8], expiresAt: Int64?) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO expiring_values (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                arguments: [key, Data(value), expiresAt])
        }
    }

    public func value(key: String, now: Int64) async throws -> (value: [UInt8], expiresAt: Int64?)? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT value, expires_at FROM expiring_values WHERE key = ?", arguments: [key]) else { return nil }
            let expires: Int64? = row[1]
            if let expires, expires <= now { return nil }
            return ([UInt8](row[0] as Data), expires)
        }
    }

    public func removeValue(key: String) async throws {
        try await pool.write { db in try db.execute(sql: "DELETE FROM expiring_values WHERE key = ?", arguments: [key]) }
    }

    public func updateValue(key: String, now: Int64, expiresAt: Int64?, _ transform: @escaping @Sendable ([UInt8]?) -> [UInt8]) async throws -> [UInt8] {
        // One write transaction: SQLite's single writer makes the read and the write one step.
        try await pool.write { db in
            var current: [UInt8]?
            if let row = try Row.fetchOne(db, sql: "SELECT value, expires_at FROM expiring_values WHERE key = ?", arguments: [key]) {
                let expires: Int64? = row[1]
                if expires.map({ $0 > now }) ?? true { current = [UInt8](row[0] as Data) }
            }
            let next = transform(current)
            try db.execute(
                sql: "INSERT INTO expiring_values (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                arguments: [key, Data(next), expiresAt])
            return next
        }
    }

    public func removeExpiredValues(now: Int64) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM expiring_values WHERE expires_at <= ?", arguments: [now])
            return db.changesCount
        }
    }
}
