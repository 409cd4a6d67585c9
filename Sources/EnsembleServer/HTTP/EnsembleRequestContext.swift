import EnsembleArtifacts
import EnsembleCore
import Foundation
import Hummingbird
import HummingbirdAuth
import NIOCore
import Logging

/// Who a request acts as.
///
/// With authentication on, ``AuthenticationMiddleware`` sets a verified principal (a user, checked by
/// token, password or session) with its role. In single-user mode (authentication off) the user name
/// of an HTTP Basic header, which the MLflow client sends when `MLFLOW_TRACKING_USERNAME` is set, is
/// kept as a claim (`isVerified == false`, no role).
public struct Principal: Sendable, Equatable {
    public var name: String
    public var isVerified: Bool
    public var role: InstanceRole?
    /// How the identity was shown: `token`, `password`, `session`.
    public var method: String?
    /// The token used, when `method == "token"`.
    public var tokenID: Int64?
    /// How pages name the user (a linked person's name, or the display name); set for browser sessions.
    public var displayName: String?

    public init(name: String, isVerified: Bool, role: InstanceRole? = nil, method: String? = nil, tokenID: Int64? = nil) {
        self.name = name
        self.isVerified = isVerified
        self.role = role
        self.method = method
        self.tokenID = tokenID
    }
}

/// The context every Ensemble route receives: Hummingbird's core storage (logger with the request
/// id, path parameters), the body limit of the matched route, and the acting principal (hummingbird-auth's
/// `identity`).
public struct EnsembleRequestContext: AuthRequestContext, SessionRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The largest request body the matched route reads, in bytes. Routes that carry big documents
    /// raise it when they are registered (``RouterMethods/on(_:method:bodyLimit:use:)``).
    public var maxBodyBytes: Int
    /// Who the request acts as, when it says.
    public var principal: Principal?
    /// Whether routes check ``Access`` (off in single-user mode); set by ``RequestContextMiddleware``.
    public var authenticationRequired = false
    /// Grants and their checks (with authentication on).
    var accessControl: AccessControl?
    /// The request's fields when a scoped access check already parsed them.
    var parsedFields: RequestFields?
    /// The browser session (hummingbird-auth's `SessionMiddleware`, with authentication on).
    public let sessions = SessionContext<WebSession>()
    /// The client's address, for the audit log and sign-in throttling.
    public var remoteAddress: SocketAddress?
    public var clientAddress: String? { remoteAddress?.ipAddress }

    /// hummingbird-auth's name for the principal.
    public var identity: Principal? {
        get { principal }
        set { principal = newValue }
    }

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.maxBodyBytes = Self.defaultBodyLimit
        self.principal = nil
    }

    /// Until ``RequestContextMiddleware`` sets the configured limit.
    static let defaultBodyLimit = 4 * 1024 * 1024

    /// Hummingbird's decoders honour the same limit as our own body reader.
    public var maxUploadSize: Int { maxBodyBytes }

    /// The name to record as "who" in histories and feeds.
    public var actor: String? { principal?.name }

    /// A path parameter (`{name}` in the route), percent-decoded. A parameter that is not valid
    /// percent-encoded UTF-8 is a 400, never a guess.
    /// A path segment that numbers something (a handoff, a deployment, a version): a positive integer,
    /// else a 400 that says what was sent.
    public func positiveCapture(_ name: String, of what: String) throws(EnsembleError) -> Int64 {
        let raw = try capture(name)
        guard let value = Int64(raw), value > 0 else { throw EnsembleError.invalid("\(what) is a positive number; got '\(raw.prefix(40))'.") }
        return value
    }

    public func capture(_ name: String) throws(EnsembleError) -> String {
        guard let raw = parameters.get(name) else {
            throw EnsembleError.invalid("The path has no '\(name)' segment.")
        }
        guard let value = PercentDecoding.decode(raw[...]) else {
            throw EnsembleError.invalid("The path segment '\(raw)' is not valid percent-encoded UTF-8.")
        }
        return value
    }

    /// The path after a `**` route pattern, percent-decoded. The router skips empty segments, so a
    /// request path with `//` (as in `artifacts//etc/passwd`) is refused here rather than quietly
    /// read as a relative path.
    public func catchAllPath(of request: Request) throws(EnsembleError) -> String {
        let raw = parameters.getCatchAll().joined(separator: "/")
        // `;` path parameters have no meaning here; a path holding one is treated as hostile.
        guard !request.uri.path.contains("//"), !raw.contains(";"), let value = PercentDecoding.decode(raw[...]) else {
            throw EnsembleError.invalid("Invalid path: it is not valid percent-encoded UTF-8.")
        }
        return value
    }
}
