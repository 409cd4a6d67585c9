import EnsembleCore
import Foundation
import Hummingbird
import HummingbirdAuth

/// Signing in and out, your account (password, API tokens), and the admin pages (users, audit log).
/// Exists with authentication on; in single-user mode these pages say there is nothing to sign in to.
struct AccountPages: Sendable {
    let web: WebHandlers
    let identity: any IdentityStore
    let authenticator: Authenticator
    let audit: AuditWriter
    /// How long a browser stays signed in.
    static let sessionLifetime: Duration = .seconds(12 * 3600)

    struct SignInForm: Decodable {
        let user: String?
        let password: String?
        let next: String?
    }

    /// Only a path on this server (never `//host` or a scheme), so sign-in cannot redirect elsewhere.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\"), !next.contains("\r"), !next.contains("\n") else { return "/" }
        return next
    }

    func signInPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        guard c.authenticationRequired else { return WebHandlers.redirect("/") }
        let next = Self.safeNext(WebHandlers.param(WebHandlers.query(r), "next"))
        return web.render(c, "signin", SignInView(next: next, error: nil, user: ""))
    }

    func signIn(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        guard c.authenticationRequired else { return WebHandlers.redirect("/") }
        let form = try await WebHandlers.form(SignInForm.self, r)
        let name = (form.user ?? "").trimmingCharacters(in: .whitespaces)
        let next = Self.safeNext(form.next)
        do {
            guard !name.isEmpty, let password = form.password, !password.isEmpty else { throw Authenticator.Failure(message: "Give your user name and password.") }
            let (user, _, _) = try await authenticator.user(name: name, password: password, client: c.clientAddress)
            // A new session id on every sign-in (no fixation), with its own CSRF token.
            c.sessions.createSession(WebSession(user: user.name, csrf: TokenFormat.generate(), passwordChangedAt: user.passwordChangedAt), expiresIn: Self.sessionLifetime)
            audit.security(c, actor: user.name, action: "auth.signed_in", target: "user \(user.name)")
            return WebHandlers.redirect(next)
        } catch let failure as Authenticator.Failure {
            audit.security(c, actor: nil, action: "auth.failed", target: "user \(name.prefix(64))", detail: failure.message, status: 401)
            return web.render(c, "signin", SignInView(next: next, error: failure.message, user: name), status: .unauthorized)
        }
    }

    func signOut(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        if c.sessions.session != nil {
            c.sessions.clearSession()
            audit.security(c, actor: c.actor, action: "auth.signed_out", target: "user \(c.actor ?? "")")
        }
        return WebHandlers.redirect("/signin")
    }

    // MARK: Account

    func signedInUser(_ c: EnsembleRequestContext) async throws -> User {
        guard let p = c.principal, p.isVerified, let user = try await identity.user(named: p.name) else {
            throw EnsembleError.invalid("Single-user mode has no accounts; start the server with --auth required to use them.")
        }
        return user
    }

    func accountView(_ c: EnsembleRequestContext, newToken: String? = nil, message: String? = nil, error: String? = nil) async throws -> AccountView {
        let user = try await signedInUser(c)
        let now = Authenticator.now()
        func day(_ ms: Int64?) -> String { ms.map { String(WebHandlers.when($0).prefix(10)) } ?? "—" }
        let tokens = try await identity.tokens(user: user.name).map { t in
            AccountView.Token(
                id: t.id, name: t.label.isEmpty ? "—" : t.label, hint: t.hint, created: day(t.createdAt), expires: t.expiresAt.map { day($0) } ?? "never",
                lastUsed: t.lastUsedAt.map { WebHandlers.when($0) } ?? "never",
                state: t.revokedAt != nil ? "revoked" : (t.isActive(at: now) ? "active" : "expired"), active: t.isActive(at: now))
        }
        return AccountView(
            name: user.name, displayName: user.displayName, email: user.email, role: user.role.rawValue, tokens: tokens, newToken: newToken,
            message: message, error: error)
    }

    func account(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        web.render(c, "account", try await accountView(c))
    }

    struct TokenForm: Decodable {
        let name: String?
        let expires_in: String?
    }

    func createToken(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let user = try await signedInUser(c)
        let form = try await WebHandlers.form(TokenForm.self, r)
        do {
            let expires = form.expires_in.flatMap { $0.isEmpty ? nil : $0 }
            let (secret, token) = try await AccountAdmin.createToken(user: user.name, label: form.name ?? "", expiresIn: expires, store: identity)
            audit.security(c, actor: user.name, action: "token.created", target: "token \(token.id) of \(user.name)", detail: token.hint)
            return web.render(c, "account", try await accountView(c, newToken: secret))
        } catch let error as EnsembleError {
            return web.render(c, "account", try await accountView(c, error: error.message), status: .badRequest)
        }
    }

    func revokeToken(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let user = try await signedInUser(c)
        guard let id = Int64(try c.capture("id")) else { throw EnsembleError.invalid("A token id is a number.") }
        try await identity.revokeToken(id: id, user: user.name)
        authenticator.invalidate()
        audit.security(c, actor: user.name, action: "token.revoked", target: "token \(id) of \(user.name)")
        return WebHandlers.redirect("/account")
    }

    struct PasswordForm: Decodable {
        let current: String?
        let password: String?
    }

    func changePassword(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let user = try await signedInUser(c)
        let form = try await WebHandlers.form(PasswordForm.self, r)
        guard try await AccountAdmin.checkPassword(form.current, user: user.name, store: identity) else {
            return web.render(c, "account", try await accountView(c, error: "The current password is wrong."), status: .badRequest)
        }
        do {
            let password = form.password ?? ""
            try User.validatePassword(password)
            try await identity.setPassword(user: user.name, hash: try await AccountAdmin.hashPassword(password))
            authenticator.invalidate()
        } catch let error as EnsembleError {
            return web.render(c, "account", try await accountView(c, error: error.message), status: .badRequest)
        }
        audit.security(c, actor: user.name, action: "user.password_changed", target: "user \(user.name)")
        // Every session of this user is void now, this one included: sign in again with the new password.
        c.sessions.clearSession()
        return WebHandlers.redirect("/signin")
    }

    // MARK: Admin

    func usersView(message: String? = nil, error: String? = nil) async throws -> AdminUsersView {
        AdminUsersView(
            users: try await identity.users().map { u in
                AdminUsersView.Row(
                    name: u.name, displayName: u.displayName, email: u.email, role: u.role.rawValue, kind: u.isServiceAccount ? "service account" : "person",
                    state: u.disabled ? "disabled" : "active", disabled: u.disabled, serviceAccount: u.isServiceAccount,
                    roles: InstanceRole.allCases.map { AdminUsersView.Choice(value: $0.rawValue, selected: $0 == u.role) })
            }, error: error, message: message)
    }

    func users(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        web.render(c, "adminUsers", try await usersView())
    }

    struct NewUserForm: Decodable {
        let name: String?
        let display_name: String?
        let email: String?
        let role: String?
        let password: String?
    }

    func createUser(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let form = try await WebHandlers.form(NewUserForm.self, r)
        do {
            let name = (form.name ?? "").trimmingCharacters(in: .whitespaces)
            let password = form.password.flatMap { $0.isEmpty ? nil : $0 }
            let user = User(
                name: name, displayName: form.display_name ?? "", email: form.email ?? "", role: InstanceRole(rawValue: form.role ?? "") ?? .member,
                isServiceAccount: password == nil)
            let created = try await AccountAdmin.createUser(user, password: password, store: identity)
            audit.security(c, actor: c.actor, action: "user.created", target: "user \(created.name)", detail: "role \(created.role.rawValue)")
            return web.render(c, "adminUsers", try await usersView(message: "Created '\(created.name)'."))
        } catch let error as EnsembleError {
            return web.render(c, "adminUsers", try await usersView(error: error.message), status: .badRequest)
        }
    }

    struct UserForm: Decodable {
        let role: String?
        let disabled: String?
    }

    func updateUser(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let name = try c.capture("name")
        let form = try await WebHandlers.form(UserForm.self, r)
        guard var user = try await identity.user(named: name) else { throw EnsembleError.notFound("No user named '\(name)'.") }
        if let role = form.role.flatMap(InstanceRole.init(rawValue:)) { user.role = role }
        user.disabled = form.disabled == "1"
        do {
            _ = try await identity.updateUser(user)
            authenticator.invalidate()
        } catch let error as EnsembleError {
            return web.render(c, "adminUsers", try await usersView(error: error.message), status: .badRequest)
        }
        audit.security(c, actor: c.actor, action: "user.updated", target: "user \(name)", detail: "role \(user.role.rawValue)\(user.disabled ? ", disabled" : "")")
        return web.render(c, "adminUsers", try await usersView(message: "Saved '\(name)'."))
    }

    func createServiceToken(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let name = try c.capture("name")
        let form = try await WebHandlers.form(TokenForm.self, r)
        guard let user = try await identity.user(named: name) else { throw EnsembleError.notFound("No user named '\(name)'.") }
        let (secret, token) = try await AccountAdmin.createToken(user: user.name, label: form.name ?? "", expiresIn: nil, store: identity)
        audit.security(c, actor: c.actor, action: "token.created", target: "token \(token.id) of \(user.name)", detail: token.hint)
        var view = try await usersView(message: "New token for '\(user.name)'.")
        view.newToken = secret
        return web.render(c, "adminUsers", view)
    }

    struct GrantForm: Decodable {
        let user: String?
        let kind: String?
        let resource: String?
        let permission: String?
    }

    func grantsView(message: String? = nil, error: String? = nil) async throws -> AdminGrantsView {
        let users = try await identity.users()
        var rows: [AdminGrantsView.Row] = []
        if let grants = identity as? any GrantStore {
            for u in users {
                for g in try await grants.grants(user: u.name) {
                    rows.append(AdminGrantsView.Row(kind: g.kind.rawValue, resource: g.resource, user: g.user, permission: g.permission.rawValue))
                }
            }
        }
        rows.sort { ($0.kind, $0.resource, $0.user) < ($1.kind, $1.resource, $1.user) }
        return AdminGrantsView(
            grants: rows, users: users.filter { !$0.disabled }.map(\.name), kinds: ResourceKind.allCases.map(\.rawValue), error: error, message: message)
    }

    func grants(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        web.render(c, "adminGrants", try await grantsView())
    }

    func setGrant(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let form = try await WebHandlers.form(GrantForm.self, r)
        do {
            guard let user = form.user, let kind = form.kind.flatMap(ResourceKind.init(rawValue:)),
                let resource = form.resource?.trimmingCharacters(in: .whitespaces), !resource.isEmpty
            else { throw EnsembleError.invalid("Choose a user, a kind and a resource.") }
            let permission = try form.permission.flatMap { $0.isEmpty ? nil : try Permission(mlflowName: $0) }
            guard let control = c.accessControl else { throw EnsembleError.invalid("Grants need authentication on.") }
            try await control.set(kind, resource, user: user, permission)
            audit.security(c, actor: c.actor, action: permission == nil ? "grant.revoked" : "grant.set", target: "\(kind.rawValue) \(resource)",
                detail: "\(user): \(permission?.rawValue ?? "none")")
            return web.render(c, "adminGrants", try await grantsView(message: "Saved."))
        } catch let error as EnsembleError {
            return web.render(c, "adminGrants", try await grantsView(error: error.message), status: .badRequest)
        }
    }

    func auditLog(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        await audit.flush()
        let q = WebHandlers.query(r)
        let actor = WebHandlers.param(q, "actor") ?? "", action = WebHandlers.param(q, "action") ?? ""
        let events = try await identity.audit(AuditQuery(actor: actor.isEmpty ? nil : actor, actionPrefix: action.isEmpty ? nil : action, limit: 500))
        return web.render(
            c, "adminAudit",
            AdminAuditView(
                actor: actor, action: action,
                events: events.map {
                    AdminAuditView.Row(
                        when: WebHandlers.when($0.at), actor: $0.actor ?? "—", action: $0.action, target: $0.target, client: $0.client ?? "",
                        detail: $0.detail, status: $0.status, failed: $0.status >= 400)
                }))
    }
}

extension AccountPages {
    var routes: RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.get("signin", .open, use: signInPage)
        r.post("signin", .open, use: signIn)
        r.post("signout", .read, use: signOut)
        r.get("account", .read, use: account)
        r.post("account/tokens", .read, use: createToken)
        r.post("account/tokens/{id}/revoke", .read, use: revokeToken)
        r.post("account/password", .read, use: changePassword)
        r.get("admin/users", .admin, use: users)
        r.post("admin/users", .admin, use: createUser)
        r.post("admin/users/{name}", .admin, use: updateUser)
        r.post("admin/users/{name}/tokens", .admin, use: createServiceToken)
        r.get("admin/grants", .admin, use: grants)
        r.post("admin/grants", .admin, use: setGrant)
        r.get("admin/audit", .admin, use: auditLog)
        return r
    }
}
