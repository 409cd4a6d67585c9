import EnsembleCore
import Foundation
import Hummingbird

/// `/api/v1/environments` and `/api/v1/deployments`: what runs where, recorded by CI/CD.
struct DeploymentHandlers: Sendable {
    let store: any DeploymentStore
    let references: DeploymentReferenceResolver

    func environments(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        struct Answer: Encodable { let environments: [DeploymentEnvironment] }
        return try CodableResponse.ok(Answer(environments: try await store.environments()))
    }

    /// `PUT /environments/{name} {"kind", "url", "region", "description"}`: creates or replaces one.
    func saveEnvironment(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        struct Body: Decodable {
            var kind: DeploymentEnvironment.Kind
            var url: String?
            var region: String?
            var description: String?
        }
        let body = try await request.decodeJSON(Body.self, context)
        let environment = DeploymentEnvironment(name: try context.capture("name"), kind: body.kind, url: body.url, region: body.region, description: body.description)
        try await store.saveEnvironment(environment)
        return try CodableResponse.ok(environment)
    }

    /// `POST /deployments {"name", "version", "environment", "status", "traffic", "project", "commit", "pipeline_run", "note"}`:
    /// what CI/CD reports (EDIT on the model).
    func record(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        var report = try await request.decodeJSON(DeploymentReport.self, context)
        try await context.requireOnModel(.edit, report.name)
        if let reference = report.reference { report.reference = try await references.validate(reference) }
        return try CodableResponse.ok(try await store.recordDeployment(report, actor: context.actor), status: .created)
    }

    func list(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        var q = DeploymentQuery(environment: try f.string("environment"), name: try f.string("model"), project: try f.string("project"))
        q.version = try f.int64("version", in: 1...Int64.max)
        q.activeOnly = try f.bool("active") ?? false
        struct Answer: Encodable { let deployments: [Deployment] }
        return try CodableResponse.ok(Answer(deployments: try await store.deployments(q)))
    }

    func get(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        try CodableResponse.ok(try await store.deployment(id: try Self.deploymentID(context)))
    }

    /// `GET /deployments/{id}/reference`: the stored dataset version its windows are compared with.
    func reference(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        try CodableResponse.ok(try await references.resolve(try await store.deployment(id: try Self.deploymentID(context))))
    }

    // MARK: A/B results

    /// `POST /projects/{id}/ab-results {"title", "control_model", "treatment_model", "result": <ensemble ab --json>}`.
    func saveABResult(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        guard let document = f.document("result"), case .object = document else {
            throw EnsembleError.invalid("result: send the analysis as `ensemble ab --json` prints it, as a JSON object.")
        }
        let text = document.jsonText
        let summary: ABSummary
        do {
            summary = try ABSummary.decoder.decode(ABSummary.self, from: Data(text.utf8))
        } catch let error as DecodingError {
            throw EnsembleError.invalid("result: " + DecodingMessages.describe(error))
        }
        try summary.validate()
        let result = ABResult(
            project: try context.capture("id"), title: try f.string("title") ?? "\(summary.treatment) vs \(summary.control)",
            controlModel: try f.string("control_model"), treatmentModel: try f.string("treatment_model"), result: text, summary: summary.summary,
            srmPValue: summary.srmPValue, actor: context.actor)
        return try CodableResponse.ok(try await store.saveABResult(result), status: .created)
    }

    func abResults(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        struct Answer: Encodable { let ab_results: [ABResult] }
        return try CodableResponse.ok(Answer(ab_results: try await store.abResults(project: try context.capture("id"), model: nil)))
    }

    func abResult(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        try CodableResponse.ok(try await store.abResult(id: try context.positiveCapture("id", of: "An A/B result id")))
    }

    // MARK: Drift windows

    static func deploymentID(_ context: EnsembleRequestContext) throws -> Int64 {
        try context.positiveCapture("id", of: "A deployment id")
    }

    /// `POST /deployments/{id}/windows {"label", "result": <ensemble drift --json>, "metrics": {"accuracy": 0.91}}`.
    func saveWindow(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        struct Result: Decodable {
            var drift_share: Double
            var drifted: Bool
            var columns: [DriftWindow.Column]
        }
        struct Body: Decodable {
            var label: String
            var result: Result
            var metrics: [String: Double]?
        }
        let body = try await request.decodeJSON(Body.self, context)
        let id = try Self.deploymentID(context)
        let deployment = try await store.deployment(id: id)
        try await context.requireOnModel(.edit, deployment.name)
        let window = DriftWindow(
            deployment: id, label: body.label, driftShare: body.result.drift_share, drifted: body.result.drifted, columns: body.result.columns,
            metrics: body.metrics ?? [:], actor: context.actor)
        return try CodableResponse.ok(try await store.saveDriftWindow(window), status: .created)
    }

    func windows(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let id = try Self.deploymentID(context)
        _ = try await store.deployment(id: id)
        struct Answer: Encodable { let windows: [DriftWindow] }
        return try CodableResponse.ok(Answer(windows: try await store.driftWindows(deployment: id)))
    }

    var routes: RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.get("environments", .read, use: environments)
        r.put("environments/{name}", .edit, use: saveEnvironment)
        r.get("deployments", .read, use: list)
        r.post("deployments", .edit, use: record)
        r.get("deployments/{id}", .read, use: get)
        r.get("deployments/{id}/reference", .read, use: reference)
        r.get("deployments/{id}/windows", .read, use: windows)
        r.post("deployments/{id}/windows", .edit, use: saveWindow)
        r.get("projects/{id}/ab-results", .read, use: abResults)
        r.post("projects/{id}/ab-results", .edit, scope: .project, use: saveABResult)
        r.get("ab-results/{id}", .read, use: abResult)
        return r
    }
}
