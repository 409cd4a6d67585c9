import Crypto
import EnsembleCore
import EnsembleJSON
import Foundation
import Hummingbird

/// The MLflow auth client's REST API (`mlflow.server.get_app_client("basic-auth", …)`): users under
/// `/api/2.0/mlflow/users/…`, per-resource permissions under `/api/3.0/mlflow/users/permissions/…`.
/// They act on Ensemble's own accounts and grants, so what an MLflow script sets is what the UI shows.
struct MLflowAuthHandlers: Sendable {
    let identity: any IdentityStore & GrantStore
    let audit: AuditWriter
    /// Told when roles or passwords change, so its caches forget them.
    var authenticator: Authenticator? = nil

    /// MLflow's users have numeric ids; ours are keyed by name, so the id is a stable hash of it.
    static func userID(_ name: String) -> Int64 {
        let digest = SHA256.hash(data: Data(name.utf8))
        return Int64(digest.prefix(6).reduce(0) { $0 << 8 | Int64($1) })
    }

    func userJSON(_ user: User) async throws -> Response {
        let grants = try await identity.grants(user: user.name)
        let id = Self.userID(user.name)
        var w = JSONWriter()
        w.beginObject()
        w.key("user")
        w.beginObject()
        w.member("id", id)
        w.member("username", user.name)
        w.member("is_admin", user.isAdmin)
        let lists: [(StaticString, ResourceKind, StaticString)] = [
            ("experiment_permissions", .experiment, "experiment_id"), ("registered_model_permissions", .registeredModel, "name"),
        ]
        for (field, kind, idKey) in lists {
            w.key(field)
            w.beginArray()
            for g in grants where g.kind == kind {
                w.beginObject()
                w.key(idKey)
                w.string(g.resource)
                w.member("user_id", id)
                w.member("permission", g.permission.rawValue)
                w.endObject()
            }
            w.endArray()
        }
        w.endObject()
        w.endObject()
        return JSONResponse.ok(w)
    }

    func user(_ name: String) async throws -> User {
        guard let user = try await identity.user(named: name) else { throw EnsembleError.notFound("User with username=\(name) not found") }
        return user
    }

    /// Admins (or anyone in single-user mode) and the user themself.
    static func requireSelfOrAdmin(_ context: EnsembleRequestContext, _ name: String) throws {
        guard context.authenticationRequired, context.principal?.role != .admin else { return }
        guard context.principal?.name == name else { throw EnsembleError.denied("Only an admin can see or change another user.") }
    }

    func createUser(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let name = try f.requiredString("username")
        let created = try await AccountAdmin.createUser(User(name: name, role: .member), password: try f.requiredString("password"), store: identity)
        audit.security(context, actor: context.actor, action: "user.created", target: "user \(name)", detail: "through the MLflow auth API")
        return try await userJSON(created)
    }

    func getUser(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let name = try await request.fields(context).requiredString("username")
        try Self.requireSelfOrAdmin(context, name)
        return try await userJSON(try await user(name))
    }

    func currentUser(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        guard let p = context.principal, p.isVerified else { throw EnsembleError.invalid("Single-user mode: there is no signed-in user.") }
        return try await userJSON(try await user(p.name))
    }

    func updatePassword(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let name = try f.requiredString("username")
        let password = try f.requiredString("password")
        try Self.requireSelfOrAdmin(context, name)
        if context.authenticationRequired, context.principal?.role != .admin {
            guard try await AccountAdmin.checkPassword(try f.string("current_password"), user: name, store: identity) else {
                throw EnsembleError.denied("The current password is wrong (current_password).")
            }
        }
        try User.validatePassword(password)
        _ = try await user(name)
        try await identity.setPassword(user: name, hash: try await AccountAdmin.hashPassword(password))
        authenticator?.invalidate()
        audit.security(context, actor: context.actor, action: "user.password_changed", target: "user \(name)")
        return JSONResponse.emptyObject
    }

    func updateAdmin(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let name = try f.requiredString("username")
        guard let isAdmin = try f.bool("is_admin") else { throw EnsembleError.missing("is_admin") }
        var u = try await user(name)
        u.role = isAdmin ? .admin : (u.role == .admin ? .member : u.role)
        _ = try await identity.updateUser(u)
        authenticator?.invalidate()
        audit.security(context, actor: context.actor, action: "user.updated", target: "user \(name)", detail: "admin \(isAdmin)")
        return JSONResponse.emptyObject
    }

