import EnsembleCore
import Hummingbird
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

    func authenticate(request: Request, context: Context) async throws -> Principal? {
        do {
            if let bearer = request.headers.bearer {
                let (user, token) = try await authenticator.user(token: bearer.token.trimmingCharacters(in: .whitespaces))
                if token.lastUsedAt == nil { audit.security(context, actor: user.name, action: "token.first_used", target: "token \(token.id)", detail: token.hint) }
                return Principal(name: user.name, isVerified: true, role: user.role, method: "token", tokenID: token.id)
            }
            if let basic = request.headers.basic {
                let (user, token) = try await authenticator.user(name: basic.username, password: basic.password, client: context.clientAddress)
                if let token, token.lastUsedAt == nil {
                    audit.security(context, actor: user.name, action: "token.first_used", target: "token \(token.id)", detail: token.hint)
                }
                return Principal(name: user.name, isVerified: true, role: user.role, method: token == nil ? "password" : "token", tokenID: token?.id)
            }
            return nil
        } catch let failure as Authenticator.Failure {
            let who = request.headers.basic?.username
            audit.security(context, actor: nil, action: "auth.failed", target: who.map { "user \($0.prefix(64))" } ?? "token", detail: failure.message, status: 401)
            throw EnsembleError.unauthenticated(failure.message)
        }
    }
}
