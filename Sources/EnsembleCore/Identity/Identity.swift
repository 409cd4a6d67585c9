import Crypto
import Foundation

/// What a user may do across the whole instance, before any per-resource grant.
public enum InstanceRole: String, Sendable, Codable, CaseIterable, Comparable {
    /// Reads everything it is allowed to see; writes nothing.
    case viewer
    /// Reads and writes the team's work.
    case member
    /// Everything, including users, tokens, grants and the audit log.
    case admin

    private var rank: Int {
        switch self {
        case .viewer: 0
        case .member: 1
        case .admin: 2
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
}

/// An account: a person who signs in, or a service account (no password) that CI uses through tokens.
public struct User: Sendable, Equatable, Codable {
    public var name: String
    public var displayName: String
    public var email: String
    public var role: InstanceRole
    public var disabled: Bool
    /// No password: it authenticates with API tokens only.
    public var isServiceAccount: Bool
    /// The person of the team directory this account is (pages then show the person's name).
    public var personID: String?
    public var createdAt: Int64
    /// When the password last changed; sessions and cached checks from before it are void.
    public var passwordChangedAt: Int64

    public init(
        name: String, displayName: String = "", email: String = "", role: InstanceRole = .member, disabled: Bool = false,
        isServiceAccount: Bool = false, personID: String? = nil, createdAt: Int64 = 0, passwordChangedAt: Int64 = 0
    ) {
        self.name = name
        self.displayName = displayName
        self.email = email
        self.role = role
        self.disabled = disabled
        self.isServiceAccount = isServiceAccount
        self.personID = personID
        self.createdAt = createdAt
        self.passwordChangedAt = passwordChangedAt
    }

    public var isAdmin: Bool { role == .admin }

    /// User names: 1–64 characters of letters, digits, `.`, `_`, `-` and `@`, starting with a letter or digit.
    /// Case matters; they appear in URLs, logs and the audit trail, so nothing invisible or look-alike.
    public static func validateName(_ name: String) throws(EnsembleError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@".unicodeScalars)
        guard !name.isEmpty, name.unicodeScalars.count <= 64, name.unicodeScalars.allSatisfy(allowed.contains),
            let first = name.unicodeScalars.first, CharacterSet.alphanumerics.contains(first)
        else {
            throw .invalid("A user name is 1 to 64 ASCII letters, digits, '.', '_', '-' or '@', starting with a letter or digit; got '\(name.prefix(80))'.")
        }
    }

    /// At least 12 characters; no upper bound below 256 (bcrypt reads 72 bytes, so longer ones are
    /// pre-hashed by ``PasswordPolicy/prepared(_:)``).
    public static func validatePassword(_ password: String) throws(EnsembleError) {
        guard password.count >= 12 else { throw .invalid("A password needs at least 12 characters.") }
        guard password.utf8.count <= 1024 else { throw .invalid("A password may be at most 1024 bytes.") }
    }
}

/// How passwords are turned into bcrypt input: bcrypt ignores bytes past 72, so longer passwords are
/// first reduced to their SHA-256 (hex), keeping every byte significant.
public enum PasswordPolicy {
    /// bcrypt's cost (log2 rounds). 12 costs ~250 ms per check on one core of this class of machine.
    public static let cost: UInt8 = 12

    public static func prepared(_ password: String) -> String {
        password.utf8.count <= 72 ? password : DatasetManifest.hex(SHA256.hash(data: Data(password.utf8)))
    }
}

/// An API token as stored: never the token itself, only its SHA-256.
public struct APIToken: Sendable, Equatable, Codable {
    public var id: Int64
    public var userName: String
    /// What it is for ("laptop", "ci-nightly").
    public var label: String
    /// The first characters of the token (`ens_ab12…`), to recognise it in lists.
    public var hint: String
    public var createdAt: Int64
    public var expiresAt: Int64?
    public var lastUsedAt: Int64?
    public var revokedAt: Int64?

    public init(
        id: Int64 = 0, userName: String, label: String, hint: String, createdAt: Int64, expiresAt: Int64? = nil, lastUsedAt: Int64? = nil,
        revokedAt: Int64? = nil
    ) {
        self.id = id
        self.userName = userName
        self.label = label
        self.hint = hint
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    /// Usable at `now` (milliseconds): not revoked and not expired.
    public func isActive(at now: Int64) -> Bool { revokedAt == nil && (expiresAt.map { now < $0 } ?? true) }
}

/// Making and recognising API tokens: `ens_` followed by 43 base64url characters (32 random bytes).
public enum TokenFormat {
    public static let prefix = "ens_"

    /// A fresh token. Shown once to its owner; only ``hash(_:)`` of it is stored.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Whether a presented secret has a token's shape (so a password is never looked up as one).
    public static func looksLikeToken(_ s: String) -> Bool {
        s.hasPrefix(prefix) && s.utf8.count == prefix.utf8.count + 43
            && s.utf8.dropFirst(prefix.utf8.count).allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }
    }

    /// The stored form: SHA-256, hex. A token has 256 bits of entropy, so a fast hash is enough.
    public static func hash(_ token: String) -> String {
        DatasetManifest.hex(SHA256.hash(data: Data(token.utf8)))
    }

    /// What lists show: the prefix and the first four random characters.
    public static func hint(_ token: String) -> String { String(token.prefix(prefix.count + 4)) + "…" }

    /// `90d`, `12h`, `30m` or `1y` → milliseconds.
    public static func duration(_ text: String) throws(EnsembleError) -> Int64 {
        let units: [Character: Int64] = ["m": 60_000, "h": 3_600_000, "d": 86_400_000, "y": 365 * 86_400_000]
        guard let unit = text.last, let ms = units[unit], let n = Int64(text.dropLast()), n > 0, n <= 100_000 else {
            throw .invalid("A duration is a whole number and a unit: 30m, 12h, 90d or 1y; got '\(text.prefix(40))'.")
        }
        return n * ms
    }
}

/// One line of the audit log: who did what to which thing, when, from where.
public struct AuditEvent: Sendable, Equatable, Codable {
    public var id: Int64
    public var at: Int64
    /// The verified user (nil: anonymous, or a failed sign-in whose name is in `detail`).
    public var actor: String?
    /// `POST /api/2.0/mlflow/runs/create`, `auth.sign_in_failed`, `token.created`, …
    public var action: String
    /// What it acted on (a path, a user name, a token id).
    public var target: String
    public var status: Int
    public var requestID: String?
    public var client: String?
    public var detail: String

    /// The JSON form `/api/v1/audit` answers and `--json` prints (`request_id`).
    enum CodingKeys: String, CodingKey {
        case id, at, actor, action, target, status, client, detail
        case requestID = "request_id"
    }

    public init(
        id: Int64 = 0, at: Int64, actor: String?, action: String, target: String, status: Int = 200, requestID: String? = nil,
        client: String? = nil, detail: String = ""
    ) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.status = status
        self.requestID = requestID
        self.client = client
        self.detail = detail
    }
}

/// Which audit events to list.
public struct AuditQuery: Sendable, Equatable {
    public var actor: String?
    /// A prefix of the action (`token.`, `POST /api/2.0/mlflow/registered-models`).
    public var actionPrefix: String?
    public var since: Int64?
    public var until: Int64?
    public var limit: Int
    /// Events with an id below this one (paging newest first).
    public var before: Int64?

