import AsyncHTTPClient
import Crypto
import EnsembleCore
import Foundation
import NIOCore
import Testing

@testable import EnsembleArtifacts

/// The two places files can live. Every test below runs on both, so the server's handlers, which
/// only see the protocols, behave the same whichever `ensemble serve` was given.
enum FileBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case folder, bucket
    var testDescription: String { rawValue }

    func artifacts() async throws -> any ArtifactStorage {
        switch self {
        case .folder: return try LocalArtifactStore(root: try makeTempDir("contract-artifacts"))
        case .bucket:
            let client = try MotoServer.client(prefix: "team/artifacts")
            try await client.createBucket()
            return S3ArtifactStore(client: client, partSize: 5 * 1024 * 1024)
        }
    }

    func blobs() async throws -> (any BlobStorage, S3Client?) {
        switch self {
        case .folder: return (try ContentStore(root: try makeTempDir("contract-blobs")), nil)
        case .bucket:
            let client = try MotoServer.client(prefix: "team/blobs")
            try await client.createBucket()
            return (S3BlobStore(client: client, scratch: try makeTempDir("contract-scratch"), partSize: 5 * 1024 * 1024), client)
        }
    }
}

func pattern(_ count: Int, seed: Int = 1) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 7 &+ seed) }
}

/// Feeds `bytes` to an upload in uneven pieces, as a request body arrives.
func feed(_ upload: any StorageUpload, _ bytes: [UInt8]) async throws {
    var offset = 0
    var piece = 1
    while offset < bytes.count {
        let n = min(bytes.count - offset, piece * 97_003)
        try await upload.append(ByteBuffer(bytes: bytes[offset..<offset + n]))
        offset += n
        piece = piece % 40 + 1
    }
}

