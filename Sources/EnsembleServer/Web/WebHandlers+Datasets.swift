import EnsembleArtifacts
import EnsembleCore
import EnsembleJSON
import Foundation
import Hummingbird
import Mustache
import NIOCore

/// Datasets: logged and stored versions, with the runs that used them.
extension WebHandlers {
    func datasetsPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        var byName: [String: (Int, Int64)] = [:]
        for d in try await datasets.datasetNames() { byName[d.name, default: (0, 0)].0 = d.versions }
        for d in try await stored.storedDatasets() { byName[d.name, default: (0, 0)].1 = d.versions }
        return render("datasets", ["title": "Datasets", "datasets": byName.keys.sorted().map { name -> Context in
            ["name": name, "urlName": Self.urlComponent(name), "logged": byName[name]!.0, "stored": byName[name]!.1]
        }])
    }

    func datasetPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let name = try c.capture("name")
        let logged = (try? await datasets.datasetVersions(name: name)) ?? []
        let storedVersions = try await stored.storedDatasetVersions(name: name)
        guard !logged.isEmpty || !storedVersions.isEmpty else { throw EnsembleError.notFound("No dataset named '\(name)'.") }
        func users(_ digest: String) -> [Context] {
            logged.filter { $0.dataset.digest == digest }.flatMap { $0.usedBy }.map { ["runID": $0.runID, "runName": $0.runName, "context": $0.context ?? "used"] }
        }
        var storedCtx: [Context] = []
        for v in storedVersions {
            let full = try await stored.storedDatasetVersion(name: name, version: v.version)
            storedCtx.append([
                "version": v.version, "files": v.fileCount, "size": v.totalSize, "when": Self.when(v.createdAt), "by": v.createdBy as Any,
                "description": v.description ?? "", "digest": v.digest, "users": users(v.mlflowDigest) + users(v.digest),
                "manifest": full.files.prefix(500).map { ["path": $0.path, "size": $0.size, "sha": $0.sha256] },
            ])
        }
        return render("dataset", [
            "title": name, "name": name, "stored": storedCtx,
            "logged": logged.map { ["digest": $0.dataset.digest, "sourceType": $0.dataset.sourceType, "users": users($0.dataset.digest)] },
        ])
    }
}
