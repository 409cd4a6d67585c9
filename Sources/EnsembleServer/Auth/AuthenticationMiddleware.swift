import EnsembleCore
import Hummingbird
import HTTPTypes
import HummingbirdAuth

/// With authentication on: turns the request's credentials into a verified ``Principal``
/// (hummingbird-auth's identity). No credentials leaves the request anonymous (each route's
/// ``Access`` then decides); credentials that do not check out are a 401 at once, so a typo in a token
/// is never mistaken for "anonymous".
struct AuthenticationMiddleware: AuthenticatorMiddleware {
    typealias Context = EnsembleRequestContext
    typealias Identity = Principal
    let authenticator: Authenticator
    let audit: AuditWriter
    /// The name of a person of the team directory, for accounts linked to one.
    var personName: @Sendable (String) async -> String? = { _ in nil }

    func authenticate(request: Request, context: Context) async throws -> Principal? {
        do {
            if let bearer = request.headers.bearer {
                let (user, token, first) = try await authenticator.user(token: bearer.token.trimmingCharacters(in: .whitespaces))
                if first { audit.security(context, actor: user.name, action: "token.first_used", target: "token \(token.id)", detail: token.hint) }
                return Principal(name: user.name, isVerified: true, role: user.role, method: "token", tokenID: token.id)
            }
            if let basic = request.headers.basic {
                let (user, token, first) = try await authenticator.user(name: basic.username, password: basic.password, client: context.clientAddress)
                if let token, first {
                    audit.security(context, actor: user.name, action: "token.first_used", target: "token \(token.id)", detail: token.hint)
                }
                return Principal(name: user.name, isVerified: true, role: user.role, method: token == nil ? "password" : "token", tokenID: token?.id)
            }
            // A browser: the session hummingbird-auth's SessionMiddleware loaded from the cookie.
            if let session = context.sessions.session {
                guard let user = try await authenticator.user(session: session) else {
                    // Signed out by a password change, a disabled account or a deleted user.
                    context.sessions.clearSession()
                    return nil
                }
                var principal = Principal(name: user.name, isVerified: true, role: user.role, method: "session")
                // Pages name the user as the team knows them (one read, for page loads only).
                if let person = user.personID { principal.displayName = await personName(person) }
                if principal.displayName == nil, !user.displayName.isEmpty { principal.displayName = user.displayName }
                return principal
            }
            return nil
        } catch let failure as Authenticator.Failure {
            let who = request.headers.basic?.username
            audit.security(context, actor: nil, action: "auth.failed", target: who.map { "user \($0.prefix(64))" } ?? "token", detail: failure.message, status: 401)
            throw EnsembleError.unauthenticated(failure.message)
        }
    }
}

/// Refuses a state-changing request made with a session cookie unless it carries the session's CSRF
/// token (the `csrf` field every form has, or an `X-CSRF-Token` header), so another site cannot make
/// a signed-in browser post a form. Token and password requests carry no cookie and are not affected.
struct CSRFMiddleware: RouterMiddleware {
    typealias Context = EnsembleRequestContext
    static let header = HTTPField.Name("X-CSRF-Token")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard context.principal?.method == "session", request.method != .get, request.method != .head, request.method != .options,
            let expected = context.sessions.session?.csrf
        else { return try await next(request, context) }
        var request = request
        var presented = request.headers[Self.header]
        if presented == nil, request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true {
            // Kept in the request, so the handler reads the same form afterwards.
            let body = try await request.collectBody(upTo: 256 * 1024)
            let pairs = (try? RequestFields.parseQuery(String(buffer: body))) ?? []
            presented = pairs.first { $0.0 == "csrf" }?.1
        }
        guard let presented, Self.constantTimeEqual(presented, expected) else {
            throw EnsembleError.denied("This form is missing its security token (CSRF), or the token is from an older session. Reload the page and try again.")
        }
        return try await next(request, context)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
