import EnsembleCore
import Foundation
import Hummingbird
import HummingbirdBcrypt
import NIOPosix

/// A user as the API shows it (never a password hash).
struct UserJSON: Codable {
    let name: String
    let displayName: String
    let email: String
    let role: String
    let disabled: Bool
    let serviceAccount: Bool
    let personID: String?
    let createdAt: Int64

    enum CodingKeys: String, CodingKey {
        case name, email, role, disabled
        case displayName = "display_name", serviceAccount = "service_account", personID = "person_id", createdAt = "created_at"
    }

    init(_ u: User) {
        (name, displayName, email, role, disabled) = (u.name, u.displayName, u.email, u.role.rawValue, u.disabled)
        (serviceAccount, personID, createdAt) = (u.isServiceAccount, u.personID, u.createdAt)
    }
}

/// A token as lists show it: its hint, never the token.
struct TokenJSON: Encodable {
    let id: Int64
    let user: String
    let name: String
    let hint: String
    let createdAt: Int64
    let expiresAt: Int64?
    let lastUsedAt: Int64?
    let revokedAt: Int64?
    let active: Bool

    enum CodingKeys: String, CodingKey {
        case id, user, name, hint, active
        case createdAt = "created_at", expiresAt = "expires_at", lastUsedAt = "last_used_at", revokedAt = "revoked_at"
    }

    init(_ t: APIToken, now: Int64) {
        (id, user, name, hint, createdAt) = (t.id, t.userName, t.label, t.hint, t.createdAt)
        (expiresAt, lastUsedAt, revokedAt, active) = (t.expiresAt, t.lastUsedAt, t.revokedAt, t.isActive(at: now))
    }
}

/// Creating users and tokens, shared by the API and `ensemble admin` (which works offline on the data folder).
public enum AccountAdmin {
    /// Creates an account; `password` is required unless it is a service account.
    public static func createUser(_ user: User, password: String?, store: any IdentityStore) async throws -> User {
        // Before bcrypt (a quarter of a second), so a bad name is refused at once.
        try User.validateName(user.name)
        var hash: String?
        if !user.isServiceAccount {
            guard let password else { throw EnsembleError.invalid("A user needs a password (at least 12 characters); service accounts use tokens instead.") }
            try User.validatePassword(password)
            hash = try await hashPassword(password)
        }
        return try await store.createUser(user, passwordHash: hash)
    }

    /// Whether `password` is the user's current one (false for unknown users and service accounts).
    public static func checkPassword(_ password: String?, user: String, store: any IdentityStore) async throws -> Bool {
        guard let password, let hash = try await store.passwordHash(user: user) else { return false }
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(PasswordPolicy.prepared(password), hash: hash) }
    }

    public static func hashPassword(_ password: String) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(PasswordPolicy.prepared(password), cost: PasswordPolicy.cost) }
    }

    /// A new token for `user`: the token (to show once) and its stored record.
    public static func createToken(user: String, label: String, expiresIn: String?, store: any IdentityStore) async throws -> (String, APIToken) {
        let expires = try expiresIn.map { Authenticator.now() + (try TokenFormat.duration($0)) }
        let secret = TokenFormat.generate()
        let token = try await store.createToken(user: user, label: label, tokenHash: TokenFormat.hash(secret), hint: TokenFormat.hint(secret), expiresAt: expires)
        return (secret, token)
    }
}

/// `/api/v1/me`, `/api/v1/me/tokens`, `/api/v1/users` and `/api/v1/audit`.
struct IdentityHandlers: Sendable {
    let store: any IdentityStore
    let audit: AuditWriter
    let authRequired: Bool
    /// Told when tokens, roles or passwords change, so its caches forget them.
    var authenticator: Authenticator? = nil

    /// The signed-in user (or, in single-user mode, who the requests say they are).
    func me(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        struct Answer: Encodable {
            let mode: String
            let user: UserJSON?
            let via: String?
        }
        var user: User?
        if let p = context.principal, p.isVerified { user = try await store.user(named: p.name) }
        return try CodableResponse.ok(Answer(mode: authRequired ? "required" : "single-user", user: user.map(UserJSON.init), via: context.principal?.method))
    }

