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

extension EnsembleRequestContext {
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
        _ path: RouterPath, method: HTTPRequest.Method, _ access: Access, bodyLimit: Int? = nil,
        use handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) -> Self {
        on(path, method: method) { request, context in
            try context.authorize(access)
            guard let bodyLimit else { return try await handler(request, context) }
            var context = context
            context.maxBodyBytes = bodyLimit
            return try await handler(request, context)
        }
    }

    @discardableResult
    func get(_ path: RouterPath = "", _ access: Access, use handler: @escaping @Sendable (Request, Context) async throws -> Response) -> Self {
        on(path, method: .get, access, use: handler)
    }

    @discardableResult
    func head(_ path: RouterPath = "", _ access: Access, use handler: @escaping @Sendable (Request, Context) async throws -> Response) -> Self {
        on(path, method: .head, access, use: handler)
    }

    @discardableResult
    func post(_ path: RouterPath = "", _ access: Access, use handler: @escaping @Sendable (Request, Context) async throws -> Response) -> Self {
        on(path, method: .post, access, use: handler)
    }

    @discardableResult
    func put(_ path: RouterPath = "", _ access: Access, use handler: @escaping @Sendable (Request, Context) async throws -> Response) -> Self {
        on(path, method: .put, access, use: handler)
    }

    @discardableResult
    func patch(_ path: RouterPath = "", _ access: Access, use handler: @escaping @Sendable (Request, Context) async throws -> Response) -> Self {
        on(path, method: .patch, access, use: handler)
    }

    @discardableResult
    func delete(_ path: RouterPath = "", _ access: Access, use handler: @escaping @Sendable (Request, Context) async throws -> Response) -> Self {
        on(path, method: .delete, access, use: handler)
    }
}
