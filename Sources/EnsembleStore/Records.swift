import EnsembleCore
import GRDB

// GRDB record types for the tables that are off the hot path, where a typed row and GRDB's query
// interface read better than SQL strings and positional columns. The tracking tables (metrics,
// params, tags, runs) keep hand-written SQL and `RawStatement`: their inserts and history reads are
// the measured hot loops (docs/PERFORMANCE.md).
//
// Each record names its columns once, in `CodingKeys` (the SQL names), and exposes them as
// `Columns` for filters and orderings.

/// A row of `stored_dataset_versions`: one immutable version of a content-addressed dataset.
struct StoredDatasetVersionRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "stored_dataset_versions"

    var id: Int64?
    var name: String
    var version: Int64
    var digest: String
    var description: String?
    var fileCount: Int64
    var totalSize: Int64
    var createdAt: Int64
    var createdBy: String?

    enum CodingKeys: String, CodingKey {
        case id, name, version, digest, description
        case fileCount = "file_count", totalSize = "total_size", createdAt = "created_at", createdBy = "created_by"
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let name = Column(CodingKeys.name)
        static let version = Column(CodingKeys.version)
        static let digest = Column(CodingKeys.digest)
        static let createdAt = Column(CodingKeys.createdAt)
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    func version(files: [DatasetFile]) -> StoredDatasetVersion {
        StoredDatasetVersion(
            name: name, version: version, digest: digest, description: description, fileCount: fileCount, totalSize: totalSize,
            createdAt: createdAt, createdBy: createdBy, files: files)
    }
}

/// A row of `stored_dataset_files`: one file of a stored version, named by its content hash.
struct StoredDatasetFileRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "stored_dataset_files"

    var versionID: Int64
    var path: String
    var size: Int64
    var sha256: String

    enum CodingKeys: String, CodingKey {
        case versionID = "version_id", path, size, sha256
    }

    enum Columns {
        static let versionID = Column(CodingKeys.versionID)
    }

    var file: DatasetFile { DatasetFile(path: path, size: size, sha256: sha256) }
}

/// A row of `registry_events`: the append-only history of a registered model.
struct RegistryEventRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "registry_events"

    var name: String
    var version: Int64?
    var kind: String
    var detail: String
    var actor: String?
    var timestamp: Int64

    enum Columns {
        static let id = Column("id")
        static let name = Column(CodingKeys.name)
    }

    init(_ event: RegistryEvent) {
        (name, version, kind, detail, actor, timestamp) = (event.name, event.version, event.kind.rawValue, event.detail, event.actor, event.timestamp)
    }

    /// An unknown kind (written by a newer Ensemble) reads as a stage change rather than failing the page.
    var event: RegistryEvent {
        RegistryEvent(name: name, version: version, kind: RegistryEvent.Kind(rawValue: kind) ?? .stageChanged, detail: detail, actor: actor, timestamp: timestamp)
    }
}

/// A row of `team_updates`: a project update (done / next / blocked).
struct TeamUpdateRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "team_updates"

    var id: Int64?
    var project: String
    var author: String
    var done: String
    var next: String
    var blocked: String
    var at: Int64

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let project = Column(CodingKeys.project)
        static let at = Column(CodingKeys.at)
    }

    init(_ u: ProjectUpdate) {
        (id, project, author, done, next, blocked, at) = (u.id == 0 ? nil : u.id, u.project, u.author, u.done, u.next, u.blocked, u.at)
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    var activity: ActivityItem {
        ProjectUpdate(id: id ?? 0, project: project, author: author, done: done, next: next, blocked: blocked, at: at).activity
    }
}

/// A row of `team_events`: something that happened to the team or a project (created, moved, …).
struct TeamEventRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "team_events"

    var project: String?
    var kind: String
    var summary: String
    var actor: String?
    var at: Int64

    enum Columns {
        static let id = Column("id")
        static let project = Column(CodingKeys.project)
        static let at = Column(CodingKeys.at)
    }

    var activity: ActivityItem { ActivityItem(at: at, project: project, kind: kind, summary: summary, actor: actor) }
}