    public init(actor: String? = nil, actionPrefix: String? = nil, since: Int64? = nil, until: Int64? = nil, limit: Int = 100, before: Int64? = nil) {
        self.actor = actor
        self.actionPrefix = actionPrefix
        self.since = since
        self.until = until
        self.limit = limit
        self.before = before
    }
}

/// Accounts, tokens and the audit log.
public protocol IdentityStore: Sendable {
    /// Creates an account. `passwordHash` is a bcrypt hash, nil for service accounts.
    func createUser(_ user: User, passwordHash: String?) async throws -> User
    func user(named name: String) async throws -> User?
    func users() async throws -> [User]
    func userCount() async throws -> Int
    /// Changes role, display name, e-mail, disabled flag and person link.
    func updateUser(_ user: User) async throws -> User
    /// The bcrypt hash to check a password against (nil: no such user, or a service account).
    func passwordHash(user name: String) async throws -> String?
    /// Sets a new password; `passwordChangedAt` moves to now, voiding earlier sessions.
    func setPassword(user name: String, hash: String) async throws

    /// Stores a token by its hash; the token itself never reaches the store.
    func createToken(user name: String, label: String, tokenHash: String, hint: String, expiresAt: Int64?) async throws -> APIToken
    /// The token with this hash and its user, if any (revoked and expired ones included: the caller decides).
    func token(hash: String) async throws -> (APIToken, User)?
    func tokens(user name: String) async throws -> [APIToken]
    /// Revokes a token of this user; revoking twice is fine.
    func revokeToken(id: Int64, user name: String) async throws
    /// Records a use of the token. Answers true only for its first use ever, on any server: the
    /// `token.first_used` audit event is written once per token.
    @discardableResult
    func markTokenUsed(id: Int64, at: Int64) async throws -> Bool