    func deleteUser(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let name = try await request.fields(context).requiredString("username")
        try await identity.deleteUser(named: name)
        authenticator?.invalidate()
        audit.security(context, actor: context.actor, action: "user.deleted", target: "user \(name)")
        return JSONResponse.emptyObject
    }

    // MARK: Permissions

    static func kind(_ f: RequestFields) throws -> ResourceKind {
        let raw = try f.requiredString("resource_type")
        guard let kind = ResourceKind(rawValue: raw) else {
            throw EnsembleError.invalid("Invalid resource_type '\(raw.prefix(40))'; use experiment, registered_model, project or dataset.")
        }
        return kind
    }

    /// Granting and revoking need MANAGE on the resource (its creator has it) or the admin role.
    func requireManage(_ context: EnsembleRequestContext, _ kind: ResourceKind, _ resource: String) async throws {
        guard context.authenticationRequired, let control = context.accessControl, let p = context.principal else { return }
        try await control.require(p, .manage, kind, resource)
    }

    /// Through the access control when authentication is on, so this server's cache forgets the old value.
    func setGrant(_ context: EnsembleRequestContext, _ kind: ResourceKind, _ resource: String, user: String, _ permission: Permission?) async throws {
        if let control = context.accessControl {
            try await control.set(kind, resource, user: user, permission)
        } else {
            try await identity.setGrant(kind, resource, user: user, permission: permission)
        }
    }

    func grant(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let (name, kind, resource) = (try f.requiredString("username"), try Self.kind(f), try f.requiredString("resource_id"))
        let permission = try Permission(mlflowName: try f.requiredString("permission"))
        _ = try await user(name)
        try await requireManage(context, kind, resource)
        try await setGrant(context, kind, resource, user: name, permission)
        audit.security(context, actor: context.actor, action: "grant.set", target: "\(kind.rawValue) \(resource)", detail: "\(name): \(permission.rawValue)")
        return JSONResponse.emptyObject
    }

    func revoke(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let (name, kind, resource) = (try f.requiredString("username"), try Self.kind(f), try f.requiredString("resource_id"))
        _ = try await user(name)
        try await requireManage(context, kind, resource)
        try await setGrant(context, kind, resource, user: name, nil)
        audit.security(context, actor: context.actor, action: "grant.revoked", target: "\(kind.rawValue) \(resource)", detail: name)
        return JSONResponse.emptyObject
    }

    /// The user's effective permission: their grant, else their role's or the members' default.
    func getPermission(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let (name, kind, resource) = (try f.requiredString("username"), try Self.kind(f), try f.requiredString("resource_id"))
        let u = try await user(name)
        let permission: Permission
        if let control = context.accessControl {
            permission = try await control.permission(Principal(name: u.name, isVerified: true, role: u.role), kind, resource)
        } else {
            permission = try await identity.grant(kind, resource, user: name) ?? .manage
        }
        var w = JSONWriter()
        w.beginObject()
        w.member("allowed", true)
        w.member("permission", permission.rawValue)
        w.endObject()
        return JSONResponse.ok(w)
    }
}

extension MLflowAuthHandlers {
    /// Mounted with the MLflow API at `/api/2.0/mlflow` and `/ajax-api/2.0/mlflow`.
    var userRoutes: RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.post("users/create", .admin, use: createUser)
        r.get("users/get", .read, use: getUser)
        r.get("users/current", .read, use: currentUser)
        r.patch("users/update-password", .read, use: updatePassword)
        r.patch("users/update-admin", .admin, use: updateAdmin)
        r.delete("users/delete", .admin, use: deleteUser)
        return r
    }

    /// Mounted at `/api/3.0/mlflow` and `/ajax-api/3.0/mlflow`.
    var permissionRoutes: RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.post("users/permissions/grant", .read, use: grant)
        r.post("users/permissions/revoke", .read, use: revoke)
        r.get("users/permissions/get", .read, use: getPermission)
        return r
    }
}
