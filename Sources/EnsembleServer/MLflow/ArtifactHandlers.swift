import EnsembleArtifacts
import EnsembleCore
import EnsembleJSON
import Foundation
import Hummingbird
import NIOCore

/// The artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/...`), `artifacts/list`, and the UI's
/// download and upload helpers. Every path goes through ``ArtifactPath`` before it touches the disk.
struct ArtifactHandlers: Sendable {
    let store: any TrackingStore
    let artifacts: any ArtifactStorage
    let maxUploadBytes: Int64
    /// Browser downloads (`get-artifact`, the web UI) redirect to a presigned URL when the storage
    /// has one.
    var presignedDownloads = false
    /// How long a presigned download URL stays valid.
    static let presignedSeconds = 900
    /// The MLflow client's direct multipart uploads (`MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD`): with a
    /// bucket, large files go from the client straight to it, part by part, to presigned URLs.
    var presignedUploads = false
    /// How long a direct upload's part URLs stay valid: long enough for a large file on a slow link.
    static let directUploadSeconds = 4 * 3600

    /// Where the artifact proxy is mounted.
    static let proxyPrefixes = ["/api/2.0/mlflow-artifacts/artifacts", "/ajax-api/2.0/mlflow-artifacts/artifacts"]
    /// Where the direct multipart uploads are mounted.
    static let multipartPrefixes = ["/api/2.0/mlflow-artifacts/mpu", "/ajax-api/2.0/mlflow-artifacts/mpu"]
    /// Where the MLflow client asks for a file's presigned URL (its multipart downloads).
    static let presignedPrefixes = ["/api/2.0/mlflow-artifacts/presigned", "/ajax-api/2.0/mlflow-artifacts/presigned"]
    /// How long a client's presigned download URL stays valid: it reads large files in parallel
    /// ranges, and asks for a new URL when one fails.
    static let clientPresignedSeconds = 3600

    /// The path inside the artifact store that an `mlflow-artifacts:` or proxy `http(s)` URI names, or
    /// `nil` when the URI points somewhere this server does not serve.
    static func proxyPath(ofURI uri: String) -> String? {
        if uri.hasPrefix("mlflow-artifacts:") {
            var rest = uri.dropFirst("mlflow-artifacts:".count)
            if rest.hasPrefix("//") {
                // mlflow-artifacts://host:port/path — drop the authority.
                rest = rest.dropFirst(2)
                guard let slash = rest.firstIndex(of: "/") else { return "" }
                rest = rest[slash...]
            }
            return String(rest.drop { $0 == "/" })
        }
        if uri.hasPrefix("http://") || uri.hasPrefix("https://") {
            for marker in ["/api/2.0/mlflow-artifacts/artifacts", "/ajax-api/2.0/mlflow-artifacts/artifacts"] {
                if let r = uri.range(of: marker) {
                    return PercentDecoding.decode(uri[r.upperBound...].drop { $0 == "/" })
                }
            }
        }
        return nil
    }

    /// The artifact-store folder of a run, or a 400 saying where its artifacts really are.
    func runRoot(_ run: Run) throws -> ArtifactPath {
        guard let p = Self.proxyPath(ofURI: run.info.artifactURI) else {
            throw EnsembleError.invalid(
                "The artifacts of run \(run.info.runID) are stored at '\(run.info.artifactURI)', outside this server's artifact store; read them from there with the client."
            )
        }
        return try ArtifactPath(p)
    }

    // MARK: Proxy

    func proxy(_ request: Request, _ context: EnsembleRequestContext) async throws -> Response {
        let path = try ArtifactPath(try context.catchAllPath(of: request))
        switch request.method {
        case .put: return try await upload(request, to: path)
        case .get:
            if path.isRoot {
                // GET .../artifacts?path=dir lists a folder.
                let query = try RequestFields.parseQuery(request.uri.query)
                let dir = try ArtifactPath(query.first { $0.0 == "path" }?.1 ?? "")
                return try await listProxy(dir)
            }
            return try await download(path)
        case .delete:
            try await artifacts.delete(path)
            return JSONResponse.emptyObject
        default:
            throw EnsembleError(.endpointNotFound, "The artifact proxy answers GET, PUT and DELETE.")
        }
    }

    func listProxy(_ dir: ArtifactPath) async throws -> Response {
        guard let entries = try await artifacts.list(dir) else { return JSONResponse.emptyObject }
        return JSONResponse.list("files", entries) { $0.fileInfo($1, under: nil) }
    }

