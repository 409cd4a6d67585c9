import EnsembleArtifacts
import EnsembleCore
import Foundation
import Hummingbird
import Logging

/// Who a request acts as.
///
/// Today this is the user name of an HTTP Basic `Authorization` header, which the MLflow client sends
/// when `MLFLOW_TRACKING_USERNAME` is set; nothing verifies it yet, so it is recorded as a claim
/// (`isVerified == false`). Authentication will replace this part of ``RequestContextMiddleware`` with a middleware
/// that verifies the credentials and sets a verified principal.
public struct Principal: Sendable, Equatable {
    public var name: String
    public var isVerified: Bool

    public init(name: String, isVerified: Bool) {
        self.name = name
        self.isVerified = isVerified
    }
}

/// The context every Ensemble route receives: Hummingbird's core storage (logger with the request
/// id, path parameters), the body limit of the matched route, and the acting principal.
public struct EnsembleRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The largest request body the matched route reads, in bytes. Routes that carry big documents
    /// raise it when they are registered (``RouterMethods/on(_:method:bodyLimit:use:)``).
    public var maxBodyBytes: Int
    /// Who the request acts as, when it says.
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
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

extension RouterMethods where Context == EnsembleRequestContext {
    /// Registers a handler whose route reads bodies up to `bodyLimit` bytes instead of the default.
    @discardableResult
    func on(
        _ path: RouterPath, method: HTTPRequest.Method, bodyLimit: Int,
        use handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) -> Self {
        on(path, method: method) { request, context in
            var context = context
            context.maxBodyBytes = bodyLimit
            return try await handler(request, context)
        }
    }
}
