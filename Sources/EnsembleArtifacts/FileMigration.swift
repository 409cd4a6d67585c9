import Crypto
import EnsembleCore
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Moving a data folder's files into a bucket: `DATA/artifacts/**` to `PREFIX/artifacts/**` and
/// `DATA/blobs/sha256/**` to `PREFIX/blobs/sha256/**` (the layout `ensemble serve --artifacts` reads),
/// then reading every object back to compare its size and SHA-256 with the file's.
///
/// Files are streamed (one 8 MiB part in memory at a time). Symbolic links, temporary uploads and
/// anything that is not a regular file are left out and counted. A blob whose bytes do not hash to
/// its name is refused: the folder is damaged, and copying it would spread the damage.
public struct FileMigration: Sendable {
    public let folder: String
    public let location: S3Location
    let artifacts: S3ArtifactStore
    let blobs: S3BlobStore

    public init(folder: String, location: S3Location) {
        self.folder = URL(fileURLWithPath: folder).standardizedFileURL.path
        self.location = location
        artifacts = S3ArtifactStore(client: S3Client(location: location.appending("artifacts")))
        blobs = S3BlobStore(client: S3Client(location: location.appending("blobs")), scratch: folder + "/tmp")
    }

    /// One file to copy: where it is, where it goes, what it holds.
    public struct Item: Sendable {
        public var local: String
        public var key: String
        public var size: Int64
        /// `artifacts/…` or `blobs/sha256/…`, relative to the data folder and to the prefix.
        public var relative: String
        var blob: String?
        var path: ArtifactPath?
    }

    public struct Report: Codable, Sendable {
        public var artifacts = 0
        public var blobs = 0
        public var bytes: Int64 = 0
        /// Files already in the bucket with the same size (with `resume`), not sent again.
        public var alreadyThere = 0
        /// Symbolic links, temporary uploads and other non-files that were left out.
        public var skipped: [String] = []
        public var verified = false
    }

    /// Progress: files and bytes done so far, of the totals.
    public struct Progress: Sendable {
        public var files: Int
        public var totalFiles: Int
        public var bytes: Int64
        public var totalBytes: Int64
        public var phase: String
    }

