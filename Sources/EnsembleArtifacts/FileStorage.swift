import AsyncHTTPClient
import EnsembleCore
import Logging
import NIOCore

/// Where artifact files live: the data folder (``LocalArtifactStore``) or an S3-compatible bucket
/// (``S3ArtifactStore``). The server only talks to this protocol, so every handler works the same on
/// both. Every path is an ``ArtifactPath``; nothing outside the store's root is reachable.
public protocol ArtifactStorage: Sendable {
    /// A folder path or `s3://bucket/prefix`, for logs and messages to the operator.
    var location: String { get }
    /// Writes, reads back and removes a probe: the storage is there and writable (readiness).
    func checkWritable() async throws
    /// The entries directly inside a folder, sorted by name; nil when there is no such folder.
    func list(_ path: ArtifactPath) async throws -> [ArtifactFileInfo]?
    /// Opens a file; RESOURCE_DOES_NOT_EXIST when there is none.
    func read(_ path: ArtifactPath) async throws -> StoredFile
    /// Starts writing a file; nothing is visible under its name until the upload commits.
    func startUpload(_ path: ArtifactPath) async throws -> any StorageUpload
    /// Deletes a file, or a folder with everything in it; deleting something missing is not an error.
    func delete(_ path: ArtifactPath) async throws
    /// A URL a browser or a client can download the file from without going through this server (a
    /// presigned URL valid for `expires` seconds, which takes `Range` requests) and the file's size,
    /// or nil when the storage has no such thing. Throws not-found for a missing file.
    func downloadURL(_ path: ArtifactPath, expires: Int) async throws -> (url: String, size: Int64)?
    /// Begins a multipart upload of `parts` parts that the client sends straight to the storage, each
    /// part to its presigned URL (valid for `expires` seconds); nil when the storage has no such thing.
    func startDirectUpload(_ path: ArtifactPath, parts: Int, expires: Int) async throws -> DirectUpload?
    /// Publishes a direct upload from its parts' numbers and ETags and answers the file's size. Parts
    /// that were not uploaded, or whose ETag differs, are a 400; so is a file over `limit` bytes,
    /// whose upload is then aborted: nothing is published.
    @discardableResult func completeDirectUpload(_ path: ArtifactPath, uploadID: String, parts: [DirectUpload.Part], limit: Int64) async throws -> Int64
    /// Throws a direct upload's parts away; an upload that is already gone is not an error.
    func abortDirectUpload(_ path: ArtifactPath, uploadID: String) async throws
}

/// A multipart upload whose parts go from the client straight to the storage.
public struct DirectUpload: Sendable {
    public struct Part: Sendable, Equatable {
        public var number: Int
        public var etag: String
        public init(number: Int, etag: String) { (self.number, self.etag) = (number, etag) }
    }
    public var uploadID: String
    /// Each part's number (from 1) and the URL to PUT its bytes to.
    public var urls: [(number: Int, url: String)]

    public init(uploadID: String, urls: [(number: Int, url: String)]) { (self.uploadID, self.urls) = (uploadID, urls) }

    /// S3's limits: parts are numbered 1 to 10,000.
    public static let maxParts = 10_000
}

extension ArtifactStorage {
    /// Storage without direct uploads (the data folder): every upload streams through the server.
    public func startDirectUpload(_ path: ArtifactPath, parts: Int, expires: Int) async throws -> DirectUpload? { nil }

    @discardableResult public func completeDirectUpload(_ path: ArtifactPath, uploadID: String, parts: [DirectUpload.Part], limit: Int64) async throws -> Int64 {
        throw EnsembleError(.notImplemented, "This storage takes no direct uploads.")
    }

    public func abortDirectUpload(_ path: ArtifactPath, uploadID: String) async throws {
        throw EnsembleError(.notImplemented, "This storage takes no direct uploads.")
    }
}

/// Where stored datasets' contents live, named by their SHA-256: the data folder (``ContentStore``)
/// or a bucket (``S3BlobStore``). A write is published only when its bytes hash to its name.
public protocol BlobStorage: Sendable {
    func checkWritable() async throws
    /// The stored content's size, or nil when it is not stored.
    func size(of sha256: String) async throws -> Int64?
    func read(_ sha256: String) async throws -> StoredFile
    /// Starts writing the content announced as `sha256`; `commit()` checks the hash and answers
    /// whether the content is new.
    func startWrite(_ sha256: String) async throws -> any StorageUpload
    /// Runs `body` with a local file holding the content (evaluators read files), or answers nil
    /// when it is not stored. A bucket's content is copied to a scratch file removed afterwards.
    func withLocalFile<T: Sendable>(_ sha256: String, _ body: (String) async throws -> T) async throws -> T?
}

/// A file being written, fed by one request's body in order. ``commit()`` publishes it (for a
/// content-addressed write, only when the hash matches) and answers whether it is new; ``abort()``
/// throws it away.
public protocol StorageUpload: AnyObject, Sendable {
    var bytesWritten: Int64 { get }
    func append(_ bytes: ByteBuffer) async throws
    @discardableResult func commit() async throws -> Bool
    func abort() async
}

/// A stored file opened for reading: its size and its bytes, read once, chunk by chunk.
public struct StoredFile: Sendable {
    public let size: Int64
    let source: Source

    enum Source: Sendable {
        case file(ArtifactReader)
        case object(HTTPClientResponse.Body)
    }

    init(size: Int64, source: Source) {
        self.size = size
        self.source = source
    }

    /// Calls `body` with each chunk, in order, until the end of the file.
    public func forEachChunk(_ body: (ByteBuffer) async throws -> Void) async throws {
        switch source {
        case .file(let reader):
            defer { reader.close() }
            while true {
                let chunk = try reader.read()
                if chunk.isEmpty { return }
                try await body(ByteBuffer(bytes: chunk))
            }
        case .object(let stream):
            for try await chunk in stream { try await body(chunk) }
        }
    }

    /// The whole file (callers check `size` first: previews, small documents).
    public func readAll() async throws -> [UInt8] {
        var all: [UInt8] = []
        all.reserveCapacity(Int(clamping: min(size, 64 << 20)))
        try await forEachChunk { all.append(contentsOf: $0.readableBytesView) }
        return all
    }

    /// Lets go of the file without reading it (a local file handle is closed; an object's body is
    /// dropped, which ends its request).
    public func close() {
        if case .file(let reader) = source { reader.close() }
    }
}

/// Turns what a bucket or the network throws into the caller's error: our own errors pass through;
/// anything else (S3 refused, connection lost) is a 503 naming the storage, so a client retries and
/// an operator knows where to look. The answer gives S3's status and error code only: S3's own text
/// (which may name a key) and the network error (which names the endpoint) go to the server's log.
func storageFailure(_ error: any Error) -> any Error {
    if error is EnsembleError || error is CancellationError { return error }
    storageLog.error("file storage failed", metadata: ["error": "\(error)"])
    let what: String
    if let s3 = error as? S3Client.Failure {
        what = "S3 answered \(s3.status)" + (s3.code.isEmpty ? "" : " " + s3.code.prefix(64))
    } else {
        what = "it could not be reached"
    }
    return EnsembleError(
        .temporarilyUnavailable,
        "The file storage failed (\(what)). Try again; if it persists, the server's operator should check the bucket and its credentials (the server log has the details).")
}

/// Created on first use, after the server has set up logging.
private let storageLog = Logger(label: "ensemble.storage")
