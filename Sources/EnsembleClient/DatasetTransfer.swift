import AsyncHTTPClient
import Crypto
import EnsembleArtifacts
import EnsembleCore
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a long transfer is, for a progress display.
public struct TransferProgress: Sendable {
    public enum Phase: String, Sendable { case hashing, uploading, downloading, reading, copying }
    public var phase: Phase
    public var filesDone: Int
    public var filesTotal: Int
    public var bytesDone: Int64
    public var bytesTotal: Int64

    public init(phase: Phase, filesDone: Int, filesTotal: Int, bytesDone: Int64, bytesTotal: Int64) {
        self.phase = phase
        self.filesDone = filesDone
        self.filesTotal = filesTotal
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
    }
}

public typealias ProgressHandler = @Sendable (TransferProgress) -> Void

/// A local file chosen for a dataset version: its place in the dataset and on disk.
public struct LocalDatasetFile: Sendable, Equatable {
    public var datasetPath: String
    public var localPath: String
    public var size: Int64
}

/// What `ensemble dataset add` did.
public struct AddResult: Sendable {
    public var version: StoredDatasetVersion
    /// `false` when the latest version already had exactly these files.
    public var created: Bool
    public var uploadedFiles: Int
    public var uploadedBytes: Int64
}

/// What `ensemble dataset get` did.
public struct RestoreResult: Sendable {
    public var version: StoredDatasetVersion
    public var downloadedFiles: Int
    public var downloadedBytes: Int64
    /// Files already present with the right content.
    public var unchangedFiles: Int
    /// Files in the folder that are not part of the version (left alone).
    public var extraFiles: [String]
}

/// Adding and restoring content-addressed dataset versions over the native API.
///
/// Adding hashes every file locally (streaming SHA-256), asks the server which contents it lacks,
/// uploads only those, then records the manifest. Restoring downloads each file to a temporary name,
/// checks its SHA-256 and renames it into place, so an interrupted restore never leaves a wrong file
/// under a real name.
public struct DatasetTransfer: Sendable {
    public let client: EnsembleClient

    public init(client: EnsembleClient) {
        self.client = client
    }

    // MARK: Choosing files

    /// The files named by `paths`. A single folder contributes its contents relative to itself (so
    /// restoring recreates the folder's contents); otherwise each argument is placed under its own name
    /// (`data/train` → `train/...`, `notes.md` → `notes.md`). Symbolic links and special files are
    /// refused: a dataset holds bytes, not references.
    public static func collect(_ paths: [String]) throws(ClientError) -> [LocalDatasetFile] {
        guard !paths.isEmpty else { throw ClientError("Give at least one file or folder to add.") }
        var files: [LocalDatasetFile] = []
        let singleFolder = paths.count == 1 && kind(paths[0]) == .directory
        for raw in paths {
            let path = raw.count > 1 && raw.hasSuffix("/") ? String(raw.dropLast()) : raw
            switch kind(path) {
            case .missing: throw ClientError("'\(raw)' does not exist.")
            case .other: throw ClientError("'\(raw)' is a symbolic link or a special file; give the real file or folder instead.")
            case .file:
                files.append(LocalDatasetFile(datasetPath: (path as NSString).lastPathComponent, localPath: path, size: fileSize(path)))
            case .directory:
                let base = singleFolder ? "" : (URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent + "/")
                try walk(path, prefix: base, into: &files)
            }
        }
        guard !files.isEmpty else { throw ClientError("No files found in \(paths.joined(separator: ", ")); a dataset version needs at least one file.") }
        var seen: [String: String] = [:]
        for f in files {
            if let other = seen[f.datasetPath] {
                throw ClientError("Both '\(other)' and '\(f.localPath)' would be stored as '\(f.datasetPath)'. Put them in different folders.")
            }
            seen[f.datasetPath] = f.localPath
        }
        do {
            _ = try DatasetManifest.normalized(files.map { DatasetFile(path: $0.datasetPath, size: $0.size, sha256: String(repeating: "0", count: 64)) })
        } catch {
            throw ClientError(error.message)
        }
        return files.sorted { $0.datasetPath.utf8.lexicographicallyPrecedes($1.datasetPath.utf8) }
    }

    static func kind(_ path: String) -> FileKind { FileKind.of(path) }