@Suite("File storage contract: the data folder and an S3 bucket behave the same")
struct StorageContractTests {
    @Test("uploads in pieces read back byte for byte; listings are one level, sorted, with sizes", arguments: FileBackend.allCases)
    func roundTrip(_ backend: FileBackend) async throws {
        let store = try await backend.artifacts()
        let big = pattern(12 * 1024 * 1024 + 5)  // more than two 5 MiB parts in a bucket
        let files: [(String, [UInt8])] = [
            ("0/run/artifacts/model/weights.bin", big), ("0/run/artifacts/model/MLmodel", Array("flavors: {}\n".utf8)),
            ("0/run/artifacts/plots/ü ber+plot.png", pattern(3000, seed: 9)), ("0/run/artifacts/empty.txt", []),
        ]
        for (path, bytes) in files {
            let upload = try await store.startUpload(try ArtifactPath(path))
            try await feed(upload, bytes)
            #expect(try await upload.commit())
            #expect(upload.bytesWritten == Int64(bytes.count))
        }
        for (path, bytes) in files {
            let file = try await store.read(try ArtifactPath(path))
            #expect(file.size == Int64(bytes.count))
            #expect(try await file.readAll() == bytes, "\(path)")
        }
        #expect(try await store.list(try ArtifactPath("0/run/artifacts")) == [
            ArtifactFileInfo(name: "empty.txt", isDirectory: false, size: 0), ArtifactFileInfo(name: "model", isDirectory: true, size: nil),
            ArtifactFileInfo(name: "plots", isDirectory: true, size: nil),
        ])
        #expect(try await store.list(try ArtifactPath("0/run/artifacts/model"))?.map(\.name) == ["MLmodel", "weights.bin"])
        #expect(try await store.list(try ArtifactPath(""))?.map(\.name) == ["0"])
        #expect(try await store.list(try ArtifactPath("0/other")) == nil)
        try await store.checkWritable()
        // The readiness probe leaves nothing that a listing shows.
        #expect(try await store.list(try ArtifactPath(""))?.map(\.name) == ["0"])
    }

    @Test("missing files are not found, folders cannot be downloaded, the root cannot be written or deleted", arguments: FileBackend.allCases)
    func refusals(_ backend: FileBackend) async throws {
        let store = try await backend.artifacts()
        let u = try await store.startUpload(try ArtifactPath("r/a/x.txt"))
        try await u.append(ByteBuffer(string: "x"))
        try await u.commit()
        await #expect { _ = try await store.read(try ArtifactPath("r/a/none.txt")) } throws: { ($0 as? EnsembleError)?.code == .resourceDoesNotExist }
        await #expect { _ = try await store.read(try ArtifactPath("r/a")) } throws: { ($0 as? EnsembleError)?.code == .invalidParameterValue }
        await #expect { _ = try await store.startUpload(try ArtifactPath("")) } throws: { ($0 as? EnsembleError)?.code == .invalidParameterValue }
        await #expect { try await store.delete(try ArtifactPath("")) } throws: { ($0 as? EnsembleError)?.code == .invalidParameterValue }
        try await store.delete(try ArtifactPath("r/never/was"))  // deleting what is missing is fine
        #expect(try await store.read(try ArtifactPath("r/a/x.txt")).readAll() == [UInt8(ascii: "x")])
    }

    @Test("an upload replaces a file only when committed; an aborted one (even mid-multipart) leaves nothing", arguments: FileBackend.allCases)
    func commitAndAbort(_ backend: FileBackend) async throws {
        let store = try await backend.artifacts()
        let path = try ArtifactPath("r/notes.txt")
        let first = try await store.startUpload(path)
        try await first.append(ByteBuffer(string: "first"))
        try await first.commit()
        let second = try await store.startUpload(path)
        try await second.append(ByteBuffer(string: "second version"))
        #expect(try await store.read(path).readAll() == Array("first".utf8))
        await second.abort()
        #expect(try await store.read(path).readAll() == Array("first".utf8))
        let big = try await store.startUpload(try ArtifactPath("r/big.bin"))
        try await feed(big, pattern(11 * 1024 * 1024))
        await big.abort()
        #expect(try await store.list(try ArtifactPath("r"))?.map(\.name) == ["notes.txt"])
        if let s3 = store as? S3ArtifactStore { #expect(try await s3.client.openUploads() == []) }
    }

    @Test("deleting a folder deletes everything in it and nothing beside it", arguments: FileBackend.allCases)
    func deleteFolder(_ backend: FileBackend) async throws {
        let store = try await backend.artifacts()
        for name in ["r/a/x.txt", "r/a/b/y.txt", "r/ab.txt", "r/keep.txt"] {
            let u = try await store.startUpload(try ArtifactPath(name))
            try await u.append(ByteBuffer(string: name))
            try await u.commit()
        }
        try await store.delete(try ArtifactPath("r/a"))
        // "r/ab.txt" shares the prefix "r/a" as text, not as a folder: it stays.
        #expect(try await store.list(try ArtifactPath("r"))?.map(\.name) == ["ab.txt", "keep.txt"])
        try await store.delete(try ArtifactPath("r/keep.txt"))
        #expect(try await store.list(try ArtifactPath("r"))?.map(\.name) == ["ab.txt"])
    }

    @Test("a presigned download URL serves the file without credentials; a folder store has none", arguments: FileBackend.allCases)
    func downloadURLs(_ backend: FileBackend) async throws {
        let store = try await backend.artifacts()
        let path = try ArtifactPath("r/report.json")
        let u = try await store.startUpload(path)
        try await u.append(ByteBuffer(string: "{\"auc\": 0.9}"))
        try await u.commit()
        guard let (url, size) = try await store.downloadURL(path, expires: 60) else {
            #expect(backend == .folder)
            return
        }
        #expect(backend == .bucket)
        #expect(size == 12)
        await #expect { _ = try await store.downloadURL(try ArtifactPath("r/missing.json"), expires: 60) } throws: {
            ($0 as? EnsembleError)?.code == .resourceDoesNotExist
        }
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        #expect(response.status == .ok)
        #expect(String(buffer: try await response.body.collect(upTo: 1024)) == "{\"auc\": 0.9}")
    }

    @Test(
        "direct uploads: a bucket presigns each part and publishes only an upload whose parts are all there and within the limit; a folder has none",
        arguments: FileBackend.allCases)
    func directUploads(_ backend: FileBackend) async throws {
        let store = try await backend.artifacts()
        let path = try ArtifactPath("0/run/artifacts/model/big.bin")
        let invalid = { (e: any Error) in (e as? EnsembleError)?.code == .invalidParameterValue }
        guard let upload = try await store.startDirectUpload(path, parts: 2, expires: 600) else {
            #expect(backend == .folder)
            await #expect { try await store.completeDirectUpload(path, uploadID: "u", parts: [.init(number: 1, etag: "e")], limit: 1 << 30) } throws: {
                ($0 as? EnsembleError)?.code == .notImplemented
            }
            return
        }
        #expect(backend == .bucket)
        #expect(upload.urls.map(\.number) == [1, 2])
        await #expect { _ = try await store.startDirectUpload(path, parts: 0, expires: 600) } throws: { invalid($0) }
        await #expect { _ = try await store.startDirectUpload(path, parts: DirectUpload.maxParts + 1, expires: 600) } throws: { invalid($0) }
        // The client PUTs each part to its URL, without credentials.
        let bytes = [pattern(5 * 1024 * 1024), pattern(1000, seed: 3)]
        var parts: [DirectUpload.Part] = []
        for ((number, url), piece) in zip(upload.urls, bytes) {
            var request = HTTPClientRequest(url: url)
            request.method = .PUT
            request.body = .bytes(ByteBuffer(bytes: piece))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            #expect(response.status == .ok)
            parts.append(.init(number: number, etag: try #require(response.headers.first(name: "etag"))))
        }
        let complete = { (parts: [DirectUpload.Part], limit: Int64) in
            try await store.completeDirectUpload(path, uploadID: upload.uploadID, parts: parts, limit: limit)
        }
        // Nothing is published before the completion.
        await #expect { _ = try await store.read(path) } throws: { ($0 as? EnsembleError)?.code == .resourceDoesNotExist }
        await #expect { try await complete(parts + [.init(number: 3, etag: "\"abc\"")], 1 << 30) } throws: { invalid($0) }
        await #expect { try await complete([parts[0], .init(number: 2, etag: "\"0123\"")], 1 << 30) } throws: { invalid($0) }
        #expect(try await complete(parts, 1 << 30) == Int64(5 * 1024 * 1024 + 1000))
        #expect(try await store.read(path).readAll() == bytes[0] + bytes[1])
        // Over the limit: refused, the upload aborted, nothing published.
        let small = try ArtifactPath("0/run/artifacts/model/small.bin")
        let second = try #require(try await store.startDirectUpload(small, parts: 1, expires: 600))
        var request = HTTPClientRequest(url: second.urls[0].url)
        request.method = .PUT
        request.body = .bytes(ByteBuffer(bytes: pattern(100)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let etag = try #require(response.headers.first(name: "etag"))
        await #expect {
            try await store.completeDirectUpload(small, uploadID: second.uploadID, parts: [.init(number: 1, etag: etag)], limit: 99)
        } throws: { ($0 as? EnsembleError)?.message.contains("limit of 99 bytes") == true }
        await #expect { _ = try await store.read(small) } throws: { ($0 as? EnsembleError)?.code == .resourceDoesNotExist }
        // An upload that does not exist is the client's mistake, not the storage's.
        await #expect { try await store.completeDirectUpload(small, uploadID: "no-such-upload", parts: [.init(number: 1, etag: etag)], limit: 1 << 30) } throws: { invalid($0) }
        try await store.abortDirectUpload(small, uploadID: "no-such-upload")
        if let s3 = store as? S3ArtifactStore { #expect(try await s3.client.openUploads() == []) }
    }

    @Test("blobs: stored once under their SHA-256, read back, copied to a local file that is removed after", arguments: FileBackend.allCases)
    func blobs(_ backend: FileBackend) async throws {
        let (store, _) = try await backend.blobs()
        let bytes = pattern(11 * 1024 * 1024 + 3, seed: 4)
        let sha = DatasetManifest.hex(SHA256.hash(data: bytes))
        #expect(try await store.size(of: sha) == nil)
        #expect(try await store.withLocalFile(sha) { _ in 1 } == nil)
        let write = try await store.startWrite(sha)
        try await feed(write, bytes)
        #expect(try await write.commit())
        #expect(try await store.size(of: sha) == Int64(bytes.count))
        #expect(try await store.read(sha).readAll() == bytes)
        let copied: (path: String, bytes: Data)? = try await store.withLocalFile(sha) { path async throws in
            (path, try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        let (path, local) = try #require(copied)
        #expect(local == Data(bytes))
        // A bucket's scratch copy is gone afterwards; the folder store hands out its own file.
        #expect(FileManager.default.fileExists(atPath: path) == (backend == .folder))
        await #expect { _ = try await store.size(of: "../../etc/passwd") } throws: { ($0 as? EnsembleError)?.code == .invalidParameterValue }
    }

    @Test("content that is not what it was announced as is refused, small or multipart, and nothing is stored", arguments: FileBackend.allCases)
    func blobMismatch(_ backend: FileBackend) async throws {
        let (store, client) = try await backend.blobs()
        for count in [1000, 11 * 1024 * 1024] {
            let bytes = pattern(count, seed: 7)
            var announced = Array(DatasetManifest.hex(SHA256.hash(data: bytes)))
            announced[0] = announced[0] == "0" ? "1" : "0"
            let sha = String(announced)
            let write = try await store.startWrite(sha)
            try await feed(write, bytes)
            await #expect { try await write.commit() } throws: { ($0 as? EnsembleError)?.message.contains("does not match its SHA-256") == true }
            #expect(try await store.size(of: sha) == nil)
        }
        if let client {
            #expect(try await client.list(prefix: client.key(""), delimiter: nil).objects.isEmpty)
            #expect(try await client.openUploads() == [])
        }
    }
}