/// A row of `users`.
struct UserRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "users"

    var name: String
    var displayName: String
    var email: String
    var role: String
    var disabled: Bool
    var serviceAccount: Bool
    var personID: String?
    var passwordHash: String?
    var createdAt: Int64
    var passwordChangedAt: Int64

    enum CodingKeys: String, CodingKey {
        case name, email, role, disabled
        case displayName = "display_name", serviceAccount = "service_account", personID = "person_id", passwordHash = "password_hash"
        case createdAt = "created_at", passwordChangedAt = "password_changed_at"
    }

    enum Columns {
        static let name = Column(CodingKeys.name)
        static let passwordHash = Column(CodingKeys.passwordHash)
        static let passwordChangedAt = Column(CodingKeys.passwordChangedAt)
    }

    init(_ u: User, passwordHash: String?) {
        (name, displayName, email, role, disabled) = (u.name, u.displayName, u.email, u.role.rawValue, u.disabled)
        (serviceAccount, personID, createdAt, passwordChangedAt) = (u.isServiceAccount, u.personID, u.createdAt, u.passwordChangedAt)
        self.passwordHash = passwordHash
    }

    /// A role this version does not know reads as the least privileged one.
    var user: User {
        User(
            name: name, displayName: displayName, email: email, role: InstanceRole(rawValue: role) ?? .viewer, disabled: disabled,
            isServiceAccount: serviceAccount, personID: personID, createdAt: createdAt, passwordChangedAt: passwordChangedAt)
    }
}

/// A row of `api_tokens`.
struct APITokenRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "api_tokens"

    var id: Int64?
    var userName: String
    var label: String
    var hint: String
    var tokenHash: String
    var createdAt: Int64
    var expiresAt: Int64?
    var lastUsedAt: Int64?
    var revokedAt: Int64?

    enum CodingKeys: String, CodingKey {
        case id, label, hint
        case userName = "user_name", tokenHash = "token_hash", createdAt = "created_at", expiresAt = "expires_at"
        case lastUsedAt = "last_used_at", revokedAt = "revoked_at"
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let userName = Column(CodingKeys.userName)
        static let tokenHash = Column(CodingKeys.tokenHash)
        static let lastUsedAt = Column(CodingKeys.lastUsedAt)
        static let revokedAt = Column(CodingKeys.revokedAt)
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    var token: APIToken {
        APIToken(
            id: id ?? 0, userName: userName, label: label, hint: hint, createdAt: createdAt, expiresAt: expiresAt, lastUsedAt: lastUsedAt,
            revokedAt: revokedAt)
    }
}

/// A row of `audit_log`.
struct AuditRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "audit_log"

    var id: Int64?
    var at: Int64
    var actor: String?
    var action: String
    var target: String
    var status: Int
    var requestID: String?
    var client: String?
    var detail: String

    enum CodingKeys: String, CodingKey {
        case id, at, actor, action, target, status, client, detail
        case requestID = "request_id"
    }

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let at = Column(CodingKeys.at)
        static let actor = Column(CodingKeys.actor)
        static let action = Column(CodingKeys.action)
    }

    init(_ e: AuditEvent) {
        (id, at, actor, action, target, status) = (e.id == 0 ? nil : e.id, e.at, e.actor, e.action, e.target, e.status)
        (requestID, client, detail) = (e.requestID, e.client, e.detail)
    }

    var event: AuditEvent {
        AuditEvent(id: id ?? 0, at: at, actor: actor, action: action, target: target, status: status, requestID: requestID, client: client, detail: detail)
    }
}

/// A row of `grants`.
struct GrantRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "grants"

    var kind: String
    var resource: String
    var userName: String
    var permission: String

    enum CodingKeys: String, CodingKey {
        case kind, resource, permission
        case userName = "user_name"
    }

    enum Columns {
        static let kind = Column(CodingKeys.kind)
        static let resource = Column(CodingKeys.resource)
        static let userName = Column(CodingKeys.userName)
    }

    /// Rows a newer Ensemble wrote with kinds or permissions this one does not know are skipped.
    var grant: Grant? {
        guard let kind = ResourceKind(rawValue: kind), let permission = Permission(rawValue: permission) else { return nil }
        return Grant(kind: kind, resource: resource, user: userName, permission: permission)
    }
}
