import EnsembleJSON
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@testable import EnsembleServer

/// Drives the real responder (no socket) through Hummingbird's router test client.
func withServer(_ body: @Sendable (any TestClientProtocol, String) async throws -> Void) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-http-\(UUID().uuidString)").path
    var config = ServerConfiguration()
    config.dataDirectory = dir
    config.port = 0
    config.maxJSONBodyBytes = 64 * 1024
    var logger = Logger(label: "test")
    logger.logLevel = .warning
    let app = try buildApplication(configuration: config, logger: logger)
    try await app.test(.router) { client in try await body(client, dir) }
}

extension TestClientProtocol {
    func post(_ path: String, _ json: String, contentType: String = "application/json") async throws -> TestResponse {
        try await execute(uri: path, method: .post, headers: [.contentType: contentType], body: ByteBuffer(string: json))
    }

    func get(_ path: String) async throws -> TestResponse {
        try await execute(uri: path, method: .get)
    }
}

func json(_ r: TestResponse) throws -> JSONValue {
    try JSONParser.parse(Array(r.body.readableBytesView))
}

func errorCode(_ r: TestResponse) throws -> String? {
    if case .string(let code)? = try json(r)["error_code"] { return code }
    return nil
}

func createRun(_ client: any TestClientProtocol) async throws -> String {
    let r = try await client.post("/api/2.0/mlflow/runs/create", #"{"experiment_id": "0", "start_time": 1}"#)
    #expect(r.status == .ok)
    guard case .string(let id)? = try json(r)["run"]?["info"]?["run_id"] else {
        Issue.record("no run id in \(String(buffer: r.body))")
        return ""
    }
    return id
}

@Suite("HTTP routes")
struct HTTPRoutesTests {
    @Test("health, version and server-info")
    func health() async throws {
        try await withServer { client, _ in
            let h = try await client.get("/health")
            #expect(h.status == .ok)
            #expect(String(buffer: h.body) == "OK")
            #expect(String(buffer: try await client.get("/version").body) == mlflowCompatibleVersion)
            let info = try json(try await client.get("/api/3.0/mlflow/server-info"))
            #expect(info["workspaces_enabled"] == .bool(false))
            #expect(info["multipart_uploads_enabled"] == .bool(false))
        }
    }

    @Test("ready checks the database and both stores; a missing artifact folder makes it 503 naming the check, not the folder")
    func ready() async throws {
        try await withServer { client, dir in
            let ok = try await client.get("/ready")
            #expect(ok.status == .ok)
            #expect(try json(ok)["checks"] == .object([("database", .string("ok")), ("artifacts", .string("ok")), ("blobs", .string("ok"))]))
            try FileManager.default.removeItem(atPath: dir + "/artifacts")
            let down = try await client.get("/ready")
            #expect(down.status == .serviceUnavailable)
            #expect(try json(down)["status"] == .string("not ready"))
            #expect(try json(down)["checks"]?["artifacts"] == .string("failing (the server log says why)"))
            #expect(try json(down)["checks"]?["database"] == .string("ok") && !String(buffer: down.body).contains(dir))
        }
    }

    @Test("unknown API routes are a JSON 404 ENDPOINT_NOT_FOUND", arguments: [
        "/api/2.0/mlflow/nope", "/api/2.0/mlflow/runs/get/extra", "/api/2.0/mlflow-artifactsX", "/api/v1/nope", "/ajax-api/2.0/mlflow/x",
    ])
    func notFound(path: String) async throws {
        try await withServer { client, _ in
            let r = try await client.get(path)
            #expect(r.status == .notFound)
            #expect(try errorCode(r) == "ENDPOINT_NOT_FOUND")
        }
    }

    @Test("the same API answers under /ajax-api")
    func ajax() async throws {
        try await withServer { client, _ in
            let r = try await client.get("/ajax-api/2.0/mlflow/experiments/get?experiment_id=0")
            #expect(r.status == .ok)
            #expect(try json(r)["experiment"]?["name"] == .string("Default"))
        }
    }

    @Test("bad requests are 4xx with MLflow error bodies", arguments: [
        ("/api/2.0/mlflow/runs/create", "{not json", "application/json", "BAD_REQUEST"),
        ("/api/2.0/mlflow/runs/create", "[1, 2]", "application/json", "BAD_REQUEST"),
        ("/api/2.0/mlflow/runs/create", "{}", "text/plain", "BAD_REQUEST"),
        ("/api/2.0/mlflow/experiments/create", "{}", "application/json", "INVALID_PARAMETER_VALUE"),
        ("/api/2.0/mlflow/experiments/create", #"{"name": 5}"#, "application/json", "INVALID_PARAMETER_VALUE"),
        ("/api/2.0/mlflow/runs/log-metric", #"{"run_id": 31, "key": "m", "value": 1, "timestamp": 1}"#, "application/json", "INVALID_PARAMETER_VALUE"),
        ("/api/2.0/mlflow/runs/search", #"{"experiment_ids": ["0"], "filter": "metrics.a >"}"#, "application/json", "INVALID_PARAMETER_VALUE"),
        ("/api/2.0/mlflow/runs/search", #"{"experiment_ids": ["0"], "page_token": "garbage"}"#, "application/json", "INVALID_PARAMETER_VALUE"),
        ("/api/2.0/mlflow/runs/search", #"{"experiment_ids": ["0"], "max_results": 123456789}"#, "application/json", "INVALID_PARAMETER_VALUE"),
        ("/api/2.0/mlflow/experiments/search", #"{"max_results": 0}"#, "application/json", "INVALID_PARAMETER_VALUE"),
    ])
    func badRequests(path: String, body: String, contentType: String, code: String) async throws {
        try await withServer { client, _ in
            let r = try await client.post(path, body, contentType: contentType)
            #expect(r.status == .badRequest)
            #expect(try errorCode(r) == code)
        }
    }

    @Test("oversized JSON bodies are refused with 413 and the server keeps working")
    func oversized() async throws {
        try await withServer { client, _ in
            let big = "{\"name\": \"" + String(repeating: "x", count: 200_000) + "\"}"
            let r = try await client.post("/api/2.0/mlflow/experiments/create", big)
            #expect(r.status == .contentTooLarge)
            #expect(try await client.get("/health").status == .ok)
        }
    }

    @Test("a metric's value and step types are checked, NaN strings accepted")
    func metricTypes() async throws {
        try await withServer { client, _ in
            let id = try await createRun(client)
            let bad = try await client.post("/api/2.0/mlflow/runs/log-metric", #"{"run_id": "\#(id)", "key": "m", "value": 1, "timestamp": 1, "step": "foo"}"#)
            #expect(bad.status == .badRequest)
            guard case .string(let message)? = try json(bad)["message"] else {
                Issue.record("no message in \(String(buffer: bad.body))")
                return
            }
            #expect(message.contains("Invalid value \"foo\" for parameter 'step' supplied"))
            let nan = try await client.post("/api/2.0/mlflow/runs/log-metric", #"{"run_id": "\#(id)", "run_uuid": "\#(id)", "key": "m", "value": "NaN", "timestamp": "5", "step": 2}"#)
            #expect(nan.status == .ok)
            let history = try json(try await client.get("/api/2.0/mlflow/metrics/get-history?run_id=\(id)&metric_key=m"))
            #expect(history["metrics"] == .array([.object([("key", .string("m")), ("value", .string("NaN")), ("timestamp", .number("5")), ("step", .number("2"))])]))
        }
    }

    @Test("missing runs are 404 RESOURCE_DOES_NOT_EXIST; param overwrite is 400")
    func runErrors() async throws {
        try await withServer { client, _ in
            let missing = try await client.get("/api/2.0/mlflow/runs/get?run_id=deadbeef")
            #expect(missing.status == .notFound)
            #expect(try errorCode(missing) == "RESOURCE_DOES_NOT_EXIST")
            let id = try await createRun(client)
            #expect(try await client.post("/api/2.0/mlflow/runs/log-parameter", #"{"run_id": "\#(id)", "key": "p", "value": "1"}"#).status == .ok)
            let again = try await client.post("/api/2.0/mlflow/runs/log-parameter", #"{"run_id": "\#(id)", "key": "p", "value": "2"}"#)
            #expect(again.status == .badRequest)
            #expect(try errorCode(again) == "INVALID_PARAMETER_VALUE")
        }
    }

    @Test("experiment names that differ only in Unicode normalisation are the same name")
    func unicodeNames() async throws {
        try await withServer { client, _ in
            let composed = try await client.post("/api/2.0/mlflow/experiments/create", "{\"name\": \"caf\u{e9}\"}")
            #expect(composed.status == .ok)
            let decomposed = try await client.post("/api/2.0/mlflow/experiments/create", "{\"name\": \"cafe\u{301}\"}")
            #expect(decomposed.status == .badRequest)
            #expect(try errorCode(decomposed) == "RESOURCE_ALREADY_EXISTS")
            let found = try await client.get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=cafe%CC%81")
            #expect(found.status == .ok)
        }
    }

    @Test("hostile artifact locations are refused; foreign ones are stored but never served", arguments: [
        "../outside", "runs:/abc/artifacts", "mlflow-artifacts:/%2e%2e/x", "s3://bucket/%252e%252e/x", "a/..\\..\\b",
    ])
    func artifactLocations(location: String) async throws {
        try await withServer { client, _ in
            let body = "{\"name\": \"e\", \"artifact_location\": \"\(location.replacingOccurrences(of: "\\", with: "\\\\"))\"}"
            let r = try await client.post("/api/2.0/mlflow/experiments/create", body)
            #expect(r.status == .badRequest, "\(location)")
            #expect(try errorCode(r) == "INVALID_PARAMETER_VALUE")
        }
    }

    @Test("a run whose artifacts live elsewhere is never listed from the server's disk")
    func foreignArtifactLocation() async throws {
        try await withServer { client, _ in
            let created = try json(try await client.post("/api/2.0/mlflow/experiments/create", #"{"name": "remote", "artifact_location": "s3://bucket/root"}"#))
            guard case .string(let exp)? = created["experiment_id"] else {
                Issue.record("no experiment id")
                return
            }
            let run = try json(try await client.post("/api/2.0/mlflow/runs/create", #"{"experiment_id": "\#(exp)"}"#))
            #expect(run["run"]?["info"]?["artifact_uri"] != nil)
            guard case .string(let rid)? = run["run"]?["info"]?["run_id"] else {
                Issue.record("no run id")
                return
            }
            let list = try await client.get("/api/2.0/mlflow/artifacts/list?run_id=\(rid)")
            #expect(list.status == .badRequest)
            #expect(try errorCode(list) == "INVALID_PARAMETER_VALUE")
        }
    }

    @Test("search_experiments omits next_page_token on the last page")
    func lastPageToken() async throws {
        try await withServer { client, _ in
            let r = try json(try await client.post("/api/2.0/mlflow/experiments/search", #"{"max_results": 1000}"#))
            #expect(r["next_page_token"] == nil)
            #expect(r["experiments"] != nil)
        }
    }

    @Test("artifact proxy: upload, list, download, delete")
    func proxy() async throws {
        try await withServer { client, dir in
            let put = try await client.execute(
                uri: "/api/2.0/mlflow-artifacts/artifacts/0/r1/artifacts/sub/a%20b.txt", method: .put,
                headers: [.contentType: "text/plain"], body: ByteBuffer(string: "hello")
            )
            #expect(put.status == .ok)
            #expect(try String(contentsOfFile: dir + "/artifacts/0/r1/artifacts/sub/a b.txt", encoding: .utf8) == "hello")
            let list = try json(try await client.get("/api/2.0/mlflow-artifacts/artifacts?path=0/r1/artifacts"))
            #expect(list["files"] == .array([.object([("path", .string("sub")), ("is_dir", .bool(true))])]))
            let get = try await client.get("/api/2.0/mlflow-artifacts/artifacts/0/r1/artifacts/sub/a%20b.txt")
            #expect(String(buffer: get.body) == "hello")
            #expect(get.headers[.init("X-Content-Type-Options")!] == "nosniff")
            #expect(get.headers[.contentType] == "text/plain")
            let missing = try await client.get("/api/2.0/mlflow-artifacts/artifacts/0/nope.txt")
            #expect(missing.status == .notFound)
            #expect(try await client.execute(uri: "/api/2.0/mlflow-artifacts/artifacts/0/r1", method: .delete).status == .ok)
            #expect(!FileManager.default.fileExists(atPath: dir + "/artifacts/0/r1"))
            #expect(try json(try await client.get("/api/2.0/mlflow-artifacts/artifacts?path=0/r1")) == .object([]))
        }
    }

    @Test("artifact proxy refuses every traversal form with 400 'Invalid path'", arguments: [
        "../escape.txt", "..%2fescape.txt", "%2e%2e/escape.txt", "%2e%2e%2fescape.txt", "%252e%252e%252fescape.txt",
        "0/..%5c..%5cescape.txt", "%2Fetc%2Fpasswd", "/etc/passwd", "a%23b", "a%00b", "a;b/../..", "0/%2E%2E/%2E%2E/escape.txt",
    ])
    func traversal(path: String) async throws {
        try await withServer { client, dir in
            for method in [HTTPRequest.Method.put, .get, .delete] {
                let r = try await client.execute(uri: "/api/2.0/mlflow-artifacts/artifacts/" + path, method: method, body: ByteBuffer(string: "x"))
                #expect(r.status == .badRequest, "\(method) \(path)")
                #expect(try errorCode(r) == "INVALID_PARAMETER_VALUE")
            }
            #expect(!FileManager.default.fileExists(atPath: dir + "/escape.txt"))
            #expect(!FileManager.default.fileExists(atPath: (dir as NSString).deletingLastPathComponent + "/escape.txt"))
        }
    }

    @Test("artifacts/list refuses traversal and lists a run's files")
    func runArtifacts() async throws {
        try await withServer { client, _ in
            let id = try await createRun(client)
            _ = try await client.execute(
                uri: "/api/2.0/mlflow-artifacts/artifacts/0/\(id)/artifacts/d/f.txt", method: .put, body: ByteBuffer(string: "abc")
            )
            let list = try json(try await client.get("/api/2.0/mlflow/artifacts/list?run_id=\(id)&path=d"))
            #expect(list["files"] == .array([.object([("path", .string("d/f.txt")), ("is_dir", .bool(false)), ("file_size", .number("3"))])]))
            let bad = try await client.get("/api/2.0/mlflow/artifacts/list?run_id=\(id)&path=../../")
            #expect(bad.status == .badRequest)
        }
    }
}

@Suite("Logged model routes")
struct LoggedModelRoutesTests {
    @Test("create, get, finalize over HTTP; bad ids and paths are 4xx")
    func routes() async throws {
        try await withServer { client, _ in
            let created = try json(try await client.post("/api/2.0/mlflow/logged-models", #"{"experiment_id": "0", "name": "m"}"#))
            guard case .string(let id)? = created["model"]?["info"]?["model_id"] else {
                Issue.record("no model id")
                return
            }
            #expect(created["model"]?["info"]?["status"] == .string("LOGGED_MODEL_PENDING"))
            let finalized = try await client.execute(
                uri: "/api/2.0/mlflow/logged-models/\(id)", method: .patch, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"model_id": "\#(id)", "status": "LOGGED_MODEL_READY"}"#)
            )
            #expect(try json(finalized)["model"]?["info"]?["status"] == .string("LOGGED_MODEL_READY"))
            #expect(try await client.get("/api/2.0/mlflow/logged-models/\(id)").status == .ok)
            let badID = try await client.get("/api/2.0/mlflow/logged-models/..%2F..%2Fetc")
            #expect(badID.status == .badRequest)
            let unknown = try await client.get("/api/2.0/mlflow/logged-models/m-0123456789abcdef0123456789abcdef")
            #expect(unknown.status == .notFound)
            #expect(try errorCode(unknown) == "RESOURCE_DOES_NOT_EXIST")
            let traversal = try await client.get("/api/2.0/mlflow/logged-models/\(id)/artifacts/files?artifact_file_path=../../../x")
            #expect(traversal.status == .badRequest)
            let badStatus = try await client.execute(
                uri: "/api/2.0/mlflow/logged-models/\(id)", method: .patch, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"status": "LOGGED_MODEL_PENDING"}"#)
            )
            #expect(badStatus.status == .badRequest)
        }
    }
}

@Suite("Registry routes")
struct RegistryRoutesTests {
    @Test("model version sources cannot point the server at arbitrary places", arguments: [
        "/etc/passwd", "file:///etc/passwd", "relative/dir", "C:\\\\models", "runs:/%2e%2e/x", "mlflow-artifacts:/0/../../etc",
        "mlflow-artifacts:/0/%252e%252e/x", "http://host/api/2.0/mlflow-artifacts/artifacts/1/other/artifacts", "s3://b/..%2fx",
        "models:/not-an-id", "runs:/", "mlflow-artifacts:/0/RUN/artifacts/%00",
    ])
    func hostileSources(source: String) async throws {
        try await withServer { client, _ in
            let run = try await createRun(client)
            #expect(try await client.post("/api/2.0/mlflow/registered-models/create", #"{"name": "m"}"#).status == .ok)
            let escaped = source.replacingOccurrences(of: "RUN", with: run)
            let body = "{\"name\": \"m\", \"source\": \"\(escaped)\", \"run_id\": \"\(run)\"}"
            let r = try await client.post("/api/2.0/mlflow/model-versions/create", body)
            #expect(r.status == .badRequest, "\(source)")
            #expect(try errorCode(r) == "INVALID_PARAMETER_VALUE")
        }
    }

    @Test("runs:/ and proxied sources inside the run are accepted and resolve for download")
    func goodSources() async throws {
        try await withServer { client, _ in
            let run = try await createRun(client)
            _ = try await client.post("/api/2.0/mlflow/registered-models/create", #"{"name": "m"}"#)
            let fromRun = try json(try await client.post("/api/2.0/mlflow/model-versions/create", #"{"name": "m", "source": "runs:/\#(run)/model"}"#))
            #expect(fromRun["model_version"]?["version"] == .string("1"))
            #expect(fromRun["model_version"]?["status"] == .string("READY"))
            #expect(fromRun["model_version"]?["run_id"] == .string(run))
            let uri = try json(try await client.get("/api/2.0/mlflow/model-versions/get-download-uri?name=m&version=1"))
            #expect(uri["artifact_uri"] == .string("mlflow-artifacts:/0/\(run)/artifacts/model"))
            let proxied = try await client.post(
                "/api/2.0/mlflow/model-versions/create", #"{"name": "m", "source": "mlflow-artifacts:/0/\#(run)/artifacts/model", "run_id": "\#(run)"}"#
            )
            #expect(proxied.status == .ok)
            let mismatch = try await client.post("/api/2.0/mlflow/model-versions/create", #"{"name": "m", "source": "runs:/\#(run)/model", "run_id": "other"}"#)
            #expect(mismatch.status == .badRequest)
            let remote = try await client.post("/api/2.0/mlflow/model-versions/create", #"{"name": "m", "source": "s3://bucket/models/m"}"#)
            #expect(remote.status == .ok)
            let badVersion = try await client.get("/api/2.0/mlflow/model-versions/get?name=m&version=one")
            #expect(badVersion.status == .badRequest)
            let missing = try await client.get("/api/2.0/mlflow/model-versions/get?name=m&version=99")
            #expect(missing.status == .notFound)
            let reserved = try await client.post("/api/2.0/mlflow/registered-models/alias", #"{"name": "m", "alias": "v3", "version": "1"}"#)
            #expect(reserved.status == .badRequest)
            let badName = try await client.post("/api/2.0/mlflow/registered-models/create", #"{"name": "a/b"}"#)
            #expect(badName.status == .badRequest)
        }
    }
}

@Suite("Native API")
struct NativeAPITests {
    @Test("dataset versions list the runs that used them")
    func datasets() async throws {
        try await withServer { client, _ in
            let run = try await createRun(client)
            let body = #"{"run_id": "\#(run)", "datasets": [{"dataset": {"name": "train", "digest": "d1", "source_type": "local", "source": "{}"}, "tags": [{"key": "mlflow.data.context", "value": "training"}]}]}"#
            #expect(try await client.post("/api/2.0/mlflow/runs/log-inputs", body).status == .ok)
            let list = try json(try await client.get("/api/v1/datasets"))
            #expect(list["datasets"] == .array([.object([("name", .string("train")), ("versions", .number("1")), ("stored_versions", .number("0"))])]))
            let versions = try json(try await client.get("/api/v1/datasets/train/versions"))
            guard case .array(let items)? = versions["versions"], let first = items.first else {
                Issue.record("no versions")
                return
            }
            #expect(first["digest"] == .string("d1"))
            guard case .array(let uses)? = first["used_by"], let use = uses.first else {
                Issue.record("no runs in used_by")
                return
            }
            #expect(uses.count == 1)
            #expect(use["run_id"] == .string(run))
            #expect(use["context"] == .string("training"))
            #expect(try await client.get("/api/v1/datasets/unknown/versions").status == .notFound)
        }
    }

    @Test("a registered model's history records versions, aliases and stages in order")
    func history() async throws {
        try await withServer { client, _ in
            _ = try await client.post("/api/2.0/mlflow/registered-models/create", #"{"name": "m"}"#)
            _ = try await client.post("/api/2.0/mlflow/model-versions/create", #"{"name": "m", "source": "s3://b/m"}"#)
            _ = try await client.post("/api/2.0/mlflow/registered-models/alias", #"{"name": "m", "alias": "champion", "version": "1"}"#)
            _ = try await client.post("/api/2.0/mlflow/model-versions/transition-stage", #"{"name": "m", "version": "1", "stage": "Production", "archive_existing_versions": false}"#)
            let history = try json(try await client.get("/api/v1/models/m/history"))
            guard case .array(let events)? = history["events"] else {
                Issue.record("no events")
                return
            }
            #expect(events.map { $0["kind"] } == [.string("version_created"), .string("alias_set"), .string("stage_changed")])
            #expect(events[2]["detail"] == .string("None -> Production"))
            #expect(try await client.get("/api/v1/models/nope/history").status == .notFound)
            #expect(try await client.get("/api/v1/nothing").status == .notFound)
        }
    }

    @Test("history events record who made the change (HTTP basic user name) and when")
    func historyActor() async throws {
        try await withServer { client, _ in
            _ = try await client.post("/api/2.0/mlflow/registered-models/create", #"{"name": "m"}"#)
            _ = try await client.post("/api/2.0/mlflow/model-versions/create", #"{"name": "m", "source": "s3://b/m"}"#)
            let auth = "Basic " + Data("ana:secret".utf8).base64EncodedString()
            let r = try await client.execute(
                uri: "/api/2.0/mlflow/registered-models/alias", method: .post, headers: [.contentType: "application/json", .authorization: auth],
                body: ByteBuffer(string: #"{"name": "m", "alias": "champion", "version": "1"}"#))
            #expect(r.status == .ok)
            let garbage = try await client.execute(
                uri: "/api/2.0/mlflow/model-versions/transition-stage", method: .post,
                headers: [.contentType: "application/json", .authorization: "Basic !!!not-base64"],
                body: ByteBuffer(string: #"{"name": "m", "version": "1", "stage": "Staging", "archive_existing_versions": false}"#))
            #expect(garbage.status == .ok)
            let history = try json(try await client.get("/api/v1/models/m/history"))
            guard case .array(let events)? = history["events"], events.count == 3 else {
                Issue.record("expected three events: \(history)")
                return
            }
            #expect(events[0]["actor"] == nil)
            #expect(events[1]["kind"] == .string("alias_set") && events[1]["actor"] == .string("ana"))
            #expect(events[2]["kind"] == .string("stage_changed") && events[2]["actor"] == nil)
            guard case .number(let when)? = events[1]["timestamp"], let ms = Int64(when) else {
                Issue.record("no timestamp")
                return
            }
            #expect(abs(ms - Int64(Date().timeIntervalSince1970 * 1000)) < 60_000)
        }
    }

    @Test("lineage over HTTP as JSON and DOT; unclear requests are 400")
    func lineage() async throws {
        try await withServer { client, _ in
            let run = try await createRun(client)
            _ = try await client.post("/api/2.0/mlflow/runs/set-tag", #"{"run_id": "\#(run)", "key": "mlflow.source.git.commit", "value": "abc123"}"#)
            _ = try await client.post("/api/2.0/mlflow/registered-models/create", #"{"name": "m"}"#)
            _ = try await client.post("/api/2.0/mlflow/model-versions/create", #"{"name": "m", "source": "runs:/\#(run)/model"}"#)
            let graph = try json(try await client.get("/api/v1/lineage?model=m&version=1"))
            guard case .array(let nodes)? = graph["nodes"], case .array(let edges)? = graph["edges"] else {
                Issue.record("no graph")
                return
            }
            #expect(Set(nodes.compactMap { if case .string(let id)? = $0["id"] { id } else { nil } }) == ["model_version:m/1", "run:\(run)", "code:abc123"])
            #expect(edges.count == 2)
            let dot = try await client.get("/api/v1/lineage?run=\(run)&format=dot")
            #expect(dot.headers[.contentType]?.hasPrefix("text/vnd.graphviz") == true)
            #expect(String(buffer: dot.body).contains("\"run:\(run)\" -> \"code:abc123\""))
            #expect(try await client.get("/api/v1/lineage").status == .badRequest)
            #expect(try await client.get("/api/v1/lineage?model=m&version=x").status == .badRequest)
            #expect(try await client.get("/api/v1/lineage?run=nope").status == .notFound)
            #expect(try await client.get("/api/v1/lineage?run=\(run)&format=svg").status == .badRequest)
        }
    }

    @Test("the served OpenAPI document is the one in docs/")
    func openAPI() async throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi.json")
        let expected = try String(contentsOf: docs, encoding: .utf8)
        try await withServer { client, _ in
            let served = try await client.get("/api/v1/openapi.json")
            #expect(served.status == .ok)
            #expect(String(buffer: served.body) == expected)
            #expect(try json(served)["openapi"] == .string("3.0.3"))
        }
    }
}

@Suite("Team API")
struct TeamAPITests {
    func put(_ client: any TestClientProtocol, _ path: String, _ json: String) async throws -> TestResponse {
        try await client.execute(uri: path, method: .put, headers: [.contentType: "application/json"], body: ByteBuffer(string: json))
    }

    @Test("people, roles and projects: create, read, update, delete, with field-named errors")
    func crud() async throws {
        try await withServer { client, _ in
            let ana = #"{"name": "Ana", "email": "ana@example.com", "roles": ["data-scientist"], "skills": {"python": 5}, "history": [{"project": "old", "outcome": "delivered"}]}"#
            let created = try await client.post("/api/v1/people", ana)
            #expect(created.status == .created)
            #expect(try json(created)["success_rate"] == .number("1"))
            #expect(try await client.post("/api/v1/people", ana).status == .badRequest)  // id taken
            for (body, fragment) in [
                (#"{"name": "B", "email": "nope"}"#, "email:"),
                (#"{"name": "B", "email": "b@example.com", "skills": {"sql": 0}}"#, "levels are 1 to 5"),
                (#"{"name": "B", "email": "b@example.com", "roles": ["wizard"]}"#, "unknown role 'wizard'"),
                (#"{"name": "B", "email": "b@example.com", "capacity": "lots"}"#, "capacity"),
                (#"{"name": "B", "email": "b@example.com", "history": [{"project": "x", "outcome": "meh"}]}"#, "history[0].outcome"),
            ] {
                let r = try await client.post("/api/v1/people", body)
                #expect(r.status == .badRequest, "\(body)")
                guard case .string(let message)? = try json(r)["message"] else { Issue.record("no message"); continue }
                #expect(message.contains(fragment), "\(message)")
            }
            #expect(try await put(client, "/api/v1/people/ana", #"{"name": "Ana B", "email": "ana@example.com", "capacity": 0.5}"#).status == .ok)
            #expect(try json(try await client.get("/api/v1/people/ana"))["name"] == .string("Ana B"))
            #expect(try await client.get("/api/v1/people/nobody").status == .notFound)

            guard case .array(let roles)? = try json(try await client.get("/api/v1/roles"))["roles"] else { Issue.record("no roles"); return }
            #expect(roles.count == 10)
            #expect(try await put(client, "/api/v1/roles/annotator", #"{"name": "Annotator", "supports": ["data"]}"#).status == .ok)
            #expect(try await put(client, "/api/v1/roles/bad", #"{"name": "Bad", "leads": ["someday"]}"#).status == .badRequest)
            #expect(try await client.execute(uri: "/api/v1/roles/annotator", method: .delete).status == .ok)

            #expect(try await client.post("/api/v1/projects", #"{"name": "Churn", "scores": {"impact": 7}}"#).status == .badRequest)
            #expect(try await client.post("/api/v1/projects", #"{"name": "Churn", "tasks": [{"id": "a", "optimistic": 3, "likely": 1, "pessimistic": 5}]}"#).status == .badRequest)
            #expect(try await client.post("/api/v1/projects", #"{"name": "Churn"}"#).status == .created)
            #expect(try await put(client, "/api/v1/projects/churn", #"{"name": "Churn!", "areas": ["churn"]}"#).status == .ok)
            #expect(try json(try await client.get("/api/v1/projects/churn"))["name"] == .string("Churn!"))
            #expect(try await client.get("/api/v1/projects?stage=sideways").status == .badRequest)
            #expect(try await client.execute(uri: "/api/v1/projects/churn", method: .delete).status == .ok)
            #expect(try await client.get("/api/v1/projects/churn").status == .notFound)
        }
    }

    @Test("stage gate, planning endpoints, updates and the feed")
    func planning() async throws {
        try await withServer { client, _ in
            _ = try await client.post("/api/v1/people", #"{"name": "Max", "email": "max@example.com", "roles": ["ml-engineer"], "skills": {"python": 4, "mlops": 3}}"#)
            let project = #"""
                {"name": "Fraud", "needed_skills": {"data": {"python": 3}}, "required_fte": 0.5,
                 "tasks": [{"id": "a", "optimistic": 2, "likely": 3, "pessimistic": 6}, {"id": "b", "optimistic": 1, "likely": 1, "pessimistic": 1, "depends_on": ["a"]}],
                 "start_date": "2026-11-30"}
                """#
            #expect(try await client.post("/api/v1/projects", project).status == .created)
            let blocked = try await client.post("/api/v1/projects/fraud/stage", #"{"to": "data"}"#)
            #expect(blocked.status == .badRequest)
            guard case .string(let message)? = try json(blocked)["message"] else { Issue.record("no message"); return }
            #expect(message.contains("technical metric") && message.contains("checklist"))
            var ready = #"{"name": "Fraud", "technical_metrics": [{"name": "recall", "baseline": 0.5, "target": 0.8}], "business_metrics": [{"name": "losses", "baseline": 100, "target": 60, "higher_is_better": false}], "checklists": {"scoping": [{"text": "go", "done": true}]}, "start_date": "2026-11-30", "tasks": [{"id": "a", "optimistic": 2, "likely": 3, "pessimistic": 6}]}"#
            #expect(try await put(client, "/api/v1/projects/fraud", ready).status == .ok)
            let moved = try await client.post("/api/v1/projects/fraud/stage", #"{"to": "data", "why": "metrics agreed", "by": "max"}"#)
            #expect(moved.status == .ok)
            #expect(try json(moved)["stage"] == .string("data"))
            ready = ""
            #expect(try await client.post("/api/v1/projects/fraud/stage", #"{"to": "sideways"}"#).status == .badRequest)

            let portfolio = try json(try await client.get("/api/v1/portfolio?impact=1&cost=0"))
            #expect(portfolio["weights"]?["cost"] == .number("0"))
            #expect(try await client.get("/api/v1/portfolio?impact=-1").status == .badRequest)
            let staffing = try json(try await client.get("/api/v1/projects/fraud/staffing?stage=data"))
            guard case .array(let candidates)? = staffing["candidates"] else { Issue.record("no candidates"); return }
            #expect(candidates.first?["person"] == .string("max"))
            #expect(try await client.get("/api/v1/projects/fraud/staffing?stage=done").status == .badRequest)
            #expect(try json(try await client.get("/api/v1/coverage"))["missing_roles"] != nil)

            let forecast = try json(try await client.get("/api/v1/projects/fraud/forecast?trials=2000&seed=5"))
            #expect(forecast["trials"] == .number("2000") && forecast["p50_date"] != nil)
            let again = try json(try await client.get("/api/v1/projects/fraud/forecast?trials=2000&seed=5"))
            #expect(forecast["p80_days"] == again["p80_days"])
            #expect(try await client.get("/api/v1/projects/fraud/forecast?distribution=normal").status == .badRequest)
            #expect(try await client.get("/api/v1/projects/fraud/forecast?trials=0").status == .badRequest)

            #expect(try await client.post("/api/v1/projects/fraud/updates", #"{"author": "max", "blocked": "waiting for data access"}"#).status == .created)
            #expect(try await client.post("/api/v1/projects/fraud/updates", #"{"author": "max"}"#).status == .badRequest)
            let feed = try json(try await client.get("/api/v1/projects/fraud/updates"))
            guard case .array(let items)? = feed["activity"] else { Issue.record("no feed"); return }
            #expect(items.map { $0["kind"] } == [.string("update"), .string("stage_changed"), .string("project_created")])
            #expect(items[1]["actor"] == .string("max"))
            #expect(try json(try await client.get("/api/v1/projects/fraud/progress"))["weeks"] == .array([]))
            let team = try json(try await client.get("/api/v1/updates?max_results=2"))
            guard case .array(let teamItems)? = team["activity"] else { Issue.record("no team feed"); return }
            #expect(teamItems.count == 2 && teamItems[0]["kind"] == .string("update"))
            #expect(try await client.get("/api/v1/updates?max_results=0").status == .badRequest)

            // Bulk import: all or nothing.
            let bad = #"{"people": [{"name": "Ok", "email": "ok@example.com"}, {"name": "Bad", "email": "bad@example.com", "skills": {"x": 0}}]}"#
            #expect(try await client.post("/api/v1/people/import", bad).status == .badRequest)
            #expect(try await client.get("/api/v1/people/ok").status == .notFound)
            let good = #"{"people": [{"name": "Ok", "email": "ok@example.com"}, {"name": "Max M", "email": "max@example.com", "id": "max"}]}"#
            #expect(try json(try await client.post("/api/v1/people/import", good))["imported"] == .number("2"))
            #expect(try json(try await client.get("/api/v1/people/max"))["name"] == .string("Max M"))
            #expect(try await client.post("/api/v1/people/import", #"{"people": []}"#).status == .badRequest)
        }
    }
}
