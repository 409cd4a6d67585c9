import AsyncHTTPClient
import EnsembleCore
import NIOCore

/// Artifacts in an S3-compatible bucket under a prefix, with the local store's rules: every path is an
/// ``ArtifactPath`` (no `..`, no absolute paths, nothing outside the prefix), listings are one folder
/// level, an upload is invisible under its name until it is complete, deleting a folder deletes what
/// is in it.
///
/// Uploads stream: at most one part (8 MiB) is held in memory. A file smaller than a part is one PUT;
/// a larger one is a multipart upload, completed only on ``S3ArtifactUpload/commit()`` and aborted
/// otherwise, so a broken upload never shows up as a half object.
public struct S3ArtifactStore: Sendable {
    public let client: S3Client
    /// Bytes per multipart part (S3's minimum is 5 MiB, except for the last part).
    public let partSize: Int

    public init(client: S3Client, partSize: Int = 8 * 1024 * 1024) {
        self.client = client
        self.partSize = max(partSize, 5 * 1024 * 1024)
    }

    func key(_ path: ArtifactPath) -> String { client.key(path.description) }

    /// Writes, reads back and removes a small object: the bucket is there and writable.
    public func checkWritable() async throws {
        let probe = client.key(".~ensemble-ready-" + String(UInt64.random(in: 0...UInt64.max), radix: 36))
        try await client.put(probe, bytes: ByteBuffer(string: "ready"))
        defer { Task { try? await client.delete(probe) } }
        guard try await client.head(probe) == 5 else { throw EnsembleError(.internalError, "The bucket \(client.location) did not keep a probe object.") }
    }

    /// The entries directly inside a folder, sorted by name; nil when there is nothing under it.
    public func list(_ path: ArtifactPath) async throws -> [ArtifactFileInfo]? {
        let prefix = path.isRoot ? client.key("") : key(path) + "/"
        let (objects, prefixes) = try await client.list(prefix: prefix)
        guard !objects.isEmpty || !prefixes.isEmpty else { return nil }
        var entries: [ArtifactFileInfo] = []
        for p in prefixes {
            let name = String(p.dropFirst(prefix.count).dropLast())
            if !name.isEmpty { entries.append(ArtifactFileInfo(name: name, isDirectory: true, size: nil)) }
        }
        for o in objects {
            let name = String(o.key.dropFirst(prefix.count))
            if !name.isEmpty, !name.hasPrefix(".~ensemble-") { entries.append(ArtifactFileInfo(name: name, isDirectory: false, size: o.size)) }
        }
        return entries.sorted { $0.name < $1.name }
    }

    /// The file's size and its bytes as they arrive; not-found for a missing file.
    public func open(_ path: ArtifactPath) async throws -> (size: Int64, body: HTTPClientResponse.Body) {
        guard !path.isRoot, let object = try await client.get(key(path)) else {
            throw EnsembleError.notFound("No artifact at '\(path)'.")
        }
        return object
    }

    public func beginUpload(_ path: ArtifactPath) throws -> S3ArtifactUpload {
        guard !path.isRoot else { throw EnsembleError.invalid("An artifact upload needs a file name.") }
        return S3ArtifactUpload(client: client, key: key(path), partSize: partSize)
    }

    /// Deletes a file, or a folder with everything under it. Deleting something missing is not an error.
    public func delete(_ path: ArtifactPath) async throws {
        guard !path.isRoot else { throw EnsembleError.invalid("Refusing to delete the whole artifact root.") }
        try await client.delete(key(path))
        let (objects, _) = try await client.list(prefix: key(path) + "/", delimiter: nil)
        for o in objects { try await client.delete(o.key) }
    }
}

/// A file being uploaded to S3: parts go up as they fill; ``commit()`` publishes it, ``abort()``
/// throws it away. Not for concurrent use: one request's body feeds one upload.
public final class S3ArtifactUpload: @unchecked Sendable {
    let client: S3Client
    let key: String
    let partSize: Int
    private var pending = ByteBuffer()
    private var uploadID: String?
    private var parts: [(number: Int, etag: String)] = []
    public private(set) var bytesWritten: Int64 = 0

    init(client: S3Client, key: String, partSize: Int) {
        (self.client, self.key, self.partSize) = (client, key, partSize)
    }

    public func append(_ bytes: ByteBuffer) async throws {
        var bytes = bytes
        bytesWritten += Int64(bytes.readableBytes)
        pending.writeBuffer(&bytes)
        while pending.readableBytes >= partSize {
            let part = pending.readSlice(length: partSize)!
            try await send(part)
            pending.discardReadBytes()
        }
    }

    private func send(_ part: ByteBuffer) async throws {
        if uploadID == nil { uploadID = try await client.createMultipartUpload(key) }
        let number = parts.count + 1
        parts.append((number, try await client.uploadPart(key, uploadID: uploadID!, number: number, bytes: part)))
    }

    public func commit() async throws {
        guard let uploadID else {
            try await client.put(key, bytes: pending)
            return
        }
        if pending.readableBytes > 0 || parts.isEmpty { try await send(pending) }
        try await client.completeMultipartUpload(key, uploadID: uploadID, parts: parts)
    }

    public func abort() async {
        if let uploadID { try? await client.abortMultipartUpload(key, uploadID: uploadID) }
        pending.clear()
    }
}