    static func fileSize(_ path: String) -> Int64 { POSIXFile.size(path) }

    static func walk(_ folder: String, prefix: String, into files: inout [LocalDatasetFile]) throws(ClientError) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        } catch {
            throw ClientError("Cannot list '\(folder)': \(error.localizedDescription)")
        }
        for name in names {
            let full = folder + "/" + name
            switch kind(full) {
            case .file: files.append(LocalDatasetFile(datasetPath: prefix + name, localPath: full, size: fileSize(full)))
            case .directory: try walk(full, prefix: prefix + name + "/", into: &files)
            case .other: throw ClientError("'\(full)' is a symbolic link or a special file; a dataset holds real files only. Copy the target in, or remove the link.")
            case .missing: continue
            }
        }
    }

    // MARK: Adding

    public func add(name: String, paths: [String], description: String?, createdBy: String?, progress: ProgressHandler? = nil) async throws -> AddResult {
        do {
            try DatasetManifest.validateName(name)
        } catch {
            throw ClientError(error.message)
        }
        let local = try Self.collect(paths)
        let totalBytes = local.reduce(Int64(0)) { $0 + $1.size }

        // 1. Hash, streaming.
        var manifest: [DatasetFile] = []
        var hashedBytes: Int64 = 0
        for (i, file) in local.enumerated() {
            let before = hashedBytes
            let (sha, size) = try FileHashing.sha256(path: file.localPath) { done in
                progress?(TransferProgress(phase: .hashing, filesDone: i, filesTotal: local.count, bytesDone: before + done, bytesTotal: totalBytes))
            }
            hashedBytes += size
            manifest.append(DatasetFile(path: file.datasetPath, size: size, sha256: sha))
        }
        progress?(TransferProgress(phase: .hashing, filesDone: local.count, filesTotal: local.count, bytesDone: hashedBytes, bytesTotal: hashedBytes))

        // 2. Upload what the server lacks (each distinct content once).
        struct Ask: Encodable { var sha256: [String] }
        struct Missing: Decodable { var missing: [String] }
        let distinct = Array(Set(manifest.map(\.sha256)))
        let missing = Set(try await client.json(.POST, "/api/v1/blobs/missing", body: Ask(sha256: distinct), as: Missing.self).missing)
        var toSend: [(DatasetFile, String)] = []
        var scheduled = Set<String>()
        for (file, l) in zip(manifest, local) where missing.contains(file.sha256) && scheduled.insert(file.sha256).inserted {
            toSend.append((file, l.localPath))
        }
        let sendBytes = toSend.reduce(Int64(0)) { $0 + $1.0.size }
        let sendCount = toSend.count
        var sent: Int64 = 0
        for (i, (file, path)) in toSend.enumerated() {
            let before = sent
            try await uploadBlob(file, from: path) { done in
                progress?(TransferProgress(phase: .uploading, filesDone: i, filesTotal: sendCount, bytesDone: before + done, bytesTotal: sendBytes))
            }
            sent += file.size
        }
        if !toSend.isEmpty {
            progress?(TransferProgress(phase: .uploading, filesDone: toSend.count, filesTotal: toSend.count, bytesDone: sent, bytesTotal: sendBytes))
        }

        // 3. Record the version.
        struct NewVersion: Encodable {
            var files: [FileDTO]
            var description: String?
            var createdBy: String?
        }
        let answer = try await client.json(
            .POST, "/api/v1/datasets/\(EnsembleClient.escape(name))/versions",
            body: NewVersion(files: manifest.map(FileDTO.init), description: description, createdBy: createdBy), as: VersionAnswer.self)
        return AddResult(version: answer.version.model, created: answer.created ?? true, uploadedFiles: toSend.count, uploadedBytes: sent)
    }

    /// Uploads one local file to the content store unless the server has it already (handoff
    /// predictions); returns its SHA-256 and size.
    public func uploadFile(_ path: String, progress: (@Sendable (Int64) -> Void)? = nil) async throws -> (sha256: String, size: Int64) {
        guard Self.kind(path) == .file else { throw ClientError("'\(path)' is not a readable file.") }
        let (sha, size) = try FileHashing.sha256(path: path)
        struct Ask: Encodable { var sha256: [String] }
        struct Missing: Decodable { var missing: [String] }
        let missing = try await client.json(.POST, "/api/v1/blobs/missing", body: Ask(sha256: [sha]), as: Missing.self).missing
        if !missing.isEmpty {
            try await uploadBlob(DatasetFile(path: "upload", size: size, sha256: sha), from: path, progress: progress ?? { _ in })
        }
        return (sha, size)
    }

    func uploadBlob(_ file: DatasetFile, from path: String, progress: @escaping @Sendable (Int64) -> Void) async throws {
        let chunks = FileChunks(path: path, progress: progress)
        _ = try await client.send(
            .PUT, "/api/v1/blobs/\(file.sha256)", body: .stream(chunks, length: .known(file.size)), contentType: "application/octet-stream")
    }

    // MARK: Restoring

    public func version(name: String, version: Int64?) async throws -> StoredDatasetVersion {
        let ref = version.map(String.init) ?? "latest"
        return try await client.json(.GET, "/api/v1/datasets/\(EnsembleClient.escape(name))/versions/\(ref)", as: VersionAnswer.self).version.model
    }

    /// Restores a version into `directory` (created if missing). Files already there with the right
    /// content are kept; a file with other content is replaced only when `overwrite` is set.
    public func restore(name: String, version number: Int64?, into directory: String, overwrite: Bool, progress: ProgressHandler? = nil) async throws
        -> RestoreResult
    {
        let version = try await self.version(name: name, version: number)
        let root = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        switch Self.kind(root) {
        case .directory: break
        case .missing:
            do {
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            } catch {
                throw ClientError("Cannot create '\(root)': \(error.localizedDescription)")
            }
        case .file, .other: throw ClientError("'\(root)' exists and is not a folder; choose a folder to restore into.")
        }

        // Plan: check every path before touching anything.
        var plan: [(DatasetFile, String)] = []
        var unchanged = 0
        for file in version.files {
            do {
                try DatasetManifest.validatePath(file.path)
            } catch {
                throw ClientError("The server sent an unsafe path '\(file.path)'; nothing was written. \(error.message)")
            }
            let target = try Self.prepareParents(root: root, relative: file.path)
            switch Self.kind(target) {
            case .missing: plan.append((file, target))
            case .file:
                if Self.fileSize(target) == file.size, (try? FileHashing.sha256(path: target).sha256) == file.sha256 {
                    unchanged += 1
                } else if overwrite {
                    plan.append((file, target))
                } else {
                    throw ClientError("'\(target)' exists with different content. Restore into an empty folder, or pass --overwrite to replace it.")
                }
            case .directory, .other:
                throw ClientError("'\(target)' exists and is not a regular file; restore into an empty folder.")
            }
        }

        let totalBytes = plan.reduce(Int64(0)) { $0 + $1.0.size }
        let planCount = plan.count
        var done: Int64 = 0
        for (i, (file, target)) in plan.enumerated() {
            let before = done
            try await downloadBlob(file, to: target) { n in
                progress?(TransferProgress(phase: .downloading, filesDone: i, filesTotal: planCount, bytesDone: before + n, bytesTotal: totalBytes))
            }
            done += file.size
        }
        progress?(TransferProgress(phase: .downloading, filesDone: plan.count, filesTotal: plan.count, bytesDone: done, bytesTotal: totalBytes))

        let wanted = Set(version.files.map(\.path))
        var present: [LocalDatasetFile] = []
        try? Self.walk(root, prefix: "", into: &present)
        let extra = present.map(\.datasetPath).filter { !wanted.contains($0) }.sorted()
        return RestoreResult(version: version, downloadedFiles: plan.count, downloadedBytes: done, unchangedFiles: unchanged, extraFiles: extra)
    }

    /// Creates the folders of `relative` under `root`, refusing to pass through a symbolic link or a
    /// file, and returns the target path.
    static func prepareParents(root: String, relative: String) throws(ClientError) -> String {
        let segments = relative.split(separator: "/").map(String.init)
        var current = root
        for segment in segments.dropLast() {
            current += "/" + segment
            switch kind(current) {
            case .directory: continue
            case .missing:
                if mkdir(current, 0o755) != 0 && errno != EEXIST {
                    throw ClientError("Cannot create the folder '\(current)': \(String(cString: strerror(errno))).")
                }
            case .file: throw ClientError("'\(current)' is a file, but the dataset needs a folder there.")
            case .other: throw ClientError("'\(current)' is a symbolic link or a special file; restore into a folder without links.")
            }
        }
        return current + "/" + segments.last!
    }

    func downloadBlob(_ file: DatasetFile, to target: String, progress: @escaping @Sendable (Int64) -> Void) async throws {
        var request = HTTPClientRequest(url: client.url("/api/v1/blobs/\(file.sha256)"))
        if let authorization = client.authorization { request.headers.add(name: "Authorization", value: authorization) }
        request.method = .GET
        let response: HTTPClientResponse
        do {
            response = try await client.http.execute(request, timeout: client.timeout)
        } catch {
            throw ClientError("Could not reach the Ensemble server at \(client.server) (\(error)).")
        }
        guard response.status.code == 200 else {
            let body = try await response.body.collect(upTo: 1 << 20)
            throw EnsembleClient.error(status: Int(response.status.code), body: body, path: "/api/v1/blobs/\(file.sha256)")
        }
        let folder = String(target[..<target.lastIndex(of: "/")!])
        let temp = folder + "/.ensemble-partial-" + UUID().uuidString
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ClientError("Cannot write in '\(folder)': \(String(cString: strerror(errno))).") }
        var closed = false
        defer {
            if !closed { close(fd) }
        }
        var hasher = SHA256()
        var received: Int64 = 0
        do {
            for try await buffer in response.body {
                try buffer.withUnsafeReadableBytes { bytes in
                    hasher.update(bufferPointer: bytes)
                    if let failure = POSIXFile.writeAll(fd, bytes) { throw ClientError("Writing '\(target)' failed: \(failure).") }
                }
                received += Int64(buffer.readableBytes)
                progress(received)
            }
            let actual = DatasetManifest.hex(hasher.finalize())
            guard actual == file.sha256, received == file.size else {
                throw ClientError("The download of '\(file.path)' does not match its manifest (SHA-256 \(actual), \(received) bytes). Nothing was replaced; run the command again.")
            }
            fsync(fd)
            close(fd)
            closed = true
            guard rename(temp, target) == 0 else {
                throw ClientError("Cannot move the download into '\(target)': \(String(cString: strerror(errno))).")
            }
        } catch {
            unlink(temp)
            throw error
        }
    }
}

