import Crypto
import EnsembleCore
import Foundation
import NIOCore
import Synchronization
import Testing

@testable import EnsembleArtifacts

@Suite("Moving a data folder's files into a bucket")
struct FileMigrationTests {
    /// A data folder as a server leaves it: artifacts in nested folders (one over a part), blobs by
    /// SHA-256, a temporary upload and a symbolic link that must not be copied.
    func makeFolder() throws -> (folder: String, artifacts: [String: [UInt8]], blobs: [String: [UInt8]]) {
        let folder = try makeTempDir("migrate-files")
        let artifacts = try LocalArtifactStore(root: folder + "/artifacts")
        let files: [String: [UInt8]] = [
            "0/r1/artifacts/model/weights.bin": pattern(9 * 1024 * 1024 + 11), "0/r1/artifacts/MLmodel": Array("flavors: {}\n".utf8),
            "0/r1/artifacts/plots/ü loss.png": pattern(5000, seed: 3), "1/models/m-1/artifacts/empty.txt": [],
        ]
        for (path, bytes) in files { try artifacts.write(try ArtifactPath(path), bytes: bytes) }
        #expect(FileManager.default.createFile(atPath: folder + "/artifacts/0/r1/artifacts/" + LocalArtifactStore.tempPrefix + "half", contents: Data([1, 2])))
        try FileManager.default.createSymbolicLink(atPath: folder + "/artifacts/0/r1/artifacts/link", withDestinationPath: "/etc/passwd")
        let content = try ContentStore(root: folder + "/blobs")
        var blobs: [String: [UInt8]] = [:]
        for bytes in [Array("x,y\n1,2\n".utf8), pattern(6 * 1024 * 1024, seed: 8)] { blobs[try content.put(bytes)] = bytes }
        return (folder, files, blobs)
    }

    @Test("every file lands under PREFIX/artifacts and PREFIX/blobs, verified; links and temporary uploads stay behind")
    func copies() async throws {
        let (folder, files, blobs) = try makeFolder()
        let client = try MotoServer.client(prefix: "team")
        try await client.createBucket()
        let migration = FileMigration(folder: folder, location: client.location)
        let seen = Mutex(0)
        let report = try await migration.run(resume: false) { _ in seen.withLock { $0 += 1 } }
        #expect(report.verified && report.artifacts == files.count && report.blobs == blobs.count && report.alreadyThere == 0)
        #expect(report.skipped.sorted() == ["artifacts/0/r1/artifacts/\(LocalArtifactStore.tempPrefix)half", "artifacts/0/r1/artifacts/link"])
        #expect(seen.withLock { $0 } == 2 * (files.count + blobs.count))  // each file copied, then verified
        // What a server on the bucket reads is what the folder held.
        let store = S3ArtifactStore(client: S3Client(location: client.location.appending("artifacts")))
        for (path, bytes) in files { #expect(try await store.read(try ArtifactPath(path)).readAll() == bytes, "\(path)") }
        let content = S3BlobStore(client: S3Client(location: client.location.appending("blobs")), scratch: folder + "/tmp")
        for (sha, bytes) in blobs { #expect(try await content.read(sha).readAll() == bytes) }
        let all = try await client.list(prefix: "", delimiter: nil).objects.map(\.key)
        #expect(all.count == files.count + blobs.count && all.allSatisfy { $0.hasPrefix("team/artifacts/") || $0.hasPrefix("team/blobs/sha256/") })

        // A second copy into the same prefix is refused unless resuming, which sends nothing again.
        await #expect { _ = try await migration.run(resume: false) { _ in } } throws: { ($0 as? EnsembleError)?.message.contains("--resume") == true }
        let again = try await migration.run(resume: true) { _ in }
        #expect(again.verified && again.alreadyThere == files.count + blobs.count)
    }

    @Test("an object that differs from its file fails the verification; a damaged blob is never copied")
    func detectsDamage() async throws {
        let (folder, files, blobs) = try makeFolder()
        let client = try MotoServer.client(prefix: "")
        try await client.createBucket()
        let migration = FileMigration(folder: folder, location: client.location)
        _ = try await migration.run(resume: false) { _ in }
        // Same size, other bytes: only reading it back can tell.
        let key = client.key("artifacts/0/r1/artifacts/MLmodel")
        let original = files["0/r1/artifacts/MLmodel"]!
        try await client.put(key, bytes: ByteBuffer(bytes: original.map { $0 ^ 1 }))
        await #expect { _ = try await migration.run(resume: true) { _ in } } throws: { ($0 as? EnsembleError)?.message.contains("differ") == true }

        // A blob file whose bytes no longer hash to its name.
        let sha = blobs.keys.sorted()[0]
        let path = folder + "/blobs/sha256/\(sha.prefix(2))/\(sha.dropFirst(2).prefix(2))/\(sha)"
        try Data("tampered".utf8).write(to: URL(fileURLWithPath: path))
        let fresh = try MotoServer.client(prefix: "second")
        try await fresh.createBucket()
        await #expect { _ = try await FileMigration(folder: folder, location: fresh.location).run(resume: false) { _ in } } throws: {
            ($0 as? EnsembleError)?.message.contains("does not hash to its name") == true
        }
        #expect(try await fresh.list(prefix: fresh.key("blobs/"), delimiter: nil).objects.allSatisfy { !$0.key.hasSuffix(sha) })
    }
}
