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
        var byName: [String: (logged: Int, stored: Int64)] = [:]
        for d in try await datasets.datasetNames() { byName[d.name, default: (0, 0)].logged = d.versions }
        for d in try await stored.storedDatasets() { byName[d.name, default: (0, 0)].stored = d.versions }
        let rows = byName.sorted { $0.key < $1.key }.map { name, counts in
            DatasetsView.Row(name: name, urlName: Self.urlComponent(name), logged: counts.logged, stored: counts.stored)
        }
        return render(c, "datasets", DatasetsView(datasets: rows))
    }

    func datasetPage(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let name = try c.capture("name")
        let logged = (try? await datasets.datasetVersions(name: name)) ?? []
        let storedVersions = try await stored.storedDatasetVersions(name: name)
        guard !logged.isEmpty || !storedVersions.isEmpty else { throw EnsembleError.notFound("No dataset named '\(name)'.") }
        func users(_ digest: String) -> [DatasetView.User] {
            logged.filter { $0.dataset.digest == digest }.flatMap { $0.usedBy }.map { DatasetView.User(runID: $0.runID, runName: $0.runName, context: $0.context ?? "used") }
        }
        var storedRows: [DatasetView.StoredVersion] = []
        for v in storedVersions {
            let full = try await stored.storedDatasetVersion(name: name, version: v.version)
            storedRows.append(
                DatasetView.StoredVersion(
                    version: v.version, files: v.fileCount, size: v.totalSize, when: Self.when(v.createdAt), by: v.createdBy,
                    description: v.description ?? "", digest: v.digest, users: users(v.mlflowDigest) + users(v.digest),
                    manifest: full.files.prefix(500).map { DatasetView.File(path: $0.path, size: $0.size, sha: $0.sha256) }))
        }
        return render(
            c,
            "dataset",
            DatasetView(
                title: name, name: name, stored: storedRows,
                logged: logged.map { DatasetView.LoggedVersion(digest: $0.dataset.digest, sourceType: $0.dataset.sourceType, users: users($0.dataset.digest)) }))
    }
}
