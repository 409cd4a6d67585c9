import AsyncHTTPClient
import Crypto
import EnsembleCore
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Artifacts in an S3-compatible bucket under a prefix, with the local store's rules: every path is an
/// ``ArtifactPath`` (no `..`, no absolute paths, nothing outside the prefix), listings are one folder
/// level, an upload is invisible under its name until it is complete, deleting a folder deletes what
/// is in it.
///
/// Uploads stream: at most one part (8 MiB) is held in memory. A file smaller than a part is one PUT;
/// a larger one is a multipart upload, completed only on ``S3Upload/commit()`` and aborted
/// otherwise, so a broken upload never shows up as a half object.
public struct S3ArtifactStore: ArtifactStorage {
    public let client: S3Client
    /// Bytes per multipart part (S3's minimum is 5 MiB, except for the last part).
    public let partSize: Int

    public init(client: S3Client, partSize: Int = 8 * 1024 * 1024) {
        self.client = client
        self.partSize = max(partSize, 5 * 1024 * 1024)
    }

    public var location: String { client.location.description }

    func key(_ path: ArtifactPath) -> String { client.key(path.description) }

    public func checkWritable() async throws {
        try await client.checkWritable()
    }

    public func list(_ path: ArtifactPath) async throws -> [ArtifactFileInfo]? {
        let prefix = path.isRoot ? client.key("") : key(path) + "/"
        let (objects, prefixes): ([(key: String, size: Int64)], [String])
        do { (objects, prefixes) = try await client.list(prefix: prefix) } catch { throw storageFailure(error) }
        guard !objects.isEmpty || !prefixes.isEmpty else { return nil }
        var entries: [ArtifactFileInfo] = []
        for p in prefixes {
            let name = String(p.dropFirst(prefix.count).dropLast())
            if !name.isEmpty { entries.append(ArtifactFileInfo(name: name, isDirectory: true, size: nil)) }
        }
        for o in objects {
            let name = String(o.key.dropFirst(prefix.count))
            if !name.isEmpty, !name.hasPrefix(S3Client.probePrefix) { entries.append(ArtifactFileInfo(name: name, isDirectory: false, size: o.size)) }
        }
        return entries.sorted { $0.name < $1.name }
    }

    public func read(_ path: ArtifactPath) async throws -> StoredFile {
        guard !path.isRoot else { throw EnsembleError.invalid("'' is a folder; list it instead of downloading it.") }
        let object: (size: Int64, body: HTTPClientResponse.Body)?
        do { object = try await client.get(key(path)) } catch { throw storageFailure(error) }
        guard let object else {
            // A "folder" on S3 is a prefix with objects under it, never an object itself.
            if (try? await client.list(prefix: key(path) + "/", maxKeys: 1))?.isEmpty == false {
                throw EnsembleError.invalid("'\(path)' is a folder; list it instead of downloading it.")
            }
            throw EnsembleError.notFound("No such artifact: '\(path)'")
        }
        return StoredFile(size: object.size, source: .object(object.body))
    }

    public func beginUpload(_ path: ArtifactPath) throws -> S3Upload {
        guard !path.isRoot else { throw EnsembleError.invalid("An artifact upload needs a file name.") }
        return S3Upload(client: client, key: key(path), partSize: partSize, expectedSHA256: nil)
    }

    public func startUpload(_ path: ArtifactPath) throws -> any StorageUpload { try beginUpload(path) }

    public func delete(_ path: ArtifactPath) async throws {
        guard !path.isRoot else { throw EnsembleError.invalid("Refusing to delete the whole artifact root.") }
        do {
            try await client.delete(key(path))
            let (objects, _) = try await client.list(prefix: key(path) + "/", delimiter: nil)
            for o in objects { try await client.delete(o.key) }
        } catch {
            throw storageFailure(error)
        }
    }

    /// A presigned URL for an existing file (a HEAD request checks it: a missing file is this
    /// server's not-found, never a URL to nothing).
    public func downloadURL(_ path: ArtifactPath, expires: Int) async throws -> (url: String, size: Int64)? {
        guard !path.isRoot else { return nil }
        let size: Int64?
        do { size = try await client.head(key(path)) } catch { throw storageFailure(error) }
        guard let size else { throw EnsembleError.notFound("No such artifact: '\(path)'") }
        return (client.presignedGET(key(path), expires: expires), size)
    }

    // MARK: Direct uploads