    /// Appends events in one transaction (the audit writer batches them).
    func appendAudit(_ events: [AuditEvent]) async throws
    /// Deletes up to `limit` of the oldest events from before `before` (milliseconds since the epoch)
    /// and answers how many it deleted: the audit log's retention, in bounded transactions.
    func pruneAudit(before: Int64, limit: Int) async throws -> Int
    /// Newest first.
    func audit(_ query: AuditQuery) async throws -> [AuditEvent]
}

/// What a user may do with one resource (MLflow's names). Every signed-in user may read; grants
/// decide who may change (EDIT) and who may delete, share or promote to production (MANAGE).
public enum Permission: String, Sendable, Codable, CaseIterable, Comparable {
    case read = "READ"
    case edit = "EDIT"
    case manage = "MANAGE"

    private var rank: Int {
        switch self {
        case .read: 0
        case .edit: 1
        case .manage: 2
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }

    /// MLflow also knows `USE` and `NO_PERMISSIONS`; `USE` reads as READ, `NO_PERMISSIONS` is refused
    /// (everyone on the team reads everything in Ensemble).
    public init(mlflowName: String) throws(EnsembleError) {
        switch mlflowName.uppercased() {
        case "READ", "USE": self = .read
        case "EDIT": self = .edit
        case "MANAGE": self = .manage
        default: throw .invalid("Invalid permission '\(mlflowName.prefix(40))'; use READ, EDIT or MANAGE.")
        }
    }
}

/// The kinds of resources grants apply to.
public enum ResourceKind: String, Sendable, Codable, CaseIterable {
    case experiment
    case registeredModel = "registered_model"
    case project
    case dataset
}

/// One user's permission on one resource.
public struct Grant: Sendable, Equatable, Codable {
    public var kind: ResourceKind
    /// Experiment id, registered model name, project id or dataset name.
    public var resource: String
    public var user: String
    public var permission: Permission

    public init(kind: ResourceKind, resource: String, user: String, permission: Permission) {
        self.kind = kind
        self.resource = resource
        self.user = user
        self.permission = permission
    }
}

/// Per-resource grants (the creator of a resource gets MANAGE on it).
public protocol GrantStore: Sendable {
    /// Sets (or with nil, removes) a user's permission on a resource.
    func setGrant(_ kind: ResourceKind, _ resource: String, user: String, permission: Permission?) async throws
    func grant(_ kind: ResourceKind, _ resource: String, user: String) async throws -> Permission?
    func grants(_ kind: ResourceKind, _ resource: String) async throws -> [Grant]
    func grants(user: String) async throws -> [Grant]
    /// Deletes an account and its tokens and grants (its audit entries stay).
    func deleteUser(named name: String) async throws
    /// Moves grants when a resource is renamed (registered models).
    func renameGrants(_ kind: ResourceKind, from: String, to: String) async throws
}

/// Small expiring values shared by every server (web sessions), so a user signed in on one server is
/// signed in on all of them.
public protocol ExpiringValueStore: Sendable {
    /// Stores a new value; false if the key exists and has not expired.
    func createValue(key: String, value: [UInt8], expiresAt: Int64?) async throws -> Bool
    func setValue(key: String, value: [UInt8], expiresAt: Int64?) async throws
    /// The value and its expiry, if present and not expired at `now`.
    func value(key: String, now: Int64) async throws -> (value: [UInt8], expiresAt: Int64?)?
    func removeValue(key: String) async throws
    /// Replaces a value with `transform(current)` atomically, even when several servers update the
    /// same key at once (`current` is nil when the key is missing or expired at `now`); answers the
    /// new value. Counters shared by every server (sign-in throttling) are made with it.
    func updateValue(key: String, now: Int64, expiresAt: Int64?, _ transform: @escaping @Sendable ([UInt8]?) -> [UInt8]) async throws -> [UInt8]
    /// Removes what expired before `now`; returns how many.
    func removeExpiredValues(now: Int64) async throws -> Int
}

extension User {
    /// Checks the editable profile fields: display name, e-mail address, linked person.
    public func validateProfile() throws {
        try Validation.validateDisplayName(displayName.isEmpty ? name : displayName, field: "display name", maxLength: 200)
        guard email.count <= 254, !email.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw EnsembleError.invalid("The e-mail address '\(email.prefix(80))' is not valid.")
        }
        if let person = personID, person.isEmpty || person.count > 200 || person.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw EnsembleError.invalid("person_id must be the id of a person of the team directory (1 to 200 characters); got '\(person.prefix(80))'.")
        }
        if !email.isEmpty, !email.contains("@") { throw EnsembleError.invalid("The e-mail address '\(email.prefix(80))' has no '@'.") }
    }
}

extension APIToken {
    /// A token's name, trimmed: at most 100 characters, without control characters.
    public static func checkedLabel(_ label: String) throws -> String {
        let label = label.trimmingCharacters(in: .whitespaces)
        guard label.count <= 100, !label.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw EnsembleError.invalid("A token's name is at most 100 characters, without control characters.")
        }
        return label
    }
}
