import EnsembleCore
import Hummingbird

/// What a route needs from the caller, declared when the route is registered
/// (`r.get("runs/get", .read, use: getRun)`). A route registered without a declaration cannot pass
/// `RouteAccessTests`, which asks every route of the router anonymously and as each role.
///
/// Today the levels map onto instance roles (viewer: read; member: read, edit, manage; admin: all).
/// Per-resource grants (READ / EDIT / MANAGE on one experiment or model) refine `edit` and `manage`
/// next, without changing any declaration.
public enum Access: String, Sendable, Hashable, CaseIterable {
    /// No identity needed, even with authentication on: health, version, static assets.
    case open
    /// Reading: pages, gets, searches (MLflow's searches are POSTs and still `read`).
    case read
    /// Creating and changing the team's work.
    case edit
    /// Deleting, restoring, renaming a whole resource; later also grants and production stages.
    case manage
    /// Instance administration: users, everyone's tokens, the audit log.
    case admin

    /// The least instance role that passes this level.
    var minimumRole: InstanceRole? {
        switch self {
        case .open: nil
        case .read: .viewer
        case .edit, .manage: .member
        case .admin: .admin
        }
    }
}

/// Which resource a write touches, so that its grant can be checked (members only: admins may do
/// everything, viewers nothing that writes). Reads are not scoped: everyone signed in reads everything.
public enum Scope: Sendable {
    /// An experiment id in a field (`experiment_id`; missing means the default experiment `0`).
    case experiment
    /// A run id in a field (`run_id` / `run_uuid`), checked on its experiment.
    case run
    /// A run id in the query (`run_uuid`), for routes whose body is not JSON (upload-artifact).
    case runInQuery
    /// A logged model id in the path (`{model_id}`), checked on its experiment.
    case loggedModel
    /// A registered model name in a field (`name`).
    case registeredModel
    /// Like `registeredModel`, and setting or deleting a protected alias (`champion`, …) needs MANAGE.
    case modelAlias
    /// Like `registeredModel`, and moving a version to `Production` needs MANAGE.
    case modelStage
    /// A project id in the path (`{id}`).
    case project
    /// A dataset name in the path (`{name}`).
    case dataset
    /// An artifact path whose first segment is the experiment id (the artifact proxy).
    case artifactPath
}

extension EnsembleRequestContext {
    /// Checks the acting member's grant on the resource the request touches, at `access` (EDIT for
    /// `edit`, MANAGE for `manage`, MANAGE for production moves). Parsed fields are kept in the
    /// context, so the handler does not parse the body again.
    mutating func authorize(_ access: Access, scope: Scope, request: Request) async throws {
        guard authenticationRequired, access == .edit || access == .manage, let principal, principal.role == .member,
            let control = accessControl
        else { return }
        var needed: Permission = access == .manage ? .manage : .edit
        let kind: ResourceKind
        let resource: String
        switch scope {
        case .experiment:
            let f = try await cachedFields(request)
            (kind, resource) = (.experiment, try f.string("experiment_id").flatMap { $0.isEmpty ? nil : $0 } ?? "0")
        case .run:
            let f = try await cachedFields(request)
            guard let id = try? f.runID() else { return }  // the handler answers the missing field
            (kind, resource) = (.experiment, try await control.experiment(owning: id))
        case .runInQuery:
            guard let id = try request.queryFields().string("run_uuid"), !id.isEmpty else { return }
            (kind, resource) = (.experiment, try await control.experiment(owning: id))
        case .loggedModel:
            (kind, resource) = (.experiment, try await control.experiment(owning: try capture("model_id")))
        case .registeredModel, .modelAlias, .modelStage:
            let f = try await cachedFields(request)
            guard let name = try f.string("name"), !name.isEmpty else { return }
            (kind, resource) = (.registeredModel, name)
            if case .modelAlias = scope, let alias = try f.string("alias"), control.protectedAliases.contains(alias.lowercased()) { needed = .manage }
            if case .modelStage = scope, try f.string("stage")?.lowercased() == "production" { needed = .manage }
        case .project:
            (kind, resource) = (.project, try capture("id"))
        case .dataset:
            let name = try capture("name")
            // The first version of a new dataset needs only the member role (its author then manages it).
            guard try await control.datasetExists(name) else { return }
            (kind, resource) = (.dataset, name)
        case .artifactPath:
            guard let first = try catchAllPath(of: request).split(separator: "/").first else { return }
            (kind, resource) = (.experiment, String(first))
        }
        try await control.require(principal, needed, kind, resource)
    }