    /// Begins the multipart upload and presigns a PUT for each of its parts. The parts are the
    /// client's to cut (S3 wants at least 5 MiB each, except the last, and checks that on completion).
    public func startDirectUpload(_ path: ArtifactPath, parts: Int, expires: Int) async throws -> DirectUpload? {
        guard !path.isRoot else { throw EnsembleError.invalid("An artifact upload needs a file name.") }
        guard (1...DirectUpload.maxParts).contains(parts) else {
            throw EnsembleError.invalid("A direct upload has 1 to \(DirectUpload.maxParts) parts, not \(parts).")
        }
        let key = key(path)
        let id: String
        do { id = try await client.createMultipartUpload(key) } catch { throw storageFailure(error) }
        let urls = client.presignedUploadParts(key, uploadID: id, numbers: 1...parts, expires: expires)
        return DirectUpload(uploadID: id, urls: Array(zip(1...parts, urls)))
    }

    @discardableResult public func completeDirectUpload(_ path: ArtifactPath, uploadID: String, parts: [DirectUpload.Part], limit: Int64) async throws -> Int64 {
        guard !path.isRoot else { throw EnsembleError.invalid("An artifact upload needs a file name.") }
        let key = key(path)
        do {
            // What the bucket holds, checked before anything is published: every part named was
            // uploaded with that ETag, and together they fit the server's limit.
            let uploaded = try await client.listParts(key, uploadID: uploadID)
            let held = Dictionary(uploaded.map { ($0.number, $0) }, uniquingKeysWith: { $1 })
            var size: Int64 = 0
            for part in parts {
                guard let got = held[part.number] else {
                    throw EnsembleError.invalid("Part \(part.number) of upload '\(uploadID)' was never uploaded; upload it, or abort the upload.")
                }
                guard Self.sameETag(got.etag, part.etag) else {
                    throw EnsembleError.invalid("Part \(part.number)'s ETag is not the one its upload answered; send the ETag header of its PUT.")
                }
                size += got.size
            }
            if size > limit {
                try await client.abortMultipartUpload(key, uploadID: uploadID)
                throw EnsembleError.invalid("The artifact is larger than this server's limit of \(limit) bytes; the upload was aborted.")
            }
            try await client.completeMultipartUpload(key, uploadID: uploadID, parts: parts.map { ($0.number, $0.etag) })
            return size
        } catch let failure as S3Client.Failure where Self.clientMistakes.contains(failure.code) {
            throw EnsembleError.invalid(
                "The bucket refused upload '\(uploadID)' of '\(path)' (\(failure.code)): it must be an upload mpu/create began for this file, "
                    + "with every part uploaded, listed once with the ETag its upload answered, and all but the last at least 5 MiB.")
        } catch {
            throw storageFailure(error)
        }
    }

    /// ETags compare without their quotes (clients keep or drop them).
    static func sameETag(_ a: String, _ b: String) -> Bool {
        let unquote = { (s: String) in s.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        return unquote(a) == unquote(b)
    }

    public func abortDirectUpload(_ path: ArtifactPath, uploadID: String) async throws {
        guard !path.isRoot else { throw EnsembleError.invalid("An artifact upload needs a file name.") }
        do { try await client.abortMultipartUpload(key(path), uploadID: uploadID) } catch { throw storageFailure(error) }
    }

    /// S3's answers to a completion that name the client's mistake, not the storage's.
    static let clientMistakes: Set<String> = ["InvalidPart", "InvalidPartOrder", "NoSuchUpload", "EntityTooSmall", "MalformedXML", "InvalidArgument"]
}

/// Stored datasets' contents in a bucket, at `PREFIX/sha256/ab/cd/<sha256>` (the data folder's
/// layout). A write streams to its final key and is published (single PUT or multipart completion)
/// only after its bytes hash to the announced SHA-256; otherwise it is aborted and nothing appears.
public struct S3BlobStore: BlobStorage {
    public let client: S3Client
    /// A local folder for the copies ``withLocalFile(_:_:)`` makes.
    public let scratch: String
    public let partSize: Int

    public init(client: S3Client, scratch: String, partSize: Int = 8 * 1024 * 1024) {
        self.client = client
        self.scratch = scratch
        self.partSize = max(partSize, 5 * 1024 * 1024)
    }

