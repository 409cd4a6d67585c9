import EnsembleCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import EnsembleClient
@testable import EnsembleServer

/// Runs a real server on a free loopback port and hands a client for it to `body`.
func withLiveServer(_ body: @Sendable (EnsembleClient, String) async throws -> Void) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-client-\(UUID().uuidString)").path
    var config = ServerConfiguration()
    config.dataDirectory = dir
    config.port = 0
    var logger = Logger(label: "test")
    logger.logLevel = .warning
    let app = try buildApplication(configuration: config, logger: logger)
    try await app.test(.live) { test in
        let port = try #require(test.port)
        try await body(try EnsembleClient(server: "http://127.0.0.1:\(port)"), dir)
    }
}

func tempFolder(_ label: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-\(label)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func write(_ bytes: [UInt8], to path: String) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

/// Every regular file under `root`, relative path → bytes.
func snapshot(_ root: String) throws -> [String: [UInt8]] {
    var files: [String: [UInt8]] = [:]
    let e = FileManager.default.enumerator(atPath: root)
    while let p = e?.nextObject() as? String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: root + "/" + p, isDirectory: &isDir), !isDir.boolValue { files[p] = try read(root + "/" + p) }
    }
    return files
}

func blobCount(_ dataDir: String) -> Int {
    let e = FileManager.default.enumerator(atPath: dataDir + "/blobs/sha256")
    var n = 0
    while let p = e?.nextObject() as? String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dataDir + "/blobs/sha256/" + p, isDirectory: &isDir), !isDir.boolValue { n += 1 }
    }
    return n
}

@Suite("Dataset add and restore against a live server")
struct DatasetTransferTests {
    @Test("add, dedup, a one-byte change, and a byte-identical restore of every version")
    func roundTrip() async throws {
        try await withLiveServer { client, dataDir in
            let transfer = DatasetTransfer(client: client)
            let src = try tempFolder("src")
            var random = SystemRandomNumberGenerator()
            let big = (0..<(2_500_000)).map { _ in UInt8.random(in: 0...255, using: &random) }
            try write(big, to: src + "/images/big.bin")
            try write(Array("id,label\n1,cat\n".utf8), to: src + "/labels.csv")
            try write(Array("id,label\n1,cat\n".utf8), to: src + "/copy/labels.csv")  // same content, second path
            try write([], to: src + "/empty.txt")
            try write(Array("ü".utf8), to: src + "/ünïcode names/ñ 1.txt")
            let original = try snapshot(src)

            let first = try await transfer.add(name: "pets", paths: [src], description: "v1", createdBy: "test")
            #expect(first.created && first.version.version == 1 && first.version.fileCount == 5)
            #expect(first.uploadedFiles == 4)  // the two identical label files are one content
            #expect(blobCount(dataDir) == 4)

            let again = try await transfer.add(name: "pets", paths: [src], description: nil, createdBy: nil)
            #expect(!again.created && again.version.version == 1 && again.uploadedFiles == 0)
            #expect(blobCount(dataDir) == 4)

            var changed = big
            changed[1_234_567] ^= 0xFF
            try write(changed, to: src + "/images/big.bin")
            let second = try await transfer.add(name: "pets", paths: [src], description: nil, createdBy: nil)
            #expect(second.created && second.version.version == 2 && second.uploadedFiles == 1 && second.uploadedBytes == Int64(big.count))
            #expect(second.version.digest != first.version.digest)
            #expect(blobCount(dataDir) == 5)

            let out1 = try tempFolder("out1") + "/restored"
            let r1 = try await transfer.restore(name: "pets", version: 1, into: out1, overwrite: false)
            #expect(r1.downloadedFiles == 5 && r1.extraFiles.isEmpty)
            #expect(try snapshot(out1) == original)

            let out2 = try tempFolder("out2")
            _ = try await transfer.restore(name: "pets", version: nil, into: out2, overwrite: false)
            #expect(try snapshot(out2) == snapshot(src))

            // Restoring again is a no-op; a locally modified file is kept unless --overwrite.
            let r2 = try await transfer.restore(name: "pets", version: 2, into: out2, overwrite: false)
            #expect(r2.downloadedFiles == 0 && r2.unchangedFiles == 5)
            try write(Array("tampered".utf8), to: out2 + "/labels.csv")
            try write(Array("mine".utf8), to: out2 + "/notes.md")
            await #expect(throws: ClientError.self) { try await transfer.restore(name: "pets", version: 2, into: out2, overwrite: false) }
            #expect(try read(out2 + "/labels.csv") == Array("tampered".utf8))
            let r3 = try await transfer.restore(name: "pets", version: 2, into: out2, overwrite: true)
            #expect(r3.downloadedFiles == 1 && r3.extraFiles == ["notes.md"])
            #expect(try read(out2 + "/labels.csv") == Array("id,label\n1,cat\n".utf8))
        }
    }

    @Test("several paths go under their own names; links, clashes and unknown versions are clear errors")
    func choosingFiles() async throws {
        try await withLiveServer { client, _ in
            let src = try tempFolder("paths")
            try write(Array("a".utf8), to: src + "/train/a.csv")
            try write(Array("b".utf8), to: src + "/test/a.csv")
            try write(Array("r".utf8), to: src + "/README.md")
            let files = try DatasetTransfer.collect([src + "/train", src + "/test/", src + "/README.md"])
            #expect(files.map(\.datasetPath) == ["README.md", "test/a.csv", "train/a.csv"])
            #expect(throws: ClientError.self) { try DatasetTransfer.collect([src + "/train/a.csv", src + "/test/a.csv"]) }
            #expect(throws: ClientError.self) { try DatasetTransfer.collect([src + "/missing"]) }
            try FileManager.default.createSymbolicLink(atPath: src + "/train/link", withDestinationPath: "/etc/passwd")
            #expect(throws: ClientError.self) { try DatasetTransfer.collect([src + "/train"]) }

            let transfer = DatasetTransfer(client: client)
            await #expect(throws: ClientError.self) { try await transfer.restore(name: "nothing", version: 1, into: src + "/out", overwrite: false) }
            await #expect(throws: ClientError.self) { try await transfer.add(name: "bad name", paths: [src + "/test"], description: nil, createdBy: nil) }
        }
    }

    @Test("the server refuses versions whose content was never uploaded, and blobs that do not match their name")
    func serverChecks() async throws {
        try await withLiveServer { client, _ in
            struct NewVersion: Encodable { var files: [FileDTO] }
            let sha = String(repeating: "c", count: 64)
            await #expect(throws: ClientError.self) {
                let _: VersionAnswer = try await client.json(
                    .POST, "/api/v1/datasets/d/versions", body: NewVersion(files: [FileDTO(DatasetFile(path: "f", size: 1, sha256: sha))]))
            }
            do {
                _ = try await client.send(.PUT, "/api/v1/blobs/\(sha)", body: .bytes(.init(string: "not c")), contentType: "application/octet-stream")
                Issue.record("a blob with the wrong hash was accepted")
            } catch let error as ClientError {
                #expect(error.status == 400 && error.message.contains("does not match its SHA-256"))
            }
            do {
                _ = try await client.send(.GET, "/api/v1/blobs/..%2F..%2Fetc%2Fpasswd")
                Issue.record("a traversal blob name was served")
            } catch let error as ClientError {
                #expect(error.status == 400)
            }
        }
    }
}
