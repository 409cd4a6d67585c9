import EnsembleJSON
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@testable import EnsembleServer

/// The request path: router, middleware, context and error mapping.
@Suite("Request path")
struct RequestPathTests {
    static let csp = HTTPField.Name("Content-Security-Policy")!
    static let nosniff = HTTPField.Name("X-Content-Type-Options")!
    static let referrer = HTTPField.Name("Referrer-Policy")!
    static let requestID = HTTPField.Name("X-Request-Id")!

    /// The server's router over a fresh data folder in the temporary directory.
    static func router(auth: AuthMode? = nil) throws -> Router<EnsembleRequestContext> {
        var config = ServerConfiguration()
        config.dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-routes-\(UUID().uuidString)").path
        config.auth = auth
        let services = try EnsembleServices(configuration: config)
        return buildRouter(configuration: config, services: services, audit: AuditWriter(store: services.store, logger: Logger(label: "test")))
    }

    @Test("every answer carries a request id and the security headers; pages and APIs get their own CSP")
    func securityHeaders() async throws {
        try await withServer { client, _ in
            for path in ["/", "/experiments", "/api/2.0/mlflow/experiments/get?experiment_id=0", "/api/v1/roles", "/nothing-here", "/api/2.0/mlflow/nope", "/health"] {
                let r = try await client.get(path)
                #expect(r.headers[Self.nosniff] == "nosniff", "\(path)")
                #expect(r.headers[Self.referrer] == "same-origin", "\(path)")
                #expect(!(r.headers[Self.requestID] ?? "").isEmpty, "\(path)")
                let policy = r.headers[Self.csp] ?? ""
                #expect(policy.contains("frame-ancestors 'none'"), "\(path)")
                if r.headers[.contentType]?.hasPrefix("text/html") == true {
                    #expect(policy.contains("script-src 'self'"), "\(path)")
                } else {
                    #expect(policy.hasPrefix("default-src 'none'"), "\(path)")
                }
            }
        }
    }

    @Test("unknown pages are an HTML 404 page; unknown API paths stay JSON", arguments: ["/nothing-here", "/runs/abc/def/ghi", "/projects/x/nope"])
    func htmlNotFound(path: String) async throws {
        try await withServer { client, _ in
            let r = try await client.get(path)
            #expect(r.status == .notFound)
            #expect(r.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(String(buffer: r.body).contains("Not found"))
        }
    }

    @Test("a page for something missing is an HTML 404 with the domain message")
    func missingEntityPage() async throws {
        try await withServer { client, _ in
            let r = try await client.get("/runs/0123456789abcdef0123456789abcdef")
            #expect(r.status == .notFound)
            #expect(r.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(String(buffer: r.body).contains("not found"))
        }
    }

    @Test("a forecast seed or trial count out of range is a 400, and the server keeps answering", arguments: [
        "seed=-1", "seed=-9223372036854775808", "trials=0", "trials=-5", "trials=99999999999", "seed=abc", "trials=1e300",
    ])
    func forecastBounds(query: String) async throws {
        try await withServer { client, _ in
            let project = #"{"id": "p1", "name": "P", "tasks": [{"id": "a", "optimistic": 1, "likely": 2, "pessimistic": 4}]}"#
            let created = try await client.post("/api/v1/projects", project)
            #expect(created.status == .created, "\(String(buffer: created.body))")
            let r = try await client.get("/api/v1/projects/p1/forecast?\(query)")
            #expect(r.status == .badRequest, "\(query): \(String(buffer: r.body))")
            #expect(try errorCode(r) == "INVALID_PARAMETER_VALUE")
            let ok = try await client.get("/api/v1/projects/p1/forecast?seed=7&trials=100")
            #expect(ok.status == .ok)
            #expect(try json(ok)["seed"] == .number("7"))
        }
    }

    @Test("a runs-table page number past any sane range neither traps nor fails")
    func hugePageNumber() async throws {
        try await withServer { client, _ in
            for page in ["99999999999999999999", "9223372036854775807", "-4", "x"] {
                let r = try await client.get("/experiments/0?page=\(page)")
                #expect(r.status == .ok, "page=\(page)")
            }
        }
    }

    @Test("path captures are percent-decoded; undecodable ones are a 400")
    func captures() async throws {
        try await withServer { client, _ in
            let missing = try await client.get("/api/v1/models/a%20b/history")
            #expect(missing.status == .notFound)
            #expect(String(buffer: missing.body).contains("a b"))
            let bad = try await client.get("/api/v1/models/%FF%FE/history")
            #expect(bad.status == .badRequest)
            #expect(try errorCode(bad) == "INVALID_PARAMETER_VALUE")
        }
    }

    @Test("an oversized body is a 413 that closes the connection")
    func tooLargeCloses() async throws {
        try await withServer { client, _ in
            let big = "{\"name\": \"" + String(repeating: "x", count: 70 * 1024) + "\"}"
            let r = try await client.post("/api/2.0/mlflow/experiments/create", big)
            #expect(r.status == .contentTooLarge)
            #expect(r.headers[.connection] == "close")
            #expect(try errorCode(r) == "INVALID_PARAMETER_VALUE")
            #expect(String(buffer: r.body).contains("65536 bytes"))
        }
    }

    @Test("every /api/v1 route is in the OpenAPI document, and every documented operation is routed")
    func openAPIMatchesRouter() throws {
        let router = try Self.router()
        try router.validate()
        // `{name}` and `{id}` are both "a segment": compare the shapes of paths.
        func shape(_ path: String) -> String {
            path.split(separator: "/").map { $0.hasPrefix("{") || $0.hasPrefix(":") ? "{}" : String($0) }.joined(separator: "/")
        }
        let routed = Set(
            router.routes.map { "\($0.method.rawValue.lowercased()) \(shape($0.path.description))" }.filter { $0.contains(" api/v1/") })
        guard case .object(let paths)? = try JSONParser.parse(PackageResources.openapi_json)["paths"] else {
            Issue.record("the document has no paths")
            return
        }
        var documented = Set<String>()
        for (path, item) in paths {
            guard case .object(let operations) = item else { continue }
            for (method, _) in operations where ["get", "put", "post", "delete", "patch", "head"].contains(method) {
                documented.insert("\(method) \(shape(path))")
            }
        }
        #expect(routed.subtracting(documented).sorted() == [], "routed but not documented")
        #expect(documented.subtracting(routed).sorted() == [], "documented but not routed")
        #expect(routed.count > 30)
    }

    @Test("the MLflow API is mounted under both prefixes with the same routes")
    func bothPrefixes() throws {
        let router = try Self.router()
        let all = router.routes.map { "\($0.method) \($0.path)" }
        let api = Set(all.filter { $0.contains("/api/2.0/mlflow/") }.map { $0.replacingOccurrences(of: "/api/2.0/mlflow/", with: "/") })
        let ajax = Set(all.filter { $0.contains("/ajax-api/2.0/mlflow/") }.map { $0.replacingOccurrences(of: "/ajax-api/2.0/mlflow/", with: "/") })
        #expect(api == ajax)
        #expect(api.contains("POST /runs/log-batch"))
        #expect(api.count > 60)
    }
}
