import EnsembleCore
import PostgresNIO

extension PostgresStore: IdentityStore {
    typealias UserRow = (String, String, String, String, Bool, Bool, String?, String?, Int64, Int64)
    static let userColumns = "name, display_name, email, role, disabled, service_account, person_id, password_hash, created_at, password_changed_at"

    /// A role this version does not know reads as the least privileged one.
    static func user(_ r: UserRow) -> User {
        User(
            name: r.0, displayName: r.1, email: r.2, role: InstanceRole(rawValue: r.3) ?? .viewer, disabled: r.4, isServiceAccount: r.5, personID: r.6,
            createdAt: r.8, passwordChangedAt: r.9)
    }

    static func userRow(_ db: PostgresConnection, _ name: String, lock: Bool = false, logger: Logger) async throws -> UserRow? {
        lock
            ? try await db.rows("SELECT \(unescaped: userColumns) FROM users WHERE name = \(name) FOR UPDATE", UserRow.self, logger: logger).first
            : try await db.rows("SELECT \(unescaped: userColumns) FROM users WHERE name = \(name)", UserRow.self, logger: logger).first
    }

    /// Account changes that could remove the last admin take turns across servers.
    static func lockUsers(_ db: PostgresConnection, logger: Logger) async throws {
        try await db.run("SELECT pg_advisory_xact_lock(\(usersLock))", logger: logger)
    }

    static let usersLock: Int64 = 0x7573_6572_73  // "users"

    public func createUser(_ user: User, passwordHash: String?) async throws -> User {
        try User.validateName(user.name)
        try user.validateProfile()
        return try await transaction { [logger] db in
            try await Self.lockUsers(db, logger: logger)
            // User names are unique ignoring (ASCII) case, so `Ana` and `ana` cannot both exist.
            if try await db.value("SELECT 1::bigint FROM users WHERE lower(name) = lower(\(user.name))", Int64.self, logger: logger) != nil {
                throw EnsembleError.alreadyExists("A user named '\(user.name)' already exists.")
            }
            var stored = user
            stored.createdAt = Self.now()
            stored.passwordChangedAt = stored.createdAt
            let hash = user.isServiceAccount ? nil : passwordHash
            try await db.run(
                """
                INSERT INTO users (\(unescaped: Self.userColumns))
                VALUES (\(stored.name), \(stored.displayName), \(stored.email), \(stored.role.rawValue), \(stored.disabled), \(stored.isServiceAccount),
                        \(stored.personID), \(hash), \(stored.createdAt), \(stored.passwordChangedAt))
                """, logger: logger)
            return stored
        }
    }

    public func user(named name: String) async throws -> User? {
        try await read { [logger] db in try await Self.userRow(db, name, logger: logger).map(Self.user) }
    }

    public func users() async throws -> [User] {
        try await read { [logger] db in
            try await db.rows("SELECT \(unescaped: Self.userColumns) FROM users ORDER BY name", UserRow.self, logger: logger).map(Self.user)
        }
    }

    public func userCount() async throws -> Int {
        try await read { [logger] db in Int(try await db.value("SELECT count(*) FROM users", Int64.self, logger: logger) ?? 0) }
    }

    static func activeAdmins(_ db: PostgresConnection, logger: Logger) async throws -> Int64 {
        try await db.value("SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled", Int64.self, logger: logger) ?? 0
    }

    public func updateUser(_ user: User) async throws -> User {
        try user.validateProfile()
        return try await transaction { [logger] db in
            try await Self.lockUsers(db, logger: logger)
            guard let existing = try await Self.userRow(db, user.name, logger: logger) else { throw Self.noUser(user.name) }
            var updated = user
            // What the caller cannot change here: kind, creation, password.
            updated.isServiceAccount = existing.5
            updated.createdAt = existing.8
            updated.passwordChangedAt = existing.9
            if existing.3 == InstanceRole.admin.rawValue, updated.role != .admin || updated.disabled {
                if try await Self.activeAdmins(db, logger: logger) <= 1 {
                    throw EnsembleError.invalid("'\(user.name)' is the last active admin; make another admin first.")
                }
            }
            try await db.run(
                """
                UPDATE users SET display_name = \(updated.displayName), email = \(updated.email), role = \(updated.role.rawValue),
                    disabled = \(updated.disabled), person_id = \(updated.personID)
                WHERE name = \(updated.name)
                """, logger: logger)
            return updated
        }
    }

    public func passwordHash(user name: String) async throws -> String? {
        try await read { [logger] db in try await Self.userRow(db, name, logger: logger)?.7 }
    }

