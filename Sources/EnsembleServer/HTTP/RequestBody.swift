import EnsembleCore
import EnsembleJSON
import Foundation
import Hummingbird
import NIOCore

extension Request {
    /// The fields of an API request: the query string for GET, else a JSON object body of at most
    /// `context.maxBodyBytes` (a bodiless POST or DELETE reads its query instead).
    ///
    /// The body is parsed once, by ``JSONParser``, straight from the bytes received.
    func fields(_ context: EnsembleRequestContext) async throws -> RequestFields {
        if let parsed = context.parsedFields { return parsed }
        if method == .get || method == .head {
            return RequestFields(query: try RequestFields.parseQuery(uri.query))
        }
        let buffer = try await jsonBody(context)
        if buffer.readableBytes == 0 {
            return RequestFields(query: try RequestFields.parseQuery(uri.query))
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

    /// Decodes a JSON body into `T` (the native API's Codable documents) in one pass, with a message
    /// naming the field that does not fit.
    func decodeJSON<T: Decodable>(_ type: T.Type, _ context: EnsembleRequestContext) async throws -> T {
        let buffer = try await jsonBody(context)
        guard buffer.readableBytes > 0 else {
            throw EnsembleError(.badRequest, "Send a JSON object body (Content-Type: application/json).")
        }
        do {
            return try JSONDecoder().decode(T.self, from: buffer)
        } catch let error as DecodingError {
            throw EnsembleError.invalid(DecodingMessages.describe(error))
        }
    }

    /// The body, bounded by the route's limit, after checking that a non-empty body is JSON.
    private func jsonBody(_ context: EnsembleRequestContext) async throws -> ByteBuffer {
        let limit = context.maxBodyBytes
        if let length = headers[.contentLength], let declared = Int(length), declared > limit {
            throw BodyTooLarge(limit: limit)
        }
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw BodyTooLarge(limit: limit)
        }
        if buffer.readableBytes > 0 {
            let contentType = headers[.contentType]?.lowercased() ?? ""
            guard contentType.hasPrefix("application/json") else {
                throw EnsembleError(.badRequest, "Bad Request. Content-Type must be \"application/json\"; got '\(contentType)'.")
            }
        }
        return buffer
    }

    /// The query string's fields (pages and raw handlers).
    func queryFields() throws(EnsembleError) -> RequestFields {
        RequestFields(query: try RequestFields.parseQuery(uri.query))
    }
}

/// A request body over its route's limit: 413, and the connection is closed rather than drained.
struct BodyTooLarge: HTTPResponseError {
    let limit: Int
    var status: HTTPResponse.Status { .contentTooLarge }

    var error: EnsembleError {
        EnsembleError(.invalidParameterValue, "The request body is larger than the limit of \(limit) bytes for this endpoint. Send smaller batches.")
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONResponse.error(error, status: status)
    }
}