    /// The acting user for self-service calls; single-user mode has none.
    func currentUser(_ context: EnsembleRequestContext) throws -> String {
        guard let p = context.principal, p.isVerified else {
            throw EnsembleError.invalid("Tokens belong to a user: this needs authentication on (ensemble serve --auth required) and a signed-in user.")
        }
        return p.name
    }

    func myTokens(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        try await tokens(of: try currentUser(context))
    }

    func tokens(of user: String) async throws -> Response {
        struct Answer: Encodable { let tokens: [TokenJSON] }
        let now = Authenticator.now()
        return try CodableResponse.ok(Answer(tokens: try await store.tokens(user: user).map { TokenJSON($0, now: now) }))
    }

    struct NewToken: Decodable {
        let name: String?
        let expiresIn: String?
        enum CodingKeys: String, CodingKey {
            case name
            case expiresIn = "expires_in"
        }
    }

    func createMyToken(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        try await createToken(for: try currentUser(context), request, context)
    }

    func createToken(for user: String, _ request: Request, _ context: EnsembleRequestContext) async throws -> Response {
        struct Answer: Encodable {
            let token: String
            let info: TokenJSON
            let note = "Copy the token now: Ensemble keeps only its hash and cannot show it again."
        }
        let body = try await request.decodeJSON(NewToken.self, context)
        let (secret, token) = try await AccountAdmin.createToken(user: user, label: body.name ?? "", expiresIn: body.expiresIn, store: store)
        audit.security(context, actor: context.actor, action: "token.created", target: "token \(token.id) of \(user)", detail: token.hint)
        return try CodableResponse.ok(Answer(token: secret, info: TokenJSON(token, now: Authenticator.now())), status: .created)
    }

    func revokeMyToken(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let user = try currentUser(context)
        guard let id = Int64(try context.capture("id")) else { throw EnsembleError.invalid("A token id is a number (see GET /api/v1/me/tokens).") }
        try await store.revokeToken(id: id, user: user)
        authenticator?.invalidate()
        audit.security(context, actor: user, action: "token.revoked", target: "token \(id) of \(user)")
        return JSONResponse.emptyObject
    }

    // MARK: Users (admin)

    func listUsers(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        struct Answer: Encodable { let users: [UserJSON] }
        return try CodableResponse.ok(Answer(users: try await store.users().map(UserJSON.init)))
    }

    struct NewUser: Decodable {
        let name: String
        let displayName: String?
        let email: String?
        let role: String?
        let password: String?
        let serviceAccount: Bool?
        let personID: String?
        enum CodingKeys: String, CodingKey {
            case name, email, role, password
            case displayName = "display_name", serviceAccount = "service_account", personID = "person_id"
        }
    }

    static func role(_ text: String?) throws -> InstanceRole? {
        guard let text else { return nil }
        guard let role = InstanceRole(rawValue: text) else { throw EnsembleError.invalid("role must be viewer, member or admin; got '\(text.prefix(40))'.") }
        return role
    }

    func createUser(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let body = try await request.decodeJSON(NewUser.self, context)
        let user = User(
            name: body.name, displayName: body.displayName ?? "", email: body.email ?? "", role: try Self.role(body.role) ?? .member,
            isServiceAccount: body.serviceAccount ?? false, personID: body.personID)
        let created = try await AccountAdmin.createUser(user, password: body.password, store: store)
        audit.security(context, actor: context.actor, action: "user.created", target: "user \(created.name)", detail: "role \(created.role.rawValue)")
        return try CodableResponse.ok(UserJSON(created), status: .created)
    }

    struct UserChange: Decodable {
        let displayName: String?
        let email: String?
        let role: String?
        let disabled: Bool?
        let personID: String?
        enum CodingKeys: String, CodingKey {
            case email, role, disabled
            case displayName = "display_name", personID = "person_id"
        }
    }