    public func setPassword(user name: String, hash: String) async throws {
        try await transaction { [logger] db in
            guard let record = try await Self.userRow(db, name, lock: true, logger: logger) else { throw Self.noUser(name) }
            guard !record.5 else { throw EnsembleError.invalid("'\(name)' is a service account; it signs in with tokens only.") }
            // Strictly later than before, so a check cached in the same millisecond is still void.
            let changed = max(Self.now(), record.9 + 1)
            try await db.run("UPDATE users SET password_hash = \(hash), password_changed_at = \(changed) WHERE name = \(name)", logger: logger)
        }
    }

    typealias TokenRow = (Int64, String, String, String, Int64, Int64?, Int64?, Int64?)
    static let tokenColumns = "id, user_name, label, hint, created_at, expires_at, last_used_at, revoked_at"

    static func token(_ r: TokenRow) -> APIToken {
        APIToken(id: r.0, userName: r.1, label: r.2, hint: r.3, createdAt: r.4, expiresAt: r.5, lastUsedAt: r.6, revokedAt: r.7)
    }

    public func createToken(user name: String, label: String, tokenHash: String, hint: String, expiresAt: Int64?) async throws -> APIToken {
        let label = try APIToken.checkedLabel(label)
        return try await transaction { [logger] db in
            guard try await Self.userRow(db, name, logger: logger) != nil else { throw Self.noUser(name) }
            let now = Self.now()
            guard
                let id = try await db.value(
                    """
                    INSERT INTO api_tokens (user_name, label, hint, token_hash, created_at, expires_at)
                    VALUES (\(name), \(label), \(hint), \(tokenHash), \(now), \(expiresAt)) RETURNING id
                    """, Int64.self, logger: logger)
            else { throw EnsembleError(.internalError, "The token got no id.") }
            return APIToken(id: id, userName: name, label: label, hint: hint, createdAt: now, expiresAt: expiresAt, lastUsedAt: nil, revokedAt: nil)
        }
    }

    public func token(hash: String) async throws -> (APIToken, User)? {
        try await read { [logger] db in
            guard
                let row = try await db.rows(
                    "SELECT \(unescaped: Self.tokenColumns) FROM api_tokens WHERE token_hash = \(hash)", TokenRow.self, logger: logger
                ).first,
                let user = try await Self.userRow(db, row.1, logger: logger)
            else { return nil }
            return (Self.token(row), Self.user(user))
        }
    }

    public func tokens(user name: String) async throws -> [APIToken] {
        try await read { [logger] db in
            try await db.rows(
                "SELECT \(unescaped: Self.tokenColumns) FROM api_tokens WHERE user_name = \(name) ORDER BY id DESC", TokenRow.self, logger: logger
            ).map(Self.token)
        }
    }

    public func revokeToken(id: Int64, user name: String) async throws {
        try await transaction { [logger] db in
            guard try await db.value("SELECT user_name FROM api_tokens WHERE id = \(id)", String.self, logger: logger) == name else {
                throw EnsembleError.notFound("User '\(name)' has no token \(id).")
            }
            try await db.run("UPDATE api_tokens SET revoked_at = \(Self.now()) WHERE id = \(id) AND revoked_at IS NULL", logger: logger)
        }
    }

    @discardableResult
    public func markTokenUsed(id: Int64, at: Int64) async throws -> Bool {
        try await transaction { [logger] db in
            // A concurrent first use waits on the row and then finds it used: one first use, even
            // across servers.
            let first = try await db.run("UPDATE api_tokens SET last_used_at = \(at) WHERE id = \(id) AND last_used_at IS NULL", logger: logger) > 0
            if !first { try await db.run("UPDATE api_tokens SET last_used_at = \(at) WHERE id = \(id)", logger: logger) }
            return first
        }
    }

    public func appendAudit(_ events: [AuditEvent]) async throws {
        guard !events.isEmpty else { return }
        try await transaction { [logger] db in
            // One statement for the whole batch.
            try await db.run(
                """
                INSERT INTO audit_log (at, actor, action, target, status, request_id, client, detail)
                SELECT at, CASE WHEN ha THEN a END, action, target, status, CASE WHEN hr THEN r END, CASE WHEN hc THEN c END, detail
                FROM unnest(\(events.map(\.at))::bigint[], \(events.map { $0.actor ?? "" })::text[], \(events.map { $0.actor != nil })::bool[],
                            \(events.map(\.action))::text[], \(events.map(\.target))::text[], \(events.map { Int64($0.status) })::bigint[],
                            \(events.map { $0.requestID ?? "" })::text[], \(events.map { $0.requestID != nil })::bool[],
                            \(events.map { $0.client ?? "" })::text[], \(events.map { $0.client != nil })::bool[], \(events.map(\.detail))::text[])
                    AS u(at, a, ha, action, target, status, r, hr, c, hc, detail)
                """, logger: logger)
        }
    }