    func key(_ sha256: String) throws(EnsembleError) -> String {
        try ContentStore.validate(sha256)
        let u = Array(sha256.utf8)
        return client.key("sha256/" + String(decoding: u[0..<2], as: UTF8.self) + "/" + String(decoding: u[2..<4], as: UTF8.self) + "/" + sha256)
    }

    public func checkWritable() async throws {
        try await client.checkWritable()
    }

    public func size(of sha256: String) async throws -> Int64? {
        let key = try key(sha256)
        do { return try await client.head(key) } catch { throw storageFailure(error) }
    }

    public func read(_ sha256: String) async throws -> StoredFile {
        let key = try key(sha256)
        let object: (size: Int64, body: HTTPClientResponse.Body)?
        do { object = try await client.get(key) } catch { throw storageFailure(error) }
        guard let object else { throw EnsembleError.notFound("No stored content with SHA-256 \(sha256).") }
        return StoredFile(size: object.size, source: .object(object.body))
    }

    public func startWrite(_ sha256: String) throws -> any StorageUpload {
        S3Upload(client: client, key: try key(sha256), partSize: partSize, expectedSHA256: sha256)
    }

    public func withLocalFile<T: Sendable>(_ sha256: String, _ body: (String) async throws -> T) async throws -> T? {
        guard try await size(of: sha256) != nil else { return nil }
        let file = try await read(sha256)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let path = scratch + "/" + UUID().uuidString + "-" + sha256.prefix(12)
        defer { unlink(path) }
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            file.close()
            throw EnsembleError(.internalError, "Could not create a scratch file in \(scratch).")
        }
        do {
            defer { Glibc.close(fd) }
            try await file.forEachChunk { chunk in
                if let failure = chunk.withUnsafeReadableBytes({ POSIXFile.writeAll(fd, $0) }) {
                    throw EnsembleError(.internalError, "Copying stored content to \(scratch) failed: \(failure)")
                }
            }
        } catch {
            throw storageFailure(error)
        }
        return try await body(path)
    }
}

/// A file being uploaded to S3: parts go up as they fill; ``commit()`` publishes it, ``abort()``
/// throws it away. With an expected SHA-256 the bytes are hashed on the way and the object is
/// published only when they match.
///
/// `@unchecked Sendable`: one upload is fed by one request's body, in order, never concurrently.
public final class S3Upload: StorageUpload, @unchecked Sendable {
    let client: S3Client
    let key: String
    let partSize: Int
    let expectedSHA256: String?
    private var hasher = SHA256()
    private var pending = ByteBuffer()
    private var uploadID: String?
    private var parts: [(number: Int, etag: String)] = []
    public private(set) var bytesWritten: Int64 = 0

    init(client: S3Client, key: String, partSize: Int, expectedSHA256: String?) {
        (self.client, self.key, self.partSize, self.expectedSHA256) = (client, key, partSize, expectedSHA256)
    }

    public func append(_ bytes: ByteBuffer) async throws {
        var bytes = bytes
        bytesWritten += Int64(bytes.readableBytes)
        if expectedSHA256 != nil { bytes.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) } }
        pending.writeBuffer(&bytes)
        while pending.readableBytes >= partSize {
            try await send(pending.readSlice(length: partSize)!)
        }
        // Only once the parts sent are released: a slice still alive would make this a copy of the
        // whole buffer (in debug builds a local can live to the end of its scope).
        pending.discardReadBytes()
    }

    private func send(_ part: ByteBuffer) async throws {
        do {
            if uploadID == nil { uploadID = try await client.createMultipartUpload(key) }
            let number = parts.count + 1
            parts.append((number, try await client.uploadPart(key, uploadID: uploadID!, number: number, bytes: part)))
        } catch {
            throw storageFailure(error)
        }
    }

    @discardableResult
    public func commit() async throws -> Bool {
        if let expected = expectedSHA256 {
            let actual = DatasetManifest.hex(hasher.finalize())
            guard actual == expected else {
                await abort()
                throw BlobUpload.mismatch(expected: expected, actual: actual)
            }
        }
        do {
            guard let uploadID else {
                try await client.put(key, bytes: pending)
                return true
            }
            if pending.readableBytes > 0 || parts.isEmpty { try await send(pending) }
            try await client.completeMultipartUpload(key, uploadID: uploadID, parts: parts)
            return true
        } catch {
            throw storageFailure(error)
        }
    }

    public func abort() async {
        if let uploadID { try? await client.abortMultipartUpload(key, uploadID: uploadID) }
        uploadID = nil
        pending.clear()
    }
}
