import EnsembleCore
import EnsembleJSON
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Request id, version header and the access log.
///
/// Every answer carries `X-Request-Id` (Hummingbird's id for the request, also in every log line the
/// request writes) and `X-Ensemble-Version`. The access log line is written at `info` when the
/// server runs with `--access-log`, else at `debug`: one line per request costs ~5% of log-metric
/// throughput when it goes to a terminal.
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = EnsembleRequestContext
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!
    static let versionHeader = HTTPField.Name("X-Ensemble-Version")!

    let level: Logger.Level

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let logging = context.logger.logLevel <= level
        let start = logging ? ContinuousClock.now : nil
        var response = try await next(request, context)
        response.headers.append(HTTPField(name: Self.requestIDHeader, value: context.id))
        response.headers.append(HTTPField(name: Self.versionHeader, value: ensembleVersion))
        if logging, let start {
            let elapsed = ContinuousClock.now - start
            let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            context.logger.log(
                level: level, "request",
                metadata: [
                    "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
                    "ms": "\(String(format: "%.2f", ms))", "user": "\(context.actor ?? "-")",
                ])
        }
        return response
    }
}

/// Security headers on every answer. Pages get a strict Content-Security-Policy (only the server's
/// own scripts, styles and images); API answers get one that forbids everything, since a browser
/// should never render them. A handler that set its own policy (an artifact preview) keeps it.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = EnsembleRequestContext
    static let csp = HTTPField.Name("Content-Security-Policy")!
    static let nosniff = HTTPField.Name("X-Content-Type-Options")!
    static let referrer = HTTPField.Name("Referrer-Policy")!
    static let pagePolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    static let apiPolicy = "default-src 'none'; frame-ancestors 'none'"
    static let pageCSP = HTTPField(name: csp, value: pagePolicy)
    static let apiCSP = HTTPField(name: csp, value: apiPolicy)
    static let nosniffField = HTTPField(name: nosniff, value: "nosniff")
    static let referrerField = HTTPField(name: referrer, value: "same-origin")

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        // Appended, not assigned: assignment searches the fields for a value to replace.
        if !response.headers.contains(Self.csp) {
            let html = response.headers[.contentType]?.hasPrefix("text/html") ?? false
            response.headers.append(html ? Self.pageCSP : Self.apiCSP)
        }
        if !response.headers.contains(Self.nosniff) { response.headers.append(Self.nosniffField) }
        response.headers.append(Self.referrerField)
        return response
    }
}

/// Fills the request context: the default body limit (routes that read big documents raise it
/// when they are registered) and who the request claims to be (the HTTP Basic user name, unverified
/// until accounts exist). One middleware, so the context is copied once per request.
struct RequestContextMiddleware: RouterMiddleware {
    typealias Context = EnsembleRequestContext
    let defaultBodyLimit: Int
    /// Authentication on: ``AuthenticationMiddleware`` verifies credentials and routes check ``Access``.
    let authenticationRequired: Bool
    var accessControl: AccessControl? = nil

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.maxBodyBytes = defaultBodyLimit
        context.authenticationRequired = authenticationRequired
        context.accessControl = accessControl
        // Single-user mode: the Basic user name is kept as an unverified claim of who is working.
        if !authenticationRequired, let name = Self.basicUserName(request.headers[.authorization]) {
            context.principal = Principal(name: name, isVerified: false)
        }
        return try await next(request, context)
    }

    /// The user name of an HTTP Basic `Authorization` value: bounded, decoded, without control characters.
    static func basicUserName(_ value: String?) -> String? {
        guard let value, value.utf8.count < 4096, value.lowercased().hasPrefix("basic ") else { return nil }
        guard let decoded = Data(base64Encoded: String(value.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let text = String(data: decoded, encoding: .utf8)
        else { return nil }
        let user = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard !user.isEmpty, user.count <= 256, !user.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return nil }
        return user
    }
}