    public func pruneAudit(before: Int64, limit: Int) async throws -> Int {
        try await transaction { [logger] db in
            // Servers pruning at the same moment take different rows instead of waiting on each other.
            try await db.run(
                """
                DELETE FROM audit_log WHERE id IN (
                    SELECT id FROM audit_log WHERE at < \(before) ORDER BY at LIMIT \(Int64(max(0, limit))) FOR UPDATE SKIP LOCKED)
                """, logger: logger)
        }
    }

    public func audit(_ query: AuditQuery) async throws -> [AuditEvent] {
        var q = SQLBuilder()
        var conditions = ["true"]
        if let actor = query.actor { conditions.append("actor = \(q.bind(actor))") }
        if let prefix = query.actionPrefix { conditions.append("starts_with(action, \(q.bind(prefix)))") }
        if let since = query.since { conditions.append("at >= \(q.bind(since))") }
        if let until = query.until { conditions.append("at < \(q.bind(until))") }
        if let before = query.before { conditions.append("id < \(q.bind(before))") }
        let limit = q.bind(Int64(max(1, min(query.limit, 10_000))))
        q.append(
            "SELECT id, at, actor, action, target, status, request_id, client, detail FROM audit_log WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT \(limit)"
        )
        let statement = q.query
        return try await read { [logger] db in
            try await db.rows(statement, (Int64, Int64, String?, String, String, Int64, String?, String?, String).self, logger: logger).map {
                AuditEvent(id: $0.0, at: $0.1, actor: $0.2, action: $0.3, target: $0.4, status: Int($0.5), requestID: $0.6, client: $0.7, detail: $0.8)
            }
        }
    }

    static func noUser(_ name: String) -> EnsembleError { .notFound("No user named '\(name)'.") }
}

extension PostgresStore: GrantStore {
    public func setGrant(_ kind: ResourceKind, _ resource: String, user: String, permission: Permission?) async throws {
        try await transaction { [logger] db in
            guard try await Self.userRow(db, user, logger: logger) != nil else { throw Self.noUser(user) }
            if let permission {
                try await db.run(
                    """
                    INSERT INTO grants (kind, resource, user_name, permission) VALUES (\(kind.rawValue), \(resource), \(user), \(permission.rawValue))
                    ON CONFLICT (kind, resource, user_name) DO UPDATE SET permission = EXCLUDED.permission
                    """, logger: logger)
            } else {
                try await db.run("DELETE FROM grants WHERE kind = \(kind.rawValue) AND resource = \(resource) AND user_name = \(user)", logger: logger)
            }
        }
    }

    /// Rows a newer Ensemble wrote with kinds or permissions this one does not know are skipped.
    static func grant(_ r: (String, String, String, String)) -> Grant? {
        guard let kind = ResourceKind(rawValue: r.0), let permission = Permission(rawValue: r.3) else { return nil }
        return Grant(kind: kind, resource: r.1, user: r.2, permission: permission)
    }

    public func grant(_ kind: ResourceKind, _ resource: String, user: String) async throws -> Permission? {
        try await read { [logger] db in
            try await db.value(
                "SELECT permission FROM grants WHERE kind = \(kind.rawValue) AND resource = \(resource) AND user_name = \(user)", String.self, logger: logger
            ).flatMap(Permission.init(rawValue:))
        }
    }

    public func grants(_ kind: ResourceKind, _ resource: String) async throws -> [Grant] {
        try await read { [logger] db in
            try await db.rows(
                "SELECT kind, resource, user_name, permission FROM grants WHERE kind = \(kind.rawValue) AND resource = \(resource) ORDER BY user_name",
                (String, String, String, String).self, logger: logger
            ).compactMap(Self.grant)
        }
    }

    public func grants(user: String) async throws -> [Grant] {
        try await read { [logger] db in
            try await db.rows(
                "SELECT kind, resource, user_name, permission FROM grants WHERE user_name = \(user) ORDER BY kind, resource",
                (String, String, String, String).self, logger: logger
            ).compactMap(Self.grant)
        }
    }

    public func deleteUser(named name: String) async throws {
        try await transaction { [logger] db in
            try await Self.lockUsers(db, logger: logger)
            guard let user = try await Self.userRow(db, name, logger: logger) else { throw Self.noUser(name) }
            if user.3 == InstanceRole.admin.rawValue, !user.4, try await Self.activeAdmins(db, logger: logger) <= 1 {
                throw EnsembleError.invalid("'\(name)' is the last active admin; make another admin first.")
            }
            // Tokens and grants go with the account (foreign keys cascade).
            try await db.run("DELETE FROM users WHERE name = \(name)", logger: logger)
        }
    }

    public func renameGrants(_ kind: ResourceKind, from: String, to: String) async throws {
        try await transaction { [logger] db in
            try await db.run("UPDATE grants SET resource = \(to) WHERE kind = \(kind.rawValue) AND resource = \(from)", logger: logger)
        }
    }
}
