import EnsembleCore
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One entry of an artifact listing.
public struct ArtifactFileInfo: Sendable, Equatable {
    /// Path relative to the listed folder's base (see ``LocalArtifactStore/list(_:)``).
    public var name: String
    public var isDirectory: Bool
    public var size: Int64?
    public init(name: String, isDirectory: Bool, size: Int64?) {
        self.name = name
        self.isDirectory = isDirectory
        self.size = size
    }
}

/// Artifacts in a local folder.
///
/// Every access walks the path one segment at a time from the root with `lstat`, refusing symbolic
/// links and non-folders on the way, so nothing outside the root is ever read, written or deleted —
/// even when someone plants a symlink inside it. Uploads go to a temporary file in the target folder
/// and are renamed into place only when complete, so a crash never leaves a half file under a real
/// name.
public struct LocalArtifactStore: ArtifactStorage {
    public let root: String
    public var location: String { root }
    static let tempPrefix = ".~ensemble-upload-"

    /// - Parameter root: the artifact folder; created if missing.
    public init(root: String) throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        self.root = URL(fileURLWithPath: root).standardizedFileURL.resolvingSymlinksInPath().path
    }

    static func kind(_ path: String) -> FileKind { FileKind.of(path) }

    /// Writes, reads back and removes a small file at the root: the storage is there and writable.
    public func checkWritable() throws {
        try Self.probe(root)
    }

    /// A probe file in `folder` (a temporary upload name, so listings never show it).
    static func probe(_ folder: String) throws {
        let path = folder + "/" + tempPrefix + "ready-" + UUID().uuidString
        let data = Data("ready".utf8)
        do {
            try data.write(to: URL(fileURLWithPath: path))
            defer { try? FileManager.default.removeItem(atPath: path) }
            guard try Data(contentsOf: URL(fileURLWithPath: path)) == data else { throw EnsembleError(.internalError, "read back other bytes") }
        } catch {
            throw EnsembleError(.internalError, "The folder \(folder) is not writable: \(error.localizedDescription)")
        }
    }

    /// The absolute path of `path`, after checking that every parent is a real folder.
    /// - Parameter create: make missing parent folders.
    func locate(_ path: ArtifactPath, createParents: Bool = false) throws(EnsembleError) -> String {
        var current = root
        for (i, segment) in path.segments.enumerated() {
            current += "/" + segment
            let isLast = i == path.segments.count - 1
            if isLast { break }
            switch Self.kind(current) {
            case .directory: continue
            case .missing:
                if createParents {
                    if mkdir(current, 0o755) != 0 && errno != EEXIST {
                        throw .invalid("Could not create the artifact folder '\(path)'.")
                    }
                    guard Self.kind(current) == .directory else { throw ArtifactPath.invalid }
                } else {
                    return current + "/" + path.segments[(i + 1)...].joined(separator: "/")
                }
            case .file: throw .invalid("'\(path)' goes through a file, not a folder.")
            case .other: throw ArtifactPath.invalid
            }
        }
        if path.isRoot { return root }
        return current
    }

    // MARK: Reading

    /// Opens a file for reading. Throws RESOURCE_DOES_NOT_EXIST when there is no such file, and
    /// INVALID_PARAMETER_VALUE for a folder or anything that is not a regular file.
    public func openForReading(_ path: ArtifactPath) throws(EnsembleError) -> ArtifactReader {
        let full = try locate(path)
        switch Self.kind(full) {
        case .file: break
        case .missing: throw .notFound("No such artifact: '\(path)'")
        case .directory: throw .invalid("'\(path)' is a folder; list it instead of downloading it.")
        case .other: throw ArtifactPath.invalid
        }
        let fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .notFound("No such artifact: '\(path)'") }
        var st = stat()
        fstat(fd, &st)
        return ArtifactReader(fd: fd, size: Int64(st.st_size))
    }

    public func read(_ path: ArtifactPath) throws(EnsembleError) -> StoredFile {
        let reader = try openForReading(path)
        return StoredFile(size: reader.size, source: .file(reader))
    }

    public func startUpload(_ path: ArtifactPath) throws(EnsembleError) -> any StorageUpload { try beginUpload(path) }

    /// Files in a folder are served by this server only.
    public func downloadURL(_ path: ArtifactPath, expires: Int) -> (url: String, size: Int64)? { nil }

    /// Whether a regular file exists at the path.
    public func fileExists(_ path: ArtifactPath) -> Bool {
        guard let full = try? locate(path) else { return false }
        return Self.kind(full) == .file
    }

    /// The entries directly inside a folder, sorted by name; `nil` when the folder does not exist.
    /// Symbolic links and temporary upload files are left out.
    public func list(_ path: ArtifactPath) throws(EnsembleError) -> [ArtifactFileInfo]? {
        let full = try locate(path)
        switch Self.kind(full) {
        case .directory: break
        case .missing: return nil
        case .file: return nil
        case .other: throw ArtifactPath.invalid
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: full) else { return nil }
        var result: [ArtifactFileInfo] = []
        for name in names.sorted() where !name.hasPrefix(Self.tempPrefix) {
            var st = stat()
            guard lstat(full + "/" + name, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFDIR: result.append(ArtifactFileInfo(name: name, isDirectory: true, size: nil))
            case S_IFREG: result.append(ArtifactFileInfo(name: name, isDirectory: false, size: Int64(st.st_size)))
            default: continue
            }
        }
        return result
    }

    // MARK: Writing

    /// Starts an upload to `path`; nothing is visible under that name until ``ArtifactUpload/commit()``.
    public func beginUpload(_ path: ArtifactPath) throws(EnsembleError) -> ArtifactUpload {
        guard !path.isRoot else { throw .invalid("An artifact upload needs a file name.") }
        let full = try locate(path, createParents: true)
        switch Self.kind(full) {
        case .missing, .file: break
        case .directory: throw .invalid("'\(path)' is a folder; upload to a file name inside it.")
        case .other: throw ArtifactPath.invalid
        }
        let folder = String(full[..<full.lastIndex(of: "/")!])
        let temp = folder + "/" + Self.tempPrefix + UUID().uuidString
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .invalid("Could not write the artifact '\(path)'.") }
        return ArtifactUpload(fd: fd, tempPath: temp, finalPath: full)
    }

    /// Writes a whole file at once (small artifacts, tests).
    public func write(_ path: ArtifactPath, bytes: [UInt8]) throws {
        let upload = try beginUpload(path)
        do {
            try bytes.withUnsafeBytes { try upload.append($0) }
            try upload.commit()
        } catch {
            upload.abort()
            throw error
        }
    }

    /// Deletes a file or a folder with everything in it. Deleting something missing is not an error.
    public func delete(_ path: ArtifactPath) throws(EnsembleError) {
        guard !path.isRoot else { throw .invalid("Refusing to delete the whole artifact root.") }
        let full = try locate(path)
        switch Self.kind(full) {
        case .missing: return
        case .file, .other: unlink(full)
        case .directory: try? FileManager.default.removeItem(atPath: full)
        }
    }
}

