import EnsembleCore
import Foundation
import Hummingbird

/// `/api/v1/environments` and `/api/v1/deployments`: what runs where, recorded by CI/CD.
struct DeploymentHandlers: Sendable {
    let store: any DeploymentStore

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
        let report = try await request.decodeJSON(DeploymentReport.self, context)
        if let p = context.principal, context.authenticationRequired, p.role == .member, let control = context.accessControl {
            try await control.require(p, .edit, .registeredModel, report.name)
        }
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
        let raw = try context.capture("id")
        guard let id = Int64(raw), id > 0 else { throw EnsembleError.invalid("A deployment id is a positive number; got '\(raw.prefix(40))'.") }
        return try CodableResponse.ok(try await store.deployment(id: id))
    }

    var routes: RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.get("environments", .read, use: environments)
        r.put("environments/{name}", .edit, use: saveEnvironment)
        r.get("deployments", .read, use: list)
        r.post("deployments", .edit, use: record)
        r.get("deployments/{id}", .read, use: get)
        return r
    }
}