    /// Streams the body into `path`; with `requireData`, an empty body is a 400 and nothing is written.
    func upload(_ request: Request, to path: ArtifactPath, requireData: Bool = false) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap({ Int64($0) }), length > maxUploadBytes {
            throw EnsembleError.invalid("The artifact is larger than this server's limit of \(maxUploadBytes) bytes.")
        }
        let upload = try await artifacts.startUpload(path)
        try await Self.receive(request, into: upload, limit: maxUploadBytes, what: "artifact", requireData: requireData)
        return JSONResponse.emptyObject
    }

    /// Streams a request body into an upload and commits it (answering whether it is new); any
    /// failure, the size limit or an empty body with `requireData` aborts it, so nothing half-written
    /// is ever published.
    @discardableResult
    static func receive(_ request: Request, into upload: any StorageUpload, limit: Int64, what: String, requireData: Bool = false) async throws -> Bool {
        do {
            for try await buffer in request.body {
                try await upload.append(buffer)
                if upload.bytesWritten > limit {
                    throw EnsembleError.invalid("The \(what) is larger than this server's limit of \(limit) bytes.")
                }
            }
            if requireData, upload.bytesWritten == 0 { throw Self.noData }
            return try await upload.commit()
        } catch {
            await upload.abort()
            throw error
        }
    }

    /// A file of the store as a download, streamed through this server; with `redirect` (browser
    /// downloads, presigned downloads on), a redirect to the storage's own URL when it has one.
    func download(_ path: ArtifactPath, redirect: Bool = false) async throws -> Response {
        if redirect, presignedDownloads, let response = try await presignedRedirect(path) { return response }
        let file = try await artifacts.read(path)
        let headers: HTTPFields = [
            .contentType: MimeTypes.guess(path.name),
            .contentDisposition: "attachment; filename=\"\(path.name.replacingOccurrences(of: "\"", with: ""))\"",
            .init("X-Content-Type-Options")!: "nosniff",
        ]
        return Self.fileResponse(headers: headers, file: file)
    }

    /// A 302 to a presigned URL for an existing file, or nil when the storage has none.
    func presignedRedirect(_ path: ArtifactPath) async throws -> Response? {
        guard let (url, _) = try await artifacts.downloadURL(path, expires: Self.presignedSeconds) else { return nil }
        return Response(status: .found, headers: [.location: url, .cacheControl: "private, max-age=\(Self.presignedSeconds / 2)"])
    }

    /// A response that streams a stored file in chunks as they are read.
    static func fileResponse(headers: HTTPFields, file: StoredFile) -> Response {
        var headers = headers
        headers[.contentLength] = String(file.size)
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody(contentLength: Int(file.size)) { writer in
                try await file.forEachChunk { try await writer.write($0) }
                try await writer.finish(nil)
            }
        )
    }

    // MARK: artifacts/list and UI helpers

    func listRunArtifacts(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try await request.fields(context)
        let run = try await store.run(id: try f.runID())
        let sub = try ArtifactPath(try f.string("path") ?? "")
        let root = try runRoot(run)
        let entries = try await artifacts.list(root.appending(sub)) ?? []
        var w = JSONWriter()
        w.beginObject()
        w.member("root_uri", run.info.artifactURI)
        w.key("files")
        w.beginArray()
        for e in entries { w.fileInfo(e, under: sub.isRoot ? nil : sub) }
        w.endArray()
        w.endObject()
        return JSONResponse.ok(w)
    }

    /// `GET /get-artifact?run_id=&path=`: one file of a run, for the UI.
    func getArtifact(_ request: Request, _ context: EnsembleRequestContext) async throws -> Response {
        let f = RequestFields(query: try RequestFields.parseQuery(request.uri.query))
        let run = try await store.run(id: try f.runID())
        let path = try ArtifactPath(try f.requiredString("path"))
        return try await download(try runRoot(run).appending(path), redirect: true)
    }

    /// `POST /ajax-api/2.0/mlflow/upload-artifact?run_uuid=&path=` with the raw file as the body.
    /// The checks come in MLflow's order and with its wording: run id, path, path safety, data.
    func uploadArtifact(_ request: Request, context: EnsembleRequestContext) async throws -> Response {
        let f = try request.queryFields()
        guard let runID = try f.string("run_uuid") ?? f.string("run_id"), !runID.isEmpty else {
            throw EnsembleError.invalid("Request must specify run_uuid.")
        }
        guard let rawPath = try f.string("path"), !rawPath.isEmpty else { throw EnsembleError.invalid("Request must specify path.") }
        let path = try ArtifactPath(rawPath)
        guard !path.isRoot else { throw ArtifactPath.invalid }
        if request.headers[.contentLength] == "0" { throw Self.noData }
        let run = try await store.run(id: runID)
        guard run.info.lifecycleStage == .active else {
            throw EnsembleError.invalid("The run \(run.info.runID) must be in the 'active' state. Current state is deleted.")
        }
        return try await upload(request, to: try runRoot(run).appending(path), requireData: true)
    }

    static let noData = EnsembleError.invalid("Request must specify data.")

    // MARK: Presigned downloads for the MLflow client

    /// `GET …/presigned/<path>`: `{url, headers, file_size}`, where the MLflow client downloads the
    /// file straight from the bucket in parallel ranges (`multipart_downloads_enabled` in
    /// `/server-info`, with `--presigned-downloads`); otherwise a 501, on which a client that forced
    /// it (`MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD=true`) downloads through the proxy.
    func presignedDownload(_ request: Request, _ context: EnsembleRequestContext) async throws -> Response {
        let path = try ArtifactPath(try context.catchAllPath(of: request))
        guard !path.isRoot else { throw EnsembleError.invalid("'' is a folder; list it instead of downloading it.") }
        guard presignedDownloads, let (url, size) = try await artifacts.downloadURL(path, expires: Self.clientPresignedSeconds) else {
            throw EnsembleError(
                .notImplemented,
                "Presigned downloads are off on this server: files come through it. With a bucket, `ensemble serve --presigned-downloads` "
                    + "sends clients straight to it.")
        }
        var w = JSONWriter(capacity: url.utf8.count + 64)
        w.beginObject()
        w.member("url", url)
        w.key("headers")
        w.beginObject()
        w.endObject()
        w.member("file_size", size)
        w.endObject()
        return JSONResponse.ok(w)
    }

    // MARK: Direct multipart uploads (mpu/create, mpu/complete, mpu/abort)

    /// What the MLflow client looks for at the start of the answer to fall back to an upload through
    /// this server. The answer is MLflow's 501 NOT_IMPLEMENTED (its client falls back from a forced
    /// multipart download only on a 501 or a 404): not an error in the request, and not logged as one.
    static let multipartUnsupported = "Multipart upload is not supported for the current artifact repository"

    /// `POST …/mpu/create/<folder>` `{path, num_parts}`: begins a multipart upload of the file named
    /// by `path`'s last component into `<folder>` and answers each part's presigned URL.
    func createMultipart(_ request: Request, _ context: EnsembleRequestContext) async throws -> Response {
        let (path, f) = try await multipartTarget(request, context)
        let parts = try f.int64("num_parts", in: 1...Int64(DirectUpload.maxParts)) ?? 1
        guard presignedUploads, let upload = try await artifacts.startDirectUpload(path, parts: Int(parts), expires: Self.directUploadSeconds) else {
            throw Self.noDirectUploads
        }
        var w = JSONWriter(capacity: 256 + upload.urls.count * 512)
        w.beginObject()
        w.member("upload_id", upload.uploadID)
        w.key("credentials")
        w.beginArray()
        for (number, url) in upload.urls {
            w.beginObject()
            w.member("url", url)
            w.member("part_number", Int64(number))
            w.key("headers")
            w.beginObject()
            w.endObject()
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return JSONResponse.ok(w)
    }

    /// `POST …/mpu/complete/<folder>` `{path, upload_id, parts: [{part_number, etag}]}`: publishes the
    /// file. Parts not uploaded or a file over the server's upload limit are a 400, and nothing is
    /// published.
    func completeMultipart(_ request: Request, _ context: EnsembleRequestContext) async throws -> Response {
        let (path, f) = try await multipartTarget(request, context)
        let id = try Self.uploadID(f)
        let items = try f.objects("parts")
        guard (1...DirectUpload.maxParts).contains(items.count) else {
            throw EnsembleError.invalid("'parts' lists 1 to \(DirectUpload.maxParts) uploaded parts, each {part_number, etag}; it has \(items.count).")
        }
        var parts: [DirectUpload.Part] = []
        parts.reserveCapacity(items.count)
        for item in items {
            guard let number = try item.int64("part_number", in: 1...Int64(DirectUpload.maxParts)) else { throw EnsembleError.missing("parts[].part_number") }
            let etag = try item.requiredString("etag")
            guard Self.isPlainToken(etag) else {
                throw EnsembleError.invalid("Part \(number) has no usable 'etag': send the ETag header its upload answered.")
            }
            parts.append(DirectUpload.Part(number: Int(number), etag: etag))
        }
        parts.sort { $0.number < $1.number }
        if let twice = zip(parts, parts.dropFirst()).first(where: { $0.0.number == $0.1.number }) {
            throw EnsembleError.invalid("Part \(twice.0.number) is listed twice in 'parts'.")
        }
        guard presignedUploads else { throw Self.noDirectUploads }
        try await artifacts.completeDirectUpload(path, uploadID: id, parts: parts, limit: maxUploadBytes)
        return JSONResponse.emptyObject
    }

    /// `POST …/mpu/abort/<folder>` `{path, upload_id}`: throws the uploaded parts away.
    func abortMultipart(_ request: Request, _ context: EnsembleRequestContext) async throws -> Response {
        let (path, f) = try await multipartTarget(request, context)
        let id = try Self.uploadID(f)
        guard presignedUploads else { throw Self.noDirectUploads }
        try await artifacts.abortDirectUpload(path, uploadID: id)
        return JSONResponse.emptyObject
    }

    /// The file a direct-upload request names: the folder in the URL and the last component of the
    /// body's `path` (the client's local file, `/` or `\` separated), checked like any artifact path.
    func multipartTarget(_ request: Request, _ context: EnsembleRequestContext) async throws -> (ArtifactPath, RequestFields) {
        let folder = try ArtifactPath(try context.catchAllPath(of: request))
        let f = try await request.fields(context)
        let local = try f.requiredString("path")
        let notAFile = EnsembleError.invalid("'path' must name a file (the local file being uploaded); '\(local.prefix(200))' does not.")
        guard !local.hasSuffix("/"), !local.hasSuffix("\\"), let name = local.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last else {
            throw notAFile
        }
        let file = try ArtifactPath(String(name))
        guard !file.isRoot else { throw notAFile }
        return (folder.appending(file), f)
    }

    static func uploadID(_ f: RequestFields) throws -> String {
        let id = try f.requiredString("upload_id")
        guard isPlainToken(id) else { throw EnsembleError.invalid("'upload_id' must be the id mpu/create answered.") }
        return id
    }

    /// An id the bucket made (an upload id, an ETag), as a client sends it back: 1 to 1,024 bytes, no
    /// control characters.
    static func isPlainToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 1024 && !s.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    static let noDirectUploads = EnsembleError(
        .notImplemented,
        multipartUnsupported + ": this server takes uploads itself, streamed to its storage. Direct uploads need a bucket and "
            + "`ensemble serve --artifacts s3://… --presigned-uploads`.")
}