    /// Checks a member's grant on a registered model the handler only knows after reading the request
    /// (a model in the path, or behind a deployment id). Admins pass; viewers never reach writes.
    func requireOnModel(_ needed: Permission, _ name: String) async throws {
        guard authenticationRequired, let principal, principal.role == .member, let control = accessControl else { return }
        try await control.require(principal, needed, .registeredModel, name)
    }

    /// The request's fields, parsed once and kept for the handler.
    private mutating func cachedFields(_ request: Request) async throws -> RequestFields {
        if let parsedFields { return parsedFields }
        let f = try await request.fields(self)
        parsedFields = f
        return f
    }

    /// Refuses the request unless its principal may act at `access`: 401 without a verified identity
    /// when authentication is on, 403 when the identity's role is too low. In single-user mode
    /// (authentication off) everything passes, as before.
    func authorize(_ access: Access) throws(EnsembleError) {
        guard authenticationRequired, let needed = access.minimumRole else { return }
        guard let principal, principal.isVerified, let role = principal.role else {
            throw .unauthenticated(Self.howToAuthenticate)
        }
        guard role >= needed else {
            throw .denied("This needs the \(needed.rawValue) role or higher (\(access.rawValue) access); '\(principal.name)' is a \(role.rawValue). Ask an admin.")
        }
    }

    static let howToAuthenticate =
        "Authentication required. Send an API token as 'Authorization: Bearer ens_…' (MLFLOW_TRACKING_TOKEN for the mlflow client, "
        + "ENSEMBLE_TOKEN or `ensemble login` for the CLI) or a user name and password with HTTP Basic "
        + "(MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD). An admin creates tokens with `ensemble admin create-token`."
}

extension RouterMethods where Context == EnsembleRequestContext {
    /// Registers `handler` behind the access check `access`, optionally reading bodies up to `bodyLimit`.
    @discardableResult
    func on(
        _ path: RouterPath, method: HTTPRequest.Method, _ access: Access, scope: Scope? = nil, bodyLimit: Int? = nil,
        use handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) -> Self {
        on(path, method: method) { request, context in
            try context.authorize(access)
            guard bodyLimit != nil || scope != nil else { return try await handler(request, context) }
            var context = context
            if let bodyLimit { context.maxBodyBytes = bodyLimit }
            if let scope { try await context.authorize(access, scope: scope, request: request) }
            return try await handler(request, context)
        }
    }

    @discardableResult
    func get(
        _ path: RouterPath = "", _ access: Access, scope: Scope? = nil, use handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) -> Self {
        on(path, method: .get, access, scope: scope, use: handler)
    }

    @discardableResult
    func head(
        _ path: RouterPath = "", _ access: Access, scope: Scope? = nil, use handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) -> Self {
        on(path, method: .head, access, scope: scope, use: handler)
    }

    @discardableResult
    func post(
        _ path: RouterPath = "", _ access: Access, scope: Scope? = nil, use handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) -> Self {
        on(path, method: .post, access, scope: scope, use: handler)
    }

    @discardableResult
    func put(
        _ path: RouterPath = "", _ access: Access, scope: Scope? = nil, use handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) -> Self {
        on(path, method: .put, access, scope: scope, use: handler)
    }

    @discardableResult
    func patch(
        _ path: RouterPath = "", _ access: Access, scope: Scope? = nil, use handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) -> Self {
        on(path, method: .patch, access, scope: scope, use: handler)
    }

    @discardableResult
    func delete(
        _ path: RouterPath = "", _ access: Access, scope: Scope? = nil, use handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) -> Self {
        on(path, method: .delete, access, scope: scope, use: handler)
    }
}