    func updateUser(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let name = try context.capture("name")
        let change = try await request.decodeJSON(UserChange.self, context)
        guard var user = try await store.user(named: name) else { throw EnsembleError.notFound("No user named '\(name)'.") }
        let before = user
        if let v = change.displayName { user.displayName = v }
        if let v = change.email { user.email = v }
        if let v = try Self.role(change.role) { user.role = v }
        if let v = change.disabled { user.disabled = v }
        if let v = change.personID { user.personID = v.isEmpty ? nil : v }
        let updated = try await store.updateUser(user)
        authenticator?.invalidate()
        var what: [String] = []
        if before.role != updated.role { what.append("role \(before.role.rawValue) → \(updated.role.rawValue)") }
        if before.disabled != updated.disabled { what.append(updated.disabled ? "disabled" : "enabled") }
        audit.security(context, actor: context.actor, action: "user.updated", target: "user \(name)", detail: what.joined(separator: ", "))
        return try CodableResponse.ok(UserJSON(updated))
    }

    /// Changes a password: the user themself (with the current password) or an admin.
    func setPassword(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        struct Change: Decodable {
            let password: String
            let currentPassword: String?
            enum CodingKeys: String, CodingKey {
                case password
                case currentPassword = "current_password"
            }
        }
        let name = try context.capture("name")
        let body = try await request.decodeJSON(Change.self, context)
        let isAdmin = !authRequired || context.principal?.role == .admin
        if !isAdmin {
            guard context.principal?.name == name else { throw EnsembleError.denied("Only an admin can change another user's password.") }
            guard try await AccountAdmin.checkPassword(body.currentPassword, user: name, store: store) else {
                throw EnsembleError.denied("The current password is wrong.")
            }
        }
        try User.validatePassword(body.password)
        guard try await store.user(named: name) != nil else { throw EnsembleError.notFound("No user named '\(name)'.") }
        try await store.setPassword(user: name, hash: try await AccountAdmin.hashPassword(body.password))
        authenticator?.invalidate()
        audit.security(context, actor: context.actor, action: "user.password_changed", target: "user \(name)")
        return JSONResponse.emptyObject
    }

    func userTokens(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let name = try context.capture("name")
        guard try await store.user(named: name) != nil else { throw EnsembleError.notFound("No user named '\(name)'.") }
        return try await tokens(of: name)
    }

    func createUserToken(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        try await createToken(for: try context.capture("name"), request, context)
    }

    // MARK: Audit (admin)

    func auditLog(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        struct Answer: Encodable {
            let events: [AuditEvent]
            let nextBefore: Int64?
            enum CodingKeys: String, CodingKey {
                case events
                case nextBefore = "next_before"
            }
        }
        // What is still in the writer's buffer belongs in the answer too.
        await audit.flush()
        let q = try request.queryFields()
        let limit = Int(try q.int64("limit", in: 1...1000) ?? 100)
        let query = AuditQuery(
            actor: try q.string("actor"), actionPrefix: try q.string("action"), since: try q.int64("since"), until: try q.int64("until"),
            limit: limit, before: try q.int64("before"))
        let events = try await store.audit(query)
        return try CodableResponse.ok(
            Answer(events: events, nextBefore: events.count == limit ? events.last?.id : nil))
    }
}

extension IdentityHandlers {
    var routes: RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        // Self-service: any signed-in user, whatever their role.
        r.get("me", .read, use: me)
        r.get("me/tokens", .read, use: myTokens)
        r.post("me/tokens", .read, use: createMyToken)
        r.delete("me/tokens/{id}", .read, use: revokeMyToken)
        r.post("users/{name}/password", .read, use: setPassword)
        // Administration.
        r.get("users", .admin, use: listUsers)
        r.post("users", .admin, use: createUser)
        r.patch("users/{name}", .admin, use: updateUser)
        r.get("users/{name}/tokens", .admin, use: userTokens)
        r.post("users/{name}/tokens", .admin, use: createUserToken)
        r.get("audit", .admin, use: auditLog)
        return r
    }
}
