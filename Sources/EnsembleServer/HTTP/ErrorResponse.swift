import EnsembleCore
import Hummingbird
import NIOCore

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
        }
    }
}

enum JSONResponse {
    static let jsonHeaders: HTTPFields = [.contentType: "application/json"]

    static func ok(_ writer: JSONWriter) -> Response {
        Response(status: .ok, headers: jsonHeaders, body: .init(byteBuffer: ByteBuffer(bytes: writer.bytes)))
    }

    static let emptyObject = Response(status: .ok, headers: jsonHeaders, body: .init(byteBuffer: ByteBuffer(string: "{}")))

    static func error(_ error: EnsembleError, status: HTTPResponse.Status? = nil) -> Response {
        var w = JSONWriter()
        w.beginObject()
        w.member("error_code", error.code.rawValue)
        w.member("message", error.message)
        w.endObject()
        return Response(status: status ?? error.code.httpStatus, headers: jsonHeaders, body: .init(byteBuffer: ByteBuffer(bytes: w.bytes)))
    }
}
