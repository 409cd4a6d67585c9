import AsyncHTTPClient
import EnsembleCore
import Foundation
import NIOCore
import NIOHTTP1

/// A failure the CLI reports to a person: what went wrong and what to do next.
public struct ClientError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// The HTTP status when the server answered, `nil` when it could not be reached.
    public var status: Int?
    public init(_ message: String, status: Int? = nil) {
        self.message = message
        self.status = status
    }
    public var description: String { message }
}

/// A small HTTP client for Ensemble's native API (`/api/v1/...`), used by the CLI.
///
/// ```swift
/// let client = try EnsembleClient(server: "http://127.0.0.1:5000")
/// let version: StoredDatasetVersion = try await client.datasetVersion(name: "iris", version: nil)
/// ```
public struct EnsembleClient: Sendable {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:5000`.
    public let server: String
    let http: HTTPClient
    let timeout: TimeAmount
    /// Sent as `Authorization: Bearer` on every request (servers with `--auth required`).
    public let token: String?

    /// - Parameter token: an API token; nil looks it up (``Credentials/token(for:environment:)``:
    ///   `ENSEMBLE_TOKEN`, else the one `ensemble login` saved for this server).
    public init(server: String, token: String? = nil, timeout: TimeAmount = .minutes(10)) throws(ClientError) {
        var s = server
        while s.hasSuffix("/") { s.removeLast() }
        guard let url = URL(string: s), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else {
            throw ClientError("'\(server)' is not a server URL; give one like http://127.0.0.1:5000 (--server or ENSEMBLE_SERVER).")
        }
        self.server = s
        self.http = HTTPClient.shared
        self.timeout = timeout
        self.token = token ?? Credentials.token(for: s)
    }

    /// The `Authorization` header value this client sends, if any (an empty token sends none).
    var authorization: String? { token.flatMap { $0.isEmpty ? nil : "Bearer \($0)" } }

    /// The server to talk to when none is given: `ENSEMBLE_SERVER`, else an `http(s)` `MLFLOW_TRACKING_URI`,
    /// else `http://127.0.0.1:5000`.
    public static func defaultServer(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let s = environment["ENSEMBLE_SERVER"], !s.isEmpty { return s }
        if let s = environment["MLFLOW_TRACKING_URI"], s.hasPrefix("http://") || s.hasPrefix("https://") { return s }
        return "http://127.0.0.1:5000"
    }

    /// Checks within a few seconds that an Ensemble server answers at ``server`` (the HTTP client would
    /// otherwise keep retrying a refused connection until the request's deadline).
    public func ping() async throws {
        var request = HTTPClientRequest(url: url("/health"))
        request.method = .GET
        do {
            let response = try await http.execute(request, timeout: .seconds(5))
            _ = try await response.body.collect(upTo: 1024)
            guard response.status == .ok else { throw ClientError("HTTP \(response.status.code) from /health") }
        } catch {
            throw ClientError("Could not reach the Ensemble server at \(server) (\(error)). Is `ensemble serve` running there? Pass --server URL or set ENSEMBLE_SERVER.")
        }
    }

    // MARK: Requests

    func url(_ path: String) -> String { server + path }

    /// Sends a request and returns the status and body, turning transport failures and error answers
    /// into ``ClientError``s that say what to do.
    func send(
        _ method: HTTPMethod, _ path: String, body: HTTPClientRequest.Body? = nil, contentType: String? = nil, maxResponse: Int = 256 << 20,
        authorization: String? = nil
    ) async throws -> (status: Int, body: ByteBuffer) {
        var request = HTTPClientRequest(url: url(path))
        request.method = method
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let value = authorization ?? self.authorization { request.headers.add(name: "Authorization", value: value) }
        if let body { request.body = body }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch {
            throw ClientError("Could not reach the Ensemble server at \(server) (\(error)). Is `ensemble serve` running there? Pass --server URL or set ENSEMBLE_SERVER.")
        }
        let bytes = try await response.body.collect(upTo: maxResponse)
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else { throw Self.error(status: status, body: bytes, path: path) }
        return (status, bytes)
    }

    static func error(status: Int, body: ByteBuffer, path: String) -> ClientError {
        if let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any], let message = object["message"] as? String {
            return ClientError(message, status: status)
        }
        if status == 401 {
            return ClientError("The server needs authentication: run `ensemble login --server URL`, or set ENSEMBLE_TOKEN to an API token.", status: status)
        }
        if status == 404 {
            return ClientError("The server has no endpoint \(path) (HTTP 404). Is it an Ensemble server of the same version?", status: status)
        }
        return ClientError("The server answered HTTP \(status) for \(path).", status: status)
    }

    /// GET or POST JSON, decoded into `T`.
    public func json<T: Decodable>(
        _ method: HTTPMethod, _ path: String, body: (any Encodable)? = nil, as: T.Type = T.self, authorization: String? = nil
    ) async throws -> T {
        var payload: HTTPClientRequest.Body?
        if let body {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            payload = .bytes(ByteBuffer(bytes: try encoder.encode(body)))
        }
        let (_, bytes) = try await send(method, path, body: payload, contentType: payload == nil ? nil : "application/json", authorization: authorization)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(T.self, from: Data(bytes.readableBytesView))
        } catch {
            throw ClientError("The server's answer to \(path) was not what this client expects (\(error)). Are the client and server the same version?")
        }
    }

    /// Sends `json` (if any) with `method` (`GET`, `POST`, `PUT`, `DELETE`) and returns the answer's text.
    public func request(_ method: String, _ path: String, json: String? = nil) async throws -> String {
        let (_, bytes) = try await send(
            HTTPMethod(rawValue: method), path, body: json.map { .bytes(ByteBuffer(string: $0)) }, contentType: json == nil ? nil : "application/json")
        return String(buffer: bytes)
    }

    /// GET a text document (e.g. DOT).
    public func text(_ path: String) async throws -> String {
        let (_, bytes) = try await send(.GET, path)
        return String(buffer: bytes)
    }

    /// Percent-encodes one path segment or query value.
    public static func escape(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}
