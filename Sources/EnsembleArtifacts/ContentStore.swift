import Crypto
import EnsembleCore
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Content-addressed file storage: each distinct content is kept once, named by its SHA-256, at
/// `ROOT/sha256/ab/cd/abcd…`. Stored datasets keep their file bytes here.
///
/// The folder is outside the artifact proxy's tree, so no MLflow artifact request can overwrite a
/// blob. Writes are verified: the bytes are hashed while they are written, and a blob is published
/// (renamed into place) only when its hash equals the name it was announced under.
public struct ContentStore: BlobStorage {
    public let root: String

    public init(root: String) throws {
        try FileManager.default.createDirectory(atPath: root + "/tmp", withIntermediateDirectories: true)
        self.root = URL(fileURLWithPath: root).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// Writes, reads back and removes a small file in the store's temporary folder.
    public func checkWritable() throws {
        try LocalArtifactStore.probe(root + "/tmp")
    }

    static func validate(_ sha256: String) throws(EnsembleError) {
        guard DatasetManifest.isSHA256(sha256) else {
            throw .invalid("'\(sha256.prefix(80))' is not a SHA-256: expected 64 lower-case hex digits.")
        }
    }

    func path(of sha256: String) -> String {
        let u = Array(sha256.utf8)
        return root + "/sha256/" + String(decoding: u[0..<2], as: UTF8.self) + "/" + String(decoding: u[2..<4], as: UTF8.self) + "/" + sha256
    }

    /// The file holding a stored blob, for readers that need a path (handoff recomputation), or nil
    /// when it is not stored.
    public func localPath(of sha256: String) throws(EnsembleError) -> String? {
        try size(of: sha256) == nil ? nil : path(of: sha256)
    }

    /// The size of the stored blob, or `nil` when it is not stored.
    public func size(of sha256: String) throws(EnsembleError) -> Int64? {
        try Self.validate(sha256)
        var st = stat()
        guard lstat(path(of: sha256), &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        return Int64(st.st_size)
    }

    /// Opens a stored blob for reading.
    public func openForReading(_ sha256: String) throws(EnsembleError) -> ArtifactReader {
        try Self.validate(sha256)
        let fd = open(path(of: sha256), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .notFound("No stored content with SHA-256 \(sha256).") }
        var st = stat()
        fstat(fd, &st)
        guard st.st_mode & S_IFMT == S_IFREG else {
            Glibc.close(fd)
            throw .notFound("No stored content with SHA-256 \(sha256).")
        }
        return ArtifactReader(fd: fd, size: Int64(st.st_size))
    }

    public func read(_ sha256: String) throws(EnsembleError) -> StoredFile {
        let reader = try openForReading(sha256)
        return StoredFile(size: reader.size, source: .file(reader))
    }

    public func startWrite(_ sha256: String) throws(EnsembleError) -> any StorageUpload { try beginWrite(sha256) }

    public func withLocalFile<T: Sendable>(_ sha256: String, _ body: (String) async throws -> T) async throws -> T? {
        guard let path = try localPath(of: sha256) else { return nil }
        return try await body(path)
    }

    /// Starts writing the content announced as `sha256`.
    public func beginWrite(_ sha256: String) throws(EnsembleError) -> BlobUpload {
        try Self.validate(sha256)
        let temp = root + "/tmp/" + UUID().uuidString
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EnsembleError(.internalError, "Could not create a temporary file in the content store.") }
        return BlobUpload(fd: fd, tempPath: temp, finalPath: path(of: sha256), expected: sha256)
    }

    /// Stores bytes held in memory (small files, tests); returns their SHA-256.
    @discardableResult
    public func put(_ bytes: [UInt8]) throws -> String {
        let sha = DatasetManifest.hex(SHA256.hash(data: bytes))
        let upload = try beginWrite(sha)
        do {
            try bytes.withUnsafeBytes { try upload.append($0) }
            _ = try upload.commit()
        } catch {
            upload.abort()
            throw error
        }
        return sha
    }
}

/// A blob being written. ``commit()`` checks the hash and publishes it; ``abort()`` throws it away.
///
/// `@unchecked Sendable`: one upload is fed by one request's body, in order, never concurrently.
public final class BlobUpload: StorageUpload, @unchecked Sendable {
    private var fd: Int32
    private var hasher = SHA256()
    let tempPath: String
    let finalPath: String
    let expected: String
    public private(set) var bytesWritten: Int64 = 0

    init(fd: Int32, tempPath: String, finalPath: String, expected: String) {
        self.fd = fd
        self.tempPath = tempPath
        self.finalPath = finalPath
        self.expected = expected
    }

    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bufferPointer: bytes)
        if let failure = POSIXFile.writeAll(fd, bytes) {
            throw EnsembleError(.internalError, "Writing to the content store failed: \(failure)")
        }
        bytesWritten += Int64(bytes.count)
    }

    public func append(_ bytes: ByteBuffer) throws {
        try bytes.withUnsafeReadableBytes { try append($0) }
    }

    /// The answer to content that is not what it was announced as (both stores say the same).
    static func mismatch(expected: String, actual: String) -> EnsembleError {
        .invalid(
            "The uploaded content does not match its SHA-256: announced \(expected), received \(actual). Did the file change while it was being sent? Run the command again."
        )
    }

    /// Verifies the content against its announced SHA-256 and publishes it.
    /// - Returns: `true` when the blob is new, `false` when identical content was already stored.
    @discardableResult
    public func commit() throws -> Bool {
        guard fd >= 0 else { return false }
        let actual = DatasetManifest.hex(hasher.finalize())
        guard actual == expected else {
            abort()
            throw Self.mismatch(expected: expected, actual: actual)
        }
        fsync(fd)
        Glibc.close(fd)
        fd = -1
        var st = stat()
        if lstat(finalPath, &st) == 0 {
            unlink(tempPath)
            return false
        }
        let folder = String(finalPath[..<finalPath.lastIndex(of: "/")!])
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if rename(tempPath, finalPath) != 0 {
            unlink(tempPath)
            throw EnsembleError(.internalError, "Publishing content \(expected) failed: \(String(cString: strerror(errno)))")
        }
        return true
    }

    public func abort() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
        unlink(tempPath)
    }

    deinit {
        if fd >= 0 {
            Glibc.close(fd)
            unlink(tempPath)
        }
    }
}

/// Streaming SHA-256 of local files (the CLI hashes before it uploads, so unchanged files are
/// never sent).
public enum FileHashing {
    /// Hashes a regular file in 1 MiB chunks; `progress` is called with the bytes read so far.
    public static func sha256(path: String, progress: ((Int64) -> Void)? = nil) throws -> (sha256: String, size: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw EnsembleError.invalid("Cannot read '\(path)': \(String(cString: strerror(errno))).") }
        defer { Glibc.close(fd) }
        var hasher = SHA256()
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n = Glibc.read(fd, buffer.baseAddress!, chunk)
            if n < 0 {
                if errno == EINTR { continue }
                throw EnsembleError.invalid("Reading '\(path)' failed: \(String(cString: strerror(errno))).")
            }
            if n == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += Int64(n)
            progress?(total)
        }
        return (DatasetManifest.hex(hasher.finalize()), total)
    }
}