    /// The regular files to copy, in a stable order, and what was left out.
    public func inventory() throws -> (items: [Item], skipped: [String]) {
        var items: [Item] = []
        var skipped: [String] = []
        func walk(_ relative: String, _ visit: (String, Int64) throws -> Void) throws {
            let base = folder + "/" + relative
            guard FileKind.of(base) == .directory else { return }
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: base) else { return }
            for name in names.sorted() {
                let rel = relative + "/" + name
                var st = stat()
                guard lstat(folder + "/" + rel, &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR: try walk(rel, visit)
                case S_IFREG:
                    if name.hasPrefix(LocalArtifactStore.tempPrefix) { skipped.append(rel) } else { try visit(rel, Int64(st.st_size)) }
                default: skipped.append(rel)
                }
            }
        }
        try walk("artifacts") { rel, size in
            let inside = String(rel.dropFirst("artifacts/".count))
            guard let path = try? ArtifactPath(inside), !path.isRoot else {
                skipped.append(rel)
                return
            }
            items.append(Item(local: folder + "/" + rel, key: artifacts.key(path), size: size, relative: rel, blob: nil, path: path))
        }
        try walk("blobs/sha256") { rel, size in
            let name = String(rel.split(separator: "/").last ?? "")
            guard DatasetManifest.isSHA256(name) else {
                skipped.append(rel)
                return
            }
            items.append(Item(local: folder + "/" + rel, key: try blobs.key(name), size: size, relative: rel, blob: name, path: nil))
        }
        return (items, skipped)
    }

    /// Copies every file and verifies every object. Without `resume` the prefix must hold nothing;
    /// with it, objects already there with the right size are kept (and verified like the rest).
    public func run(resume: Bool, progress: @Sendable (Progress) -> Void) async throws -> Report {
        let (items, skipped) = try inventory()
        var report = Report()
        report.skipped = skipped
        let root = S3Client(location: location)
        let existing = try await sizes(root, prefix: root.key(""))
        if !resume, !existing.isEmpty {
            throw EnsembleError.invalid(
                "\(location.description) already holds \(existing.count) objects. Copy into an empty prefix, or pass --resume to finish an interrupted copy (every object is verified either way).")
        }
        let totalBytes = items.reduce(Int64(0)) { $0 + $1.size }
        var done = Progress(files: 0, totalFiles: items.count, bytes: 0, totalBytes: totalBytes, phase: "copy")
        var hashes: [String: String] = [:]
        for item in items {
            if existing[item.key] == item.size {
                report.alreadyThere += 1
            } else {
                hashes[item.key] = try await copy(item)
            }
            if item.blob != nil { report.blobs += 1 } else { report.artifacts += 1 }
            report.bytes += item.size
            done.files += 1
            done.bytes += item.size
            progress(done)
        }
        // Verification: every object read back, its size and SHA-256 against the file's.
        let stored = try await sizes(root, prefix: root.key(""))
        done = Progress(files: 0, totalFiles: items.count, bytes: 0, totalBytes: totalBytes, phase: "verify")
        for item in items {
            guard stored[item.key] == item.size else {
                throw EnsembleError(.internalError, "\(item.relative): the bucket holds \(stored[item.key].map { "\($0) bytes" } ?? "nothing"), the folder \(item.size) bytes. Run the command again with --resume.")
            }
            let local = try hashes[item.key] ?? Self.sha256(file: item.local)
            guard let object = try await root.get(item.key) else { throw EnsembleError(.internalError, "\(item.relative) vanished from the bucket during the check.") }
            var hasher = SHA256()
            for try await chunk in object.body { chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) } }
            let remote = DatasetManifest.hex(hasher.finalize())
            guard remote == local else {
                throw EnsembleError(.internalError, "\(item.relative): the object's bytes differ from the file's (SHA-256 \(remote) against \(local)). Delete the object and run again with --resume.")
            }
            done.files += 1
            done.bytes += item.size
            progress(done)
        }
        report.verified = true
        return report
    }

    /// Streams one file up; answers its SHA-256. A blob goes through the blob store, so it is
    /// published only if it hashes to its name.
    func copy(_ item: Item) async throws -> String {
        let upload: any StorageUpload = if let sha = item.blob { try blobs.startWrite(sha) } else { try artifacts.startUpload(item.path!) }
        let fd = open(item.local, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw EnsembleError.invalid("Cannot read \(item.local): \(String(cString: strerror(errno))).") }
        defer { close(fd) }
        var hasher = SHA256()
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { raw.deallocate() }
        do {
            while true {
                let n = Glibc.read(fd, raw.baseAddress!, raw.count)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw EnsembleError.invalid("Reading \(item.local) failed: \(String(cString: strerror(errno))).")
                }
                if n == 0 { break }
                let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                hasher.update(bufferPointer: chunk)
                try await upload.append(ByteBuffer(bytes: chunk))
            }
            try await upload.commit()
        } catch let error as EnsembleError where item.blob != nil && error.message.contains("does not match its SHA-256") {
            throw EnsembleError.invalid("\(item.relative) does not hash to its name: the data folder is damaged there. Nothing was copied for it; remove it or restore it from a backup, then run again with --resume.")
        } catch {
            await upload.abort()
            throw error
        }
        return DatasetManifest.hex(hasher.finalize())
    }

    func sizes(_ client: S3Client, prefix: String) async throws -> [String: Int64] {
        let (objects, _) = try await client.list(prefix: prefix, delimiter: nil)
        return Dictionary(objects.map { ($0.key, $0.size) }, uniquingKeysWith: { a, _ in a })
    }

    static func sha256(file: String) throws -> String { try FileHashing.sha256(path: file).sha256 }
}
