/// A domain error with a stable code and a message a person can act on.
///
/// The codes are MLflow's `ErrorCode` names, because the MLflow client keys its behaviour on them
/// (for example `RESOURCE_DOES_NOT_EXIST` from `get-by-name` means "create it"). The HTTP layer maps
/// each code to a status in one place.
public struct EnsembleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The error codes Ensemble produces, named as MLflow names them on the wire.
    public enum Code: String, Sendable, Equatable {
        case invalidParameterValue = "INVALID_PARAMETER_VALUE"
        case badRequest = "BAD_REQUEST"
        case resourceAlreadyExists = "RESOURCE_ALREADY_EXISTS"
        case resourceDoesNotExist = "RESOURCE_DOES_NOT_EXIST"
        case endpointNotFound = "ENDPOINT_NOT_FOUND"
        case invalidState = "INVALID_STATE"
        case requestLimitExceeded = "REQUEST_LIMIT_EXCEEDED"
        case notImplemented = "NOT_IMPLEMENTED"
        case internalError = "INTERNAL_ERROR"
        case temporarilyUnavailable = "TEMPORARILY_UNAVAILABLE"
        /// No credentials, or credentials that do not check out (401).
        case unauthenticated = "UNAUTHENTICATED"
        /// A known user without the permission the request needs (403).
        case permissionDenied = "PERMISSION_DENIED"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public static func invalid(_ message: String) -> EnsembleError { .init(.invalidParameterValue, message) }
    public static func notFound(_ message: String) -> EnsembleError { .init(.resourceDoesNotExist, message) }
    public static func alreadyExists(_ message: String) -> EnsembleError { .init(.resourceAlreadyExists, message) }

    /// `Missing value for required parameter 'x'.` — MLflow's wording, which clients match.
    public static func missing(_ parameter: String) -> EnsembleError {
        .invalid("Missing value for required parameter '\(parameter)'. See the API docs for more information about request parameters.")
    }

    public static func unauthenticated(_ message: String) -> EnsembleError { .init(.unauthenticated, message) }
    public static func denied(_ message: String) -> EnsembleError { .init(.permissionDenied, message) }

    public static func runNotFound(_ id: String) -> EnsembleError { .notFound("Run with id=\(id) not found") }
    public static func experimentNotFound(_ id: String) -> EnsembleError { .notFound("No Experiment with id=\(id) exists") }
}
