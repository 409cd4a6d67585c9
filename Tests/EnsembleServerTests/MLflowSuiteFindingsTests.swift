import EnsembleJSON
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import EnsembleServer

/// Regressions for what MLflow's own REST tracking tests found where Ensemble differed from MLflow 3.17.
@Suite("MLflow test-suite findings")
struct MLflowSuiteFindingsTests {
    func message(_ r: TestResponse) throws -> String {
        if case .string(let m)? = try json(r)["message"] { return m }
        return ""
    }

    func steps(_ r: TestResponse) throws -> [Int64] {
        guard case .array(let items)? = try json(r)["metrics"] else { return [] }
        return items.compactMap { item -> Int64? in
            if case .number(let n)? = item["step"] { return Int64(n) }
            return nil
        }
    }

    @Test("get-history-bulk-interval chooses MLflow's steps and words its range error as MLflow does")
    func bulkInterval() async throws {
        try await withServer { client, _ in
            let run = try await createRun(client)
            let metrics = (0..<10).map { #"{"key": "metricA", "value": 10.0, "timestamp": 1, "step": \#($0)}"# }.joined(separator: ",")
            #expect(try await client.post("/api/2.0/mlflow/runs/log-batch", #"{"run_id": "\#(run)", "metrics": [\#(metrics)]}"#).status == .ok)
            let base = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids=\(run)&metric_key=metricA"
            #expect(try steps(try await client.get(base + "&max_results=5")) == [0, 2, 4, 6, 8, 9])
            #expect(try steps(try await client.get(base + "&max_results=5&start_step=0&end_step=4")) == [0, 1, 2, 3, 4])
            for bad in ["0", "2501", "-3"] {
                let r = try await client.get(base + "&max_results=\(bad)")
                #expect(r.status == .badRequest)
                #expect(try message(r) == "max_results must be between 1 and 2500.")
            }
        }
    }

    @Test("get-history-bulk and search-datasets refuse with MLflow's messages")
    func messages() async throws {
        try await withServer { client, _ in
            let noRun = try await client.get("/api/2.0/mlflow/metrics/get-history-bulk?metric_key=m")
            #expect(try message(noRun) == "GetMetricHistoryBulk request must specify at least one run_id.")
            let noKey = try await client.get("/api/2.0/mlflow/metrics/get-history-bulk?run_id=abc")
            #expect(try message(noKey) == "GetMetricHistoryBulk request must specify a metric_key.")
            let none = try await client.post("/api/2.0/mlflow/experiments/search-datasets", #"{"experiment_ids": []}"#)
            #expect(try message(none) == "SearchDatasets request must specify at least one experiment_id.")
            let ids = (0..<21).map { "\"\($0)\"" }.joined(separator: ",")
            let many = try await client.post("/api/2.0/mlflow/experiments/search-datasets", #"{"experiment_ids": [\#(ids)]}"#)
            #expect(try message(many) == "SearchDatasets request cannot specify more than 20 experiment_ids. Received 21 experiment_ids.")
        }
    }

    @Test("upload-artifact checks run id, path and data in MLflow's order and words")
    func uploadArtifact() async throws {
        try await withServer { client, dir in
            let run = try await createRun(client)
            func upload(_ query: String, _ body: String) async throws -> TestResponse {
                try await client.execute(uri: "/ajax-api/2.0/mlflow/upload-artifact?\(query)", method: .post, body: ByteBuffer(string: body))
            }
            #expect(try message(try await upload("path=a.txt", "x")) == "Request must specify run_uuid.")
            #expect(try message(try await upload("run_uuid=\(run)", "x")) == "Request must specify path.")
            let empty = try await upload("run_uuid=\(run)&path=a.txt", "")
            #expect(empty.status == .badRequest)
            #expect(try message(empty) == "Request must specify data.")
            #expect(try await upload("run_uuid=\(run)&path=../a.txt", "x").status == .badRequest)
            #expect(try await upload("run_uuid=\(run)&path=a.txt", "hello").status == .ok)
            #expect(try String(contentsOfFile: dir + "/artifacts/0/\(run)/artifacts/a.txt", encoding: .utf8) == "hello")
        }
    }

    @Test("model-versions/get-artifact: doubled slashes route, and a bad path is a 400 before any lookup")
    func modelVersionArtifact() async throws {
        try await withServer { client, _ in
            let doubled = try await client.get("//model-versions/get-artifact?name=nope&version=1&path=model.pkl")
            #expect(doubled.status == .notFound)
            #expect(try errorCode(doubled) == "RESOURCE_DOES_NOT_EXIST")
            let traversal = try await client.get("/model-versions/get-artifact?name=nope&version=1&path=../secret")
            #expect(traversal.status == .badRequest)
            #expect(try message(traversal).contains("Invalid path"))
        }
    }

    @Test("a logged model may name a source run that does not exist, as MLflow allows")
    func loggedModelUnknownSourceRun() async throws {
        try await withServer { client, _ in
            let r = try await client.post("/api/2.0/mlflow/logged-models", #"{"experiment_id": "0", "name": "m", "source_run_id": "0123456789abcdef0123456789abcdef"}"#)
            #expect(r.status == .ok)
            #expect(try json(r)["model"]?["info"]?["source_run_id"] == .string("0123456789abcdef0123456789abcdef"))
        }
    }

    @Test("logged-models/search applies its datasets field to metric filters")
    func loggedModelDatasets() async throws {
        try await withServer { client, _ in
            let run = try await createRun(client)
            var ids: [String] = []
            for name in ["a", "b"] {
                let r = try await client.post("/api/2.0/mlflow/logged-models", #"{"experiment_id": "0", "name": "\#(name)", "source_run_id": "\#(run)"}"#)
                guard case .string(let id)? = try json(r)["model"]?["info"]?["model_id"] else {
                    Issue.record("no model id")
                    return
                }
                ids.append(id)
            }
            // a: accuracy 0.9 on "val"; b: accuracy 0.9 on "test".
            let metrics = [
                #"{"key": "accuracy", "value": 0.9, "timestamp": 1, "step": 0, "model_id": "\#(ids[0])", "dataset_name": "val", "dataset_digest": "d1"}"#,
                #"{"key": "accuracy", "value": 0.9, "timestamp": 1, "step": 0, "model_id": "\#(ids[1])", "dataset_name": "test", "dataset_digest": "d2"}"#,
            ].joined(separator: ",")
            #expect(try await client.post("/api/2.0/mlflow/runs/log-batch", #"{"run_id": "\#(run)", "metrics": [\#(metrics)]}"#).status == .ok)
            func names(_ datasets: String) async throws -> [String] {
                let r = try await client.post(
                    "/api/2.0/mlflow/logged-models/search",
                    #"{"experiment_ids": ["0"], "filter": "metrics.accuracy > 0.5", "datasets": \#(datasets), "order_by": [{"field_name": "name"}]}"#)
                #expect(r.status == .ok, "\(String(buffer: r.body))")
                guard case .array(let models)? = try json(r)["models"] else { return [] }
                return models.compactMap { if case .string(let n)? = $0["info"]?["name"] { return n } else { return nil } }
            }
            #expect(try await names("[]") == ["a", "b"])
            #expect(try await names(#"[{"dataset_name": "val"}]"#) == ["a"])
            #expect(try await names(#"[{"dataset_name": "test", "dataset_digest": "d2"}]"#) == ["b"])
            #expect(try await names(#"[{"dataset_name": "test", "dataset_digest": "other"}]"#) == [])
            let missingName = try await client.post("/api/2.0/mlflow/logged-models/search", #"{"experiment_ids": ["0"], "datasets": [{"dataset_digest": "d2"}]}"#)
            #expect(missingName.status == .badRequest)
        }
    }

    @Test("registering a logged model writes mlflow.modelVersions as MLflow does, numbers and spacing included")
    func modelVersionsTag() async throws {
        try await withServer { client, _ in
            let run = try await createRun(client)
            let created = try await client.post("/api/2.0/mlflow/logged-models", #"{"experiment_id": "0", "name": "m", "source_run_id": "\#(run)"}"#)
            guard case .string(let id)? = try json(created)["model"]?["info"]?["model_id"] else {
                Issue.record("no model id")
                return
            }
            #expect(try await client.post("/api/2.0/mlflow/registered-models/create", #"{"name": "churn \"v\""}"#).status == .ok)
            for _ in 0..<2 {
                let v = try await client.post(
                    "/api/2.0/mlflow/model-versions/create", #"{"name": "churn \"v\"", "source": "models:/\#(id)", "model_id": "\#(id)", "run_id": "\#(run)"}"#)
                #expect(v.status == .ok, "\(String(buffer: v.body))")
            }
            let model = try json(try await client.get("/api/2.0/mlflow/logged-models/\(id)"))
            guard case .array(let tags)? = model["model"]?["info"]?["tags"] else {
                Issue.record("no tags")
                return
            }
            let value = tags.first { $0["key"] == .string("mlflow.modelVersions") }?["value"]
            #expect(value == .string(#"[{"name": "churn \"v\"", "version": 1}, {"name": "churn \"v\"", "version": 2}]"#))
        }
    }
}
