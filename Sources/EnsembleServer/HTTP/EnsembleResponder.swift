import EnsembleArtifacts
import EnsembleCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Routes every request by exact path: the MLflow API under `/api/2.0/mlflow/` and
/// `/ajax-api/2.0/mlflow/`, the artifact proxy, and the health endpoints.
///
/// Unknown paths answer a JSON 404 `ENDPOINT_NOT_FOUND` (the MLflow client relies on that code),
/// domain errors become MLflow error bodies, and anything unexpected is logged and answered with a
/// bare 500 that leaks nothing.
struct EnsembleResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    enum Handler: Sendable {
        /// A JSON API call: fields from the query (GET) or a JSON object body, bounded by `maxBody`.
        case json(maxBody: Int, @Sendable (RequestFields) async throws -> Response)
        /// Anything that handles the request itself (artifact bytes, plain text).
        case raw(@Sendable (Request, Context) async throws -> Response)
    }

    /// Keyed by "METHOD path-after-prefix", e.g. `POST runs/log-batch`.
    let mlflowRoutes: [String: Handler]
    /// Routes with path parameters after the MLflow prefix, e.g. `logged-models/{model_id}/tags`.
    var mlflowPatternRoutes: [PatternRoute] = []
    /// Ensemble's own API under `/api/v1/`, e.g. `models/{name}/history`.
    var nativeRoutes: [PatternRoute] = []
    static let nativePrefix = "/api/v1/"

    /// A route whose `{name}` segments capture a percent-decoded path segment.
    struct PatternRoute: Sendable {
        let method: String
        let segments: [String]
        let maxBody: Int
        let handler: @Sendable (RequestFields, [String: String]) async throws -> Response

        func match(_ method: String, _ path: Substring) -> [String: String]? {
            guard method == self.method else { return nil }
            return Self.captures(segments, path)
        }

        /// Matches `path` against `segments`, where `{name}` captures one percent-decoded segment.
        static func captures(_ segments: [String], _ path: Substring) -> [String: String]? {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == segments.count else { return nil }
            var captures: [String: String] = [:]
            for (pattern, part) in zip(segments, parts) {
                if pattern.hasPrefix("{") {
                    guard !part.isEmpty, let value = PercentDecoding.decode(part) else { return nil }
                    captures[String(pattern.dropFirst().dropLast())] = value
                } else if pattern != part {
                    return nil
                }
            }
            return captures
        }
    }
    /// Keyed by "METHOD full-path", e.g. `GET /health`.
    let exactRoutes: [String: Handler]
    /// Web UI pages: (method, path pattern, handler) matched after the APIs.
    var webRoutes: [(method: String, segments: [String], handler: @Sendable (Request, [String: String]) async throws -> Response)] = []
    /// Prefix routes (artifact proxy): first match wins.
    let prefixRoutes: [(prefix: String, methods: Set<String>, handler: Handler)]

    static let mlflowPrefixes = ["/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"]
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!
    static let versionHeader = HTTPField.Name("X-Ensemble-Version")!

    func respond(to request: Request, context: Context) async throws -> Response {
        var response: Response
        do {
            response = try await RequestActor.$current.withValue(Self.actor(of: request)) {
                try await dispatch(request, context: context)
            }
        } catch let error as EnsembleError {
            if error.code.httpStatus.code >= 500 {
                context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            } else {
                context.logger.debug("request refused", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            }
            response = JSONResponse.error(error)
        } catch let error as BodyTooLarge {
            response = JSONResponse.error(
                EnsembleError(.invalidParameterValue, "The request body is larger than the limit of \(error.limit) bytes for this endpoint. Send smaller batches."),
                status: .contentTooLarge
            )
        } catch {
            context.logger.error("unexpected failure", metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            response = JSONResponse.error(EnsembleError(.internalError, "Internal error; see the server log for request \(context.id)."))
        }
        response.headers[Self.requestIDHeader] = context.id
        response.headers[Self.versionHeader] = ensembleVersion
        context.logger.debug("request", metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(response.status.code)"])
        return response
    }

    /// The user name of an HTTP basic `Authorization` header, if any (unverified until accounts exist).
    static func actor(of request: Request) -> String? {
        guard let value = request.headers[.authorization], value.count < 4096, value.lowercased().hasPrefix("basic ") else { return nil }
        guard let decoded = Data(base64Encoded: String(value.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let text = String(data: decoded, encoding: .utf8)
        else { return nil }
        let user = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard !user.isEmpty, user.count <= 256, !user.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return nil }
        return user
    }

    struct BodyTooLarge: Error {
        let limit: Int
    }

    func dispatch(_ request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        let method = request.method.rawValue
        for prefix in Self.mlflowPrefixes where path.hasPrefix(prefix) {
            let rest = path.dropFirst(prefix.count)
            if let handler = mlflowRoutes["\(method) \(rest)"] {
                return try await run(handler, request, context)
            }
            for route in mlflowPatternRoutes {
                if let captures = route.match(method, rest) {
                    let fields = try await Self.fields(of: request, maxBody: route.maxBody)
                    return try await route.handler(fields, captures)
                }
            }
        }
        if path.hasPrefix(Self.nativePrefix) {
            let rest = path.dropFirst(Self.nativePrefix.count)
            for route in nativeRoutes {
                if let captures = route.match(method, rest) {
                    let fields = try await Self.fields(of: request, maxBody: route.maxBody)
                    return try await route.handler(fields, captures)
                }
            }
        }
        if let handler = exactRoutes["\(method) \(path)"] {
            return try await run(handler, request, context)
        }
        for route in prefixRoutes where path.hasPrefix(route.prefix) {
            let next = path.dropFirst(route.prefix.count).first
            guard next == nil || next == "/" else { continue }
            guard route.methods.contains(method) else { break }
            return try await run(route.handler, request, context)
        }
        for route in webRoutes where route.method == method {
            if let captures = PatternRoute.captures(route.segments, path.dropFirst()) { return try await route.handler(request, captures) }
        }
        throw EnsembleError(.endpointNotFound, "No endpoint \(method) \(path). See docs/API.md for the routes Ensemble serves.")
    }

    func run(_ handler: Handler, _ request: Request, _ context: Context) async throws -> Response {
        switch handler {
        case .raw(let body):
            return try await body(request, context)
        case .json(let maxBody, let body):
            return try await body(try await Self.fields(of: request, maxBody: maxBody))
        }
    }

    /// Reads an MLflow request's fields: the query string for GET, else a JSON object body.
    static func fields(of request: Request, maxBody: Int) async throws -> RequestFields {
        if request.method == .get {
            return RequestFields(query: try RequestFields.parseQuery(request.uri.query))
        }
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBody {
            throw BodyTooLarge(limit: maxBody)
        }
        let body = request.body
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: maxBody)
        } catch {
            throw BodyTooLarge(limit: maxBody)
        }
        if buffer.readableBytes == 0 {
            // A bodiless DELETE (or POST) carries its fields in the query, if anywhere.
            return RequestFields(query: try RequestFields.parseQuery(request.uri.query))
        }
        guard contentType.hasPrefix("application/json") else {
            throw EnsembleError(.badRequest, "Bad Request. Content-Type must be \"application/json\"; got '\(contentType)'.")
        }
        let value: JSONValue
        do {
            value = try buffer.withUnsafeReadableBytes { try JSONParser.parse($0) }
        } catch let error as JSONParser.SyntaxError {
            throw EnsembleError(.badRequest, "Malformed JSON request body at byte \(error.offset): \(error.reason).")
        }
        guard case .object(let members) = value else {
            throw EnsembleError(.badRequest, "The request body must be a JSON object.")
        }
        return RequestFields(json: members)
    }
}
