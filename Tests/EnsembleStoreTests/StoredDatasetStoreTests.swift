import EnsembleCore
import Foundation
import Testing

@testable import EnsembleStore

/// The stores that implement ``StoredDatasetStore``: SQLite, and PostgreSQL (a real server, see ``TestPostgres``).
typealias DatasetBackend = Backend<any StoredDatasetStore>

extension Backend where Store == any StoredDatasetStore {
    static var all: [Backend] { sqliteAndPostgres({ $0 }, { $0 }) }
}

@Suite("StoredDatasetStore contract")
struct StoredDatasetStoreTests {
    static let a = String(repeating: "a", count: 64)
    static let b = String(repeating: "b", count: 64)

    @Test("an unchanged manifest makes no version; a changed one makes the next number", arguments: DatasetBackend.all)
    func versions(backend: DatasetBackend) async throws {
        let store = try await backend.make()
        let files = [DatasetFile(path: "train.csv", size: 10, sha256: Self.a), DatasetFile(path: "test/x.csv", size: 5, sha256: Self.b)]
        let (v1, created1) = try await store.addDatasetVersion(name: "iris", files: files, description: "first", createdBy: "ana")
        #expect(created1 && v1.version == 1 && v1.fileCount == 2 && v1.totalSize == 15 && v1.createdBy == "ana")
        #expect(v1.files.map(\.path) == ["test/x.csv", "train.csv"])

        let (again, created2) = try await store.addDatasetVersion(name: "iris", files: files.reversed(), description: nil, createdBy: nil)
        #expect(!created2 && again.version == 1 && again.digest == v1.digest)

        let changed = [DatasetFile(path: "train.csv", size: 10, sha256: Self.b), files[1]]
        let (v2, created3) = try await store.addDatasetVersion(name: "iris", files: changed, description: nil, createdBy: nil)
        #expect(created3 && v2.version == 2 && v2.digest != v1.digest)

        // Going back to the first content is a new version too: history is never rewritten.
        let (v3, created4) = try await store.addDatasetVersion(name: "iris", files: files, description: nil, createdBy: nil)
        #expect(created4 && v3.version == 3 && v3.digest == v1.digest)

        #expect(try await store.storedDatasetVersion(name: "iris", version: nil).version == 3)
        #expect(try await store.storedDatasetVersion(name: "iris", version: 2).files == changed.sorted { $0.path < $1.path })
        #expect(try await store.storedDatasetVersions(name: "iris").map(\.version) == [3, 2, 1])
        #expect(try await store.storedDatasets() == [StoredDatasetSummary(name: "iris", versions: 3, latest: 3, updatedAt: v3.createdAt)])
        // Lineage joins on the full digest or the 32-character MLflow digest; the oldest version wins.
        #expect(try await store.storedDatasetVersion(name: "iris", digest: v1.mlflowDigest)?.version == 1)
        #expect(try await store.storedDatasetVersion(name: "iris", digest: v2.digest)?.version == 2)
        #expect(try await store.storedDatasetVersion(name: "other", digest: v2.digest) == nil)
    }

    @Test("missing names and versions say what exists", arguments: DatasetBackend.all)
    func missing(backend: DatasetBackend) async throws {
        let store = try await backend.make()
        await #expect(throws: EnsembleError.notFound("No stored dataset named 'nope'. Add one with: ensemble dataset add nope PATH...")) {
            try await store.storedDatasetVersion(name: "nope", version: nil)
        }
        _ = try await store.addDatasetVersion(name: "d", files: [DatasetFile(path: "f", size: 1, sha256: Self.a)], description: nil, createdBy: nil)
        await #expect(throws: EnsembleError.notFound("Dataset 'd' has no version 7; its latest version is 1.")) {
            try await store.storedDatasetVersion(name: "d", version: 7)
        }
        await #expect(throws: EnsembleError.self) {
            try await store.addDatasetVersion(name: "../d", files: [DatasetFile(path: "f", size: 1, sha256: Self.a)], description: nil, createdBy: nil)
        }
        await #expect(throws: EnsembleError.self) {
            try await store.addDatasetVersion(name: "d", files: [DatasetFile(path: "../f", size: 1, sha256: Self.a)], description: nil, createdBy: nil)
        }
        #expect(try await store.storedDatasetVersions(name: "d").count == 1)
    }

    @Test("concurrent adds of one name get consecutive numbers; the same content twice makes one version", arguments: DatasetBackend.all)
    func concurrentAdds(backend: DatasetBackend) async throws {
        let store = try await backend.make()
        let results = try await withThrowingTaskGroup(of: (Int64, Bool).self) { group in
            for i in 0..<24 {
                group.addTask {
                    // Every third add repeats content; two names interleave.
                    let sha = String(format: "%064x", i / 3 * 3 == i ? 7 : i)
                    let r = try await store.addDatasetVersion(
                        name: i % 2 == 0 ? "even" : "odd", files: [DatasetFile(path: "part-\(i % 5).csv", size: Int64(i), sha256: sha)], description: nil, createdBy: nil)
                    return (r.version.version, r.created)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for name in ["even", "odd"] {
            let versions = try await store.storedDatasetVersions(name: name).map(\.version)
            #expect(versions == Array((1...Int64(versions.count)).reversed()), "\(name): \(versions)")
        }
        let created = results.filter(\.1).count
        let total = try await store.storedDatasetVersions(name: "even").count + store.storedDatasetVersions(name: "odd").count
        #expect(created == total && created >= 16)
    }
}

@Suite("DatasetCatalog contract")
struct DatasetCatalogContractTests {
    @Test("datasets logged by runs are listed by name with their versions and the runs that used them", arguments: StoreBackend.all)
    func catalog(backend: StoreBackend) async throws {
        let store = try await backend.make()
        #expect(try await store.datasetNames().isEmpty)
        func input(_ digest: String, _ context: String) -> DatasetInput {
            DatasetInput(
                dataset: Dataset(name: "customers", digest: digest, sourceType: "local", source: "{}"),
                tags: [KeyValue(key: "mlflow.data.context", value: context)])
        }
        let a = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "a", startTime: 1, tags: [])).info.runID
        let b = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "b", startTime: 2, tags: [])).info.runID
        try await store.logInputs(runID: a, datasets: [input("d1", "training")], modelIDs: [])
        try await store.logInputs(runID: b, datasets: [input("d1", "training"), input("d2", "eval")], modelIDs: [])
        let names = try await store.datasetNames()
        #expect(names.count == 1)
        #expect(names.first?.name == "customers")
        #expect(names.first?.versions == 2)
        let versions = try await store.datasetVersions(name: "customers")
        #expect(Set(versions.map(\.dataset.digest)) == ["d1", "d2"])
        let d1 = try #require(versions.first { $0.dataset.digest == "d1" })
        #expect(Set(d1.usedBy.map(\.runID)) == [a, b])
        #expect(await errorCode { _ = try await store.datasetVersions(name: "nobody") } == .resourceDoesNotExist)
    }
}