extension JSONWriter {
    /// `{path, is_dir, file_size?}`; `path` is the entry's name, prefixed with its folder when given.
    mutating func fileInfo(_ e: ArtifactFileInfo, under folder: ArtifactPath?) {
        beginObject()
        member("path", folder.map { "\($0)/\(e.name)" } ?? e.name)
        member("is_dir", e.isDirectory)
        optionalMember("file_size", e.size)
        endObject()
    }
}

/// Content types for downloads, by file extension; unknown types are binary.
enum MimeTypes {
    static let byExtension: [String: String] = [
        "txt": "text/plain", "log": "text/plain", "md": "text/markdown", "csv": "text/csv", "tsv": "text/tab-separated-values",
        "json": "application/json", "yaml": "text/plain", "yml": "text/plain", "html": "text/plain", "htm": "text/plain",
        "xml": "application/xml", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
        "svg": "image/svg+xml", "bmp": "image/bmp", "webp": "image/webp", "pdf": "application/pdf",
        "py": "text/x-python", "pkl": "application/octet-stream", "parquet": "application/octet-stream",
    ]

    static func guess(_ name: String) -> String {
        if name == "MLmodel" || name == "MLproject" || name == "mlproject" { return "text/plain" }
        guard let dot = name.lastIndex(of: ".") else { return "application/octet-stream" }
        return byExtension[name[name.index(after: dot)...].lowercased()] ?? "application/octet-stream"
    }
}