/// The one place errors become answers.
///
/// API paths (the MLflow API, `/api/v1`, the artifact helpers) get MLflow's JSON error body; pages get
/// an HTML error page. Domain errors keep their status (``EnsembleError`` is an ``HTTPResponseError``);
/// Hummingbird's own errors (no route, body too large, bad request) get our bodies and wording; anything
/// else is logged with the request id and answered with a 500 that leaks nothing.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = EnsembleRequestContext
    /// Renders an HTML error page: context, status, heading, message.
    let page: @Sendable (EnsembleRequestContext, HTTPResponse.Status, String, String) -> Response

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var (ensembleError, status) = Self.classify(error, request: request, context: context)
            if status.code >= 500 {
                // Our 501 is an answer, not a failure: a capability this server is not set up for
                // (MLflow's direct transfers without a bucket), which the client asks about and then
                // does without.
                if status == .notImplemented, error is EnsembleError {
                    context.logger.debug("capability not enabled", metadata: ["path": "\(request.uri.path)", "error": "\(ensembleError)"])
                } else {
                    context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
                }
                if !(error is EnsembleError) {
                    ensembleError = EnsembleError(.internalError, "Internal error; see the server log for request \(context.id).")
                }
            } else {
                context.logger.debug("request refused", metadata: ["path": "\(request.uri.path)", "error": "\(ensembleError)"])
            }
            var response: Response
            if Self.isAPI(request.uri.path) {
                response = JSONResponse.error(ensembleError, status: status)
            } else {
                let heading =
                    switch status.code {
                    case 404: "Not found"
                    case 500...: "Something went wrong"
                    default: "Cannot show this page"
                    }
                if status == .unauthorized, request.method == .get || request.method == .head {
                    // A page asked for without being signed in: to the sign-in page, and back afterwards.
                    let next = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
                    return Response(status: .seeOther, headers: [.location: "/signin?next=" + WebHandlers.urlComponent(next)])
                }
                response = page(context, status, heading, ensembleError.message)
            }
            if status == .unauthorized {
                // How to authenticate (RFC 9110 §11.6.1); browsers show their sign-in prompt for Basic.
                response.headers[.wwwAuthenticate] = #"Basic realm="Ensemble", charset="UTF-8""#
            }
            if status == .contentTooLarge {
                // The rest of an oversized body is not read: close the connection instead of draining it.
                response.headers[.connection] = "close"
            }
            return response
        }
    }

    /// Paths answered in JSON; everything else is a page.
    static func isAPI(_ path: String) -> Bool {
        // The router ignores repeated slashes (`//model-versions/get-artifact`), and so does this.
        let path = "/" + path.drop { $0 == "/" }
        return path.hasPrefix("/api/") || path.hasPrefix("/ajax-api/") || path == "/get-artifact"
            || path.hasPrefix("/model-versions/") || path == "/health" || path == "/version"
    }

    static func classify(_ error: any Error, request: Request, context: Context) -> (EnsembleError, HTTPResponse.Status) {
        switch error {
        case let e as EnsembleError:
            return (e, e.status)
        case let e as BodyTooLarge:
            return (e.error, e.status)
        case let e as any HTTPResponseError:
            // Hummingbird's own: HTTPError, NIOTooManyBytesError from a bounded body read, …
            switch e.status {
            case .notFound:
                let what = isAPI(request.uri.path) ? "No endpoint \(request.method) \(request.uri.path). See docs/API.md for the routes Ensemble serves." : "There is no page at \(request.uri.path)."
                return (EnsembleError(.endpointNotFound, what), .notFound)
            case .contentTooLarge:
                return (EnsembleError(.invalidParameterValue, "The request body is too large for this endpoint."), .contentTooLarge)
            case .methodNotAllowed:
                return (EnsembleError(.endpointNotFound, "No endpoint \(request.method) \(request.uri.path)."), .notFound)
            default:
                let message = (e as? HTTPError)?.body ?? e.status.reasonPhrase
                return (EnsembleError(e.status.code >= 500 ? .internalError : .badRequest, message), e.status)
            }
        case let e as DecodingError:
            return (EnsembleError.invalid(DecodingMessages.describe(e)), .badRequest)
        case let e as URLEncodedFormError:
            return (EnsembleError.invalid("The form could not be read: \(e)."), .badRequest)
        default:
            return (EnsembleError(.internalError, "Internal error."), .internalServerError)
        }
    }
}

extension EnsembleError.Code {
    /// The one place a domain error code becomes an HTTP status (MLflow's `ERROR_CODE_TO_HTTP_STATUS`).
    var httpStatus: HTTPResponse.Status {
        switch self {
        case .invalidParameterValue, .badRequest, .resourceAlreadyExists: .badRequest
        case .resourceDoesNotExist, .endpointNotFound: .notFound
        case .requestLimitExceeded: .tooManyRequests
        case .notImplemented: .notImplemented
        case .invalidState, .internalError: .internalServerError
        case .temporarilyUnavailable: .serviceUnavailable
        case .unauthenticated: .unauthorized
        case .permissionDenied: .forbidden
        }
    }
}

extension EnsembleError: HTTPResponseError {
    public var status: HTTPResponse.Status { code.httpStatus }

    /// MLflow's JSON error body: `{"error_code": …, "message": …}`.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONResponse.error(self)
    }
}

/// Messages for `Decodable` failures that name the field, e.g. `tasks[2].estimate: required.`
enum DecodingMessages {
    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            "\(path(context.codingPath)): \(context.debugDescription)"
        case .keyNotFound(let key, let context):
            "\(path(context.codingPath + [key])): required."
        case .dataCorrupted(let context):
            context.codingPath.isEmpty ? "The body is not valid JSON: \(context.debugDescription)" : "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            "The body does not fit the expected shape."
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }
}