/// A file being uploaded. Call ``commit()`` to publish it or ``abort()`` to throw it away.
///
/// `@unchecked Sendable`: one upload is fed by one request's body, in order, never concurrently.
public final class ArtifactUpload: StorageUpload, @unchecked Sendable {
    private var fd: Int32
    let tempPath: String
    let finalPath: String
    public private(set) var bytesWritten: Int64 = 0

    init(fd: Int32, tempPath: String, finalPath: String) {
        self.fd = fd
        self.tempPath = tempPath
        self.finalPath = finalPath
    }

    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        if let failure = POSIXFile.writeAll(fd, bytes) {
            throw EnsembleError(.internalError, "Writing the artifact failed: \(failure)")
        }
        bytesWritten += Int64(bytes.count)
    }

    public func append(_ bytes: ByteBuffer) throws {
        try bytes.withUnsafeReadableBytes { try append($0) }
    }

    /// Flushes the file and renames it into place.
    @discardableResult
    public func commit() throws -> Bool {
        guard fd >= 0 else { return false }
        fsync(fd)
        close(fd)
        fd = -1
        if rename(tempPath, finalPath) != 0 {
            unlink(tempPath)
            throw EnsembleError(.internalError, "Publishing the artifact failed: \(String(cString: strerror(errno)))")
        }
        return true
    }

    public func abort() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        unlink(tempPath)
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(tempPath)
        }
    }
}

/// An open artifact file, read in chunks.
///
/// `@unchecked Sendable`: a reader is read by one task at a time (the response body writer).
public final class ArtifactReader: @unchecked Sendable {
    private var fd: Int32
    public let size: Int64

    init(fd: Int32, size: Int64) {
        self.fd = fd
        self.size = size
    }

    /// Reads up to `max` bytes; an empty array means the end of the file.
    public func read(max: Int = 256 * 1024) throws -> [UInt8] {
        guard fd >= 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: max)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, max) }
            if n < 0 {
                if errno == EINTR { continue }
                throw EnsembleError(.internalError, "Reading the artifact failed")
            }
            buffer.removeLast(max - n)
            if n == 0 { close() }
            return buffer
        }
    }

    public func readAll() throws -> [UInt8] {
        var all: [UInt8] = []
        all.reserveCapacity(Int(size))
        while true {
            let chunk = try read()
            if chunk.isEmpty { return all }
            all += chunk
        }
    }

    public func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    deinit { close() }
}