extension ArtifactHandlers {
    /// `artifacts/list`, `upload-artifact` and `get-artifact`, under the MLflow prefixes.
    var mlflowRoutes: RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.get("artifacts/list", .read, use: listRunArtifacts)
        r.post("upload-artifact", .edit, scope: .runInQuery, use: uploadArtifact)
        r.get("get-artifact", .read, use: getArtifact)
        return r
    }

    /// The MLflow client's presigned downloads: `GET <prefix>/<path>`.
    var presignedRoutes: RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.get("**", .read, use: presignedDownload)
        return r
    }

    /// Direct multipart uploads: `POST <prefix>/{create,complete,abort}/<folder>`.
    var multipartRoutes: RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.post("create/**", .edit, scope: .artifactPath, use: createMultipart)
        r.post("complete/**", .edit, scope: .artifactPath, use: completeMultipart)
        r.post("abort/**", .edit, scope: .artifactPath, use: abortMultipart)
        return r
    }

    /// The artifact proxy: `GET|PUT|DELETE <prefix>/<path>`, and `GET <prefix>?path=dir` to list.
    var proxyRoutes: RouteCollection<EnsembleRequestContext> {
        let r = RouteCollection(context: EnsembleRequestContext.self)
        r.get("", .read, use: proxy)
        r.get("**", .read, use: proxy)
        r.put("**", .edit, scope: .artifactPath, use: proxy)
        r.delete("**", .manage, scope: .artifactPath, use: proxy)
        return r
    }
}
