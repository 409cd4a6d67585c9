import EnsembleArtifacts
import EnsembleCore
import EnsembleJSON
import Hummingbird
import NIOCore

/// Content-addressed datasets: blobs by SHA-256 (`/api/v1/blobs/...`) and versions with file
/// manifests (`/api/v1/datasets/{name}/versions`, POST and `/{version}`).
///
/// A client hashes its files, asks which contents the server lacks (`POST blobs/missing`), uploads
/// only those (`PUT blobs/{sha256}`, verified on arrival), then records the version. Restoring is the
/// reverse: read the manifest, download each blob, check its hash.
struct StoredDatasetHandlers: Sendable {
    let store: any StoredDatasetStore
    let content: any BlobStorage
    let maxBlobBytes: Int64

    // MARK: Blobs

    /// `POST /api/v1/blobs/missing {"sha256": [...]}` → `{"missing": [...]}`, in the order asked.
    func missing(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let asked = try f.strings("sha256")
        guard asked.count <= DatasetManifest.maxFiles else {
            throw EnsembleError.invalid("Ask about at most \(DatasetManifest.maxFiles) contents at once; got \(asked.count).")
        }
        var seen = Set<String>()
        var missing: [String] = []
        for sha in asked where seen.insert(sha).inserted {
            if try await content.size(of: sha) == nil { missing.append(sha) }
        }
        return JSONResponse.list("missing", missing, bytesPerItem: 70) { w, sha in w.string(sha) }
    }

    /// `GET|HEAD|PUT /api/v1/blobs/{sha256}`.
    func blob(_ request: Request, _ context: EnsembleRequestContext) async throws -> Response {
        let sha = try context.capture("sha256")
        guard DatasetManifest.isSHA256(sha) else {
            throw EnsembleError.invalid("A blob is named by its SHA-256 (64 lower-case hex digits): /api/v1/blobs/<sha256>.")
        }
        switch request.method {
        case .put: return try await put(sha, request)
        case .get, .head:
            if request.method == .head {
                guard let size = try await content.size(of: sha) else { throw EnsembleError.notFound("No stored content with SHA-256 \(sha).") }
                return Response(status: .ok, headers: [.contentLength: String(size), .contentType: "application/octet-stream"])
            }
            return ArtifactHandlers.fileResponse(headers: [.contentType: "application/octet-stream"], file: try await content.read(sha))
        default:
            throw EnsembleError(.endpointNotFound, "Blobs answer GET, HEAD and PUT.")
        }
    }

    func put(_ sha: String, _ request: Request) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap({ Int64($0) }), length > maxBlobBytes {
            throw EnsembleError.invalid("The file is larger than this server's limit of \(maxBlobBytes) bytes.")
        }
        if let size = try await content.size(of: sha) {
            // Already stored: drain nothing more than we must and answer at once.
            return Self.blobAnswer(sha, size: size, created: false)
        }
        let upload = try await content.startWrite(sha)
        let created = try await ArtifactHandlers.receive(request, into: upload, limit: maxBlobBytes, what: "file")
        return Self.blobAnswer(sha, size: upload.bytesWritten, created: created)
    }

    static func blobAnswer(_ sha: String, size: Int64, created: Bool) -> Response {
        var w = JSONWriter()
        w.beginObject()
        w.member("sha256", sha)
        w.member("size", size)
        w.member("created", created)
        w.endObject()
        var r = JSONResponse.ok(w)
        if created { r.status = .created }
        return r
    }

    // MARK: Versions

    /// `POST /api/v1/datasets/{name}/versions {"files": [{"path","size","sha256"}], "description", "created_by"}`.
    func addVersion(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let name = try context.capture("name")
        try DatasetManifest.validateName(name)
        var files: [DatasetFile] = []
        for item in try f.objects("files") {
            files.append(DatasetFile(path: try item.requiredString("path"), size: try item.requiredInt64("size"), sha256: try item.requiredString("sha256")))
        }
        let sorted = try DatasetManifest.normalized(files)
        // Every content must be stored, with the size the manifest claims, before the version exists.
        var absent: [String] = []
        for file in sorted {
            guard let size = try await content.size(of: file.sha256) else {
                absent.append(file.path)
                continue
            }
            guard size == file.size else {
                throw EnsembleError.invalid("'\(file.path)' is listed with \(file.size) bytes, but its content \(file.sha256) has \(size).")
            }
        }
        if !absent.isEmpty {
            let shown = absent.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
            throw EnsembleError.invalid(
                "The content of \(absent.count) file(s) is not on the server (\(shown)\(absent.count > 5 ? ", …" : "")). Upload it to /api/v1/blobs/<sha256> first."
            )
        }
        let (version, created) = try await store.addDatasetVersion(
            name: name, files: sorted, description: try f.string("description"), createdBy: context.actor ?? f.string("created_by"))
        // Whoever adds the first version of a dataset manages it.
        if created, version.version == 1 { try await context.accessControl?.created(.dataset, name, by: context.principal) }
        var w = JSONWriter(capacity: 160 * version.files.count + 512)
        w.beginObject()
        w.key("version")
        w.storedVersion(version, withFiles: true)
        w.member("created", created)
        w.endObject()
        var r = JSONResponse.ok(w)
        if created { r.status = .created }
        return r
    }

    /// `GET /api/v1/datasets/{name}/versions/{version}` (a number or `latest`).
    func getVersion(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let name = try context.capture("name")
        let raw = try context.capture("version")
        let number: Int64?
        if raw == "latest" {
            number = nil
        } else {
            guard let n = Int64(raw), n > 0 else { throw EnsembleError.invalid("The version must be a positive number or 'latest'; got '\(raw)'.") }
            number = n
        }
        let version = try await store.storedDatasetVersion(name: name, version: number)
        return JSONResponse.wrapped("version", bytes: 160 * version.files.count + 512) { $0.storedVersion(version, withFiles: true) }
    }
}

extension JSONWriter {
    mutating func storedVersion(_ v: StoredDatasetVersion, withFiles: Bool) {
        beginObject()
        member("name", v.name)
        member("version", v.version)
        member("digest", v.digest)
        optionalMember("description", v.description)
        member("file_count", v.fileCount)
        member("total_size", v.totalSize)
        member("created_at", v.createdAt)
        optionalMember("created_by", v.createdBy)
        if withFiles {
            key("files")
            beginArray()
            for file in v.files {
                beginObject()
                member("path", file.path)
                member("size", file.size)
                member("sha256", file.sha256)
                endObject()
            }
            endArray()
        }
        endObject()
    }
}

extension StoredDatasetHandlers {
    /// Blobs and stored dataset versions, under `/api/v1`.
    func routes(_ limits: BodyLimits) -> RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.on("blobs/missing", method: .post, .edit, bodyLimit: limits.large, use: missing)
        r.get("blobs/{sha256}", .read, use: blob)
        r.head("blobs/{sha256}", .read, use: blob)
        r.put("blobs/{sha256}", .edit, use: blob)
        r.on("datasets/{name}/versions", method: .post, .edit, scope: .dataset, bodyLimit: limits.large, use: addVersion)
        r.get("datasets/{name}/versions/{version}", .read, use: getVersion)
        return r
    }
}