// MARK: Wire types

struct FileDTO: Codable {
    var path: String
    var size: Int64
    var sha256: String
    init(_ f: DatasetFile) {
        path = f.path
        size = f.size
        sha256 = f.sha256
    }
}

struct VersionDTO: Decodable {
    var name: String
    var version: Int64
    var digest: String
    var description: String?
    var fileCount: Int64
    var totalSize: Int64
    var createdAt: Int64
    var createdBy: String?
    var files: [FileDTO]?

    var model: StoredDatasetVersion {
        StoredDatasetVersion(
            name: name, version: version, digest: digest, description: description, fileCount: fileCount, totalSize: totalSize,
            createdAt: createdAt, createdBy: createdBy, files: (files ?? []).map { DatasetFile(path: $0.path, size: $0.size, sha256: $0.sha256) })
    }
}

struct VersionAnswer: Decodable {
    var version: VersionDTO
    var created: Bool?
}

/// A file read in 1 MiB chunks as an async sequence of buffers, for streaming uploads.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    let progress: @Sendable (Int64) -> Void

    struct AsyncIterator: AsyncIteratorProtocol {
        let path: String
        let progress: @Sendable (Int64) -> Void
        var fd: Int32 = -1
        var total: Int64 = 0
        var finished = false

        mutating func next() async throws -> ByteBuffer? {
            if finished { return nil }
            if fd < 0 {
                fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw ClientError("Cannot read '\(path)': \(String(cString: strerror(errno))).") }
            }
            var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 1 << 20) { ptr in
                let r = read(fd, ptr.baseAddress!, ptr.count)
                return r < 0 ? 0 : r
            }
            if n == 0 {
                close(fd)
                finished = true
                return nil
            }
            total += Int64(n)
            progress(total)
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(path: path, progress: progress) }
}
