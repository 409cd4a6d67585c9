import AsyncHTTPClient
import EnsembleCore
import Foundation
import NIOCore
import NIOHTTP1

/// Where objects go: `s3://BUCKET/PREFIX`, and how to reach and sign for it (the standard
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` and
/// `AWS_ENDPOINT_URL` settings).
public struct S3Location: Sendable, Equatable {
    public var bucket: String
    /// Key prefix without leading or trailing `/` ("" for the bucket's root).
    public var prefix: String
    /// `scheme://host[:port]`; nil for AWS itself.
    public var endpoint: String?
    public var region: String
    public var accessKey: String
    public var secretKey: String
    public var sessionToken: String?

    /// Reads `s3://bucket/prefix` and the AWS settings from `environment`; throws a sentence saying what
    /// is missing.
    public init(url: String, environment: [String: String]) throws(EnsembleError) {
        guard url.hasPrefix("s3://") else { throw .invalid("'\(url)' is not an S3 location; write s3://BUCKET[/PREFIX].") }
        let rest = url.dropFirst("s3://".count)
        let bucket = String(rest.prefix { $0 != "/" })
        let bucketRule = bucket.count >= 3 && bucket.count <= 63
            && bucket.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") }
        guard bucketRule else {
            throw .invalid("'\(bucket)' is not a bucket name: 3 to 63 lower-case letters, digits, '-' and '.'.")
        }
        self.bucket = bucket
        prefix = rest.dropFirst(bucket.count).split(separator: "/").joined(separator: "/")
        guard let key = environment["AWS_ACCESS_KEY_ID"], !key.isEmpty, let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
            throw .invalid("S3 storage needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment.")
        }
        (accessKey, secretKey) = (key, secret)
        sessionToken = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
        if let endpoint = environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"], !endpoint.isEmpty {
            guard let parts = URLComponents(string: endpoint), ["http", "https"].contains(parts.scheme ?? ""), parts.host != nil else {
                throw .invalid("AWS_ENDPOINT_URL '\(endpoint)' is not an http(s) URL.")
            }
            self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        } else {
            endpoint = nil
        }
    }

    public var description: String { "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)") }

    /// The same bucket and settings with `folder` added to the prefix.
    public func appending(_ folder: String) -> S3Location {
        var copy = self
        copy.prefix = prefix.isEmpty ? folder : prefix + "/" + folder
        return copy
    }
}

/// The S3 operations Ensemble uses, over AsyncHTTPClient with SigV4 (``S3Signer``): objects are
/// streamed in both directions, large uploads go in parts, listings are paged. A custom endpoint
/// (MinIO, moto, Ceph…) is addressed path-style, AWS itself by virtual host.
public final class S3Client: Sendable {
    public let location: S3Location
    let http: HTTPClient
    let signer: S3Signer
    let base: String
    let host: String
    let pathStyle: Bool

    /// The HTTP client every bucket is reached with. Unlike `HTTPClient.shared` it does not retry a
    /// refused connection until the request's deadline (hours, for a download): a bucket that is
    /// down fails the request within the 10-second connect timeout, so the caller gets a 503 and
    /// readiness turns false at once. Never shut down: it lives as long as the process.
    public static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public init(location: S3Location, http: HTTPClient = S3Client.http) {
        self.location = location
        self.http = http
        signer = S3Signer(accessKey: location.accessKey, secretKey: location.secretKey, sessionToken: location.sessionToken, region: location.region)
        if let endpoint = location.endpoint {
            base = endpoint
            pathStyle = true
        } else {
            base = "https://\(location.bucket).s3.\(location.region).amazonaws.com"
            pathStyle = false
        }
        host = URLComponents(string: base).map { p in (p.host ?? "") + (p.port.map { ":\($0)" } ?? "") } ?? ""
    }

    /// The object key of a path under the location's prefix.
    public func key(_ path: String) -> String { location.prefix.isEmpty ? path : location.prefix + "/" + path }

    /// The URL path of an object key (or of the bucket, for nil).
    func urlPath(_ key: String?) -> String {
        let bucketPath = pathStyle ? "/" + location.bucket : ""
        guard let key else { return bucketPath + "/" }
        return bucketPath + "/" + key
    }

    public struct Failure: Error, CustomStringConvertible {
        public var status: Int
        public var code: String
        public var message: String
        public var description: String { "S3 answered \(status) \(code): \(message)" }
    }

    /// Sends one signed request; the caller reads (or drops) the body.
    func send(_ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [], body: HTTPClientRequest.Body? = nil,
              timeout: TimeAmount = .seconds(300)) async throws -> HTTPClientResponse
    {
        let path = urlPath(key)
        var request = HTTPClientRequest(
            url: base + S3Signer.encode(path, keepSlash: true) + (query.isEmpty ? "" : "?" + S3Signer.canonicalQuery(query)))
        request.method = method
        for (name, value) in headers + signer.sign(method: method.rawValue, host: host, path: path, query: query, headers: headers) {
            request.headers.add(name: name, value: value)
        }
        request.body = body
        return try await http.execute(request, timeout: timeout)
    }

    /// Throws the S3 error of a response that is not 2xx (its XML `<Code>` and `<Message>`).
    static func check(_ response: HTTPClientResponse, allowing: Set<Int> = []) async throws {
        let status = Int(response.status.code)
        guard !(200..<300).contains(status), !allowing.contains(status) else { return }
        let text = String(buffer: (try? await response.body.collect(upTo: 64 * 1024)) ?? ByteBuffer())
        throw Failure(status: status, code: XMLText.first("Code", in: text) ?? "", message: XMLText.first("Message", in: text) ?? text.prefix(200).description)
    }

    static func text(_ response: HTTPClientResponse) async throws -> String {
        String(buffer: try await response.body.collect(upTo: 16 * 1024 * 1024))
    }

    /// An object's size, or nil when there is no such object.
    public func head(_ key: String) async throws -> Int64? {
        let response = try await send(.HEAD, key: key)
        if response.status == .notFound { return nil }
        try await Self.check(response)
        return response.headers.first(name: "content-length").flatMap { Int64($0) } ?? 0
    }

    /// An object's size and streamed bytes, or nil when there is no such object.
    public func get(_ key: String) async throws -> (size: Int64, body: HTTPClientResponse.Body)? {
        let response = try await send(.GET, key: key, timeout: .hours(6))
        if response.status == .notFound { return nil }
        try await Self.check(response)
        return (response.headers.first(name: "content-length").flatMap { Int64($0) } ?? 0, response.body)
    }

    /// Stores `bytes` as one object.
    public func put(_ key: String, bytes: ByteBuffer) async throws {
        let response = try await send(.PUT, key: key, headers: [("content-length", String(bytes.readableBytes))], body: .bytes(bytes))
        try await Self.check(response)
        _ = try await Self.text(response)
    }

    public func delete(_ key: String) async throws {
        let response = try await send(.DELETE, key: key)
        try await Self.check(response, allowing: [404])
        _ = try await Self.text(response)
    }

    /// The objects and sub-prefixes directly under `prefix` (which ends with `/`, or is ""), all pages.
    public func list(prefix: String, delimiter: String? = "/") async throws -> (objects: [(key: String, size: Int64)], prefixes: [String]) {
        var objects: [(String, Int64)] = []
        var prefixes: [String] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix), ("encoding-type", "url")]
            if let delimiter { query.append(("delimiter", delimiter)) }
            if let token { query.append(("continuation-token", token)) }
            let response = try await send(.GET, key: nil, query: query)
            try await Self.check(response)
            let xml = try await Self.text(response)
            for block in XMLText.blocks("Contents", in: xml) {
                guard let key = XMLText.first("Key", in: block)?.removingPercentEncoding else { continue }
                objects.append((key, Int64(XMLText.first("Size", in: block) ?? "") ?? 0))
            }
            for block in XMLText.blocks("CommonPrefixes", in: xml) {
                if let p = XMLText.first("Prefix", in: block)?.removingPercentEncoding { prefixes.append(p) }
            }
            token = XMLText.first("IsTruncated", in: xml) == "true" ? XMLText.first("NextContinuationToken", in: xml) : nil
        } while token != nil
        return (objects, prefixes)
    }

    /// Whether any object's key starts with `prefix` (one short listing).
    public func list(prefix: String, maxKeys: Int) async throws -> [String] {
        let response = try await send(.GET, key: nil, query: [("list-type", "2"), ("prefix", prefix), ("max-keys", String(maxKeys)), ("encoding-type", "url")])
        try await Self.check(response)
        let xml = try await Self.text(response)
        return XMLText.blocks("Contents", in: xml).compactMap { XMLText.first("Key", in: $0)?.removingPercentEncoding }
    }

    /// Names of readiness probes: listings leave them out.
    static let probePrefix = ".~ensemble-"

    /// Writes, reads back and removes a small object under the prefix: the bucket is there, the
    /// credentials may write, and reads see what was written.
    public func checkWritable() async throws {
        let probe = key(Self.probePrefix + "ready-" + String(UInt64.random(in: 0...UInt64.max), radix: 36))
        try await put(probe, bytes: ByteBuffer(string: "ready"))
        let size = try await head(probe)
        try await delete(probe)
        guard size == 5 else { throw Failure(status: 500, code: "ProbeLost", message: "the bucket did not keep a probe object") }
    }

    /// Creates the bucket (tests and first-time setup); an existing bucket of ours is fine.
    public func createBucket() async throws {
        let response = try await send(.PUT, key: nil, headers: [("content-length", "0")])
        try await Self.check(response, allowing: [409])
        _ = try await Self.text(response)
    }

    // MARK: Multipart uploads

    public func createMultipartUpload(_ key: String) async throws -> String {
        let response = try await send(.POST, key: key, query: [("uploads", "")])
        try await Self.check(response)
        guard let id = XMLText.first("UploadId", in: try await Self.text(response)) else {
            throw Failure(status: 500, code: "NoUploadId", message: "the answer to CreateMultipartUpload had no UploadId")
        }
        return id
    }

    /// Uploads one part (1-based number) and returns its ETag.
    public func uploadPart(_ key: String, uploadID: String, number: Int, bytes: ByteBuffer) async throws -> String {
        let response = try await send(
            .PUT, key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)], headers: [("content-length", String(bytes.readableBytes))],
            body: .bytes(bytes))
        try await Self.check(response)
        _ = try await Self.text(response)
        guard let etag = response.headers.first(name: "etag") else {
            throw Failure(status: 500, code: "NoETag", message: "the answer to UploadPart had no ETag")
        }
        return etag
    }

    public func completeMultipartUpload(_ key: String, uploadID: String, parts: [(number: Int, etag: String)]) async throws {
        let xml = "<CompleteMultipartUpload>"
            + parts.map { "<Part><PartNumber>\($0.number)</PartNumber><ETag>\(XMLText.escape($0.etag))</ETag></Part>" }.joined()
            + "</CompleteMultipartUpload>"
        let body = ByteBuffer(string: xml)
        let response = try await send(
            .POST, key: key, query: [("uploadId", uploadID)], headers: [("content-length", String(body.readableBytes))], body: .bytes(body))
        try await Self.check(response)
        // S3 may answer 200 and still fail the completion, in the body.
        let text = try await Self.text(response)
        if text.contains("<Error>") {
            throw Failure(status: 500, code: XMLText.first("Code", in: text) ?? "", message: XMLText.first("Message", in: text) ?? "")
        }
    }

    /// The parts uploaded so far to a multipart upload: number, size and ETag, by number (every page).
    public func listParts(_ key: String, uploadID: String) async throws -> [(number: Int, size: Int64, etag: String)] {
        var parts: [(number: Int, size: Int64, etag: String)] = []
        var marker: String?
        repeat {
            var query = [("uploadId", uploadID), ("max-parts", "1000")]
            if let marker { query.append(("part-number-marker", marker)) }
            let response = try await send(.GET, key: key, query: query)
            try await Self.check(response)
            let text = try await Self.text(response)
            for block in XMLText.blocks("Part", in: text) {
                guard let number = XMLText.first("PartNumber", in: block).flatMap({ Int($0) }),
                    let size = XMLText.first("Size", in: block).flatMap({ Int64($0) })
                else { continue }
                parts.append((number, size, XMLText.first("ETag", in: block) ?? ""))
            }
            let more = XMLText.first("IsTruncated", in: text) == "true"
            let next = XMLText.first("NextPartNumberMarker", in: text)
            marker = more && next != nil && next != marker ? next : nil
        } while marker != nil
        return parts
    }

    public func abortMultipartUpload(_ key: String, uploadID: String) async throws {
        let response = try await send(.DELETE, key: key, query: [("uploadId", uploadID)])
        try await Self.check(response, allowing: [404])
        _ = try await Self.text(response)
    }

    /// Keys of the multipart uploads under the prefix that were begun and neither completed nor
    /// aborted (first page: up to 1,000).
    public func openUploads() async throws -> [String] {
        let response = try await send(.GET, key: nil, query: [("prefix", key("")), ("uploads", "")])
        try await Self.check(response)
        return XMLText.blocks("Upload", in: try await Self.text(response)).compactMap { XMLText.first("Key", in: $0) }
    }

    /// A URL that downloads the object without credentials until it expires.
    public func presignedGET(_ key: String, expires seconds: Int = 900) -> String {
        signer.presignedURL(base: base, host: host, path: urlPath(key), expires: seconds)
    }

    /// URLs that upload parts (1-based numbers) of a multipart upload without credentials until they
    /// expire: a PUT of a part's bytes, answered with the part's ETag.
    public func presignedUploadParts(_ key: String, uploadID: String, numbers: ClosedRange<Int>, expires seconds: Int) -> [String] {
        signer.presignedURLs(
            method: "PUT", base: base, host: host, path: urlPath(key), queries: numbers.map { [("partNumber", String($0)), ("uploadId", uploadID)] },
            expires: seconds)
    }
}

/// The little XML S3 answers with: text of the first `<Tag>`, and the inside of each `<Tag>…</Tag>`.
enum XMLText {
    static func blocks(_ tag: String, in xml: String) -> [Substring] {
        var out: [Substring] = []
        var rest = xml[...]
        while let open = rest.range(of: "<\(tag)>"), let close = rest.range(of: "</\(tag)>", range: open.upperBound..<rest.endIndex) {
            out.append(rest[open.upperBound..<close.lowerBound])
            rest = rest[close.upperBound...]
        }
        return out
    }

    static func first(_ tag: String, in xml: some StringProtocol) -> String? {
        guard let open = xml.range(of: "<\(tag)>"), let close = xml.range(of: "</\(tag)>", range: open.upperBound..<xml.endIndex) else { return nil }
        return unescape(String(xml[open.upperBound..<close.lowerBound]))
    }

    static func unescape(_ s: String) -> String {
        guard s.contains("&") else { return s }
        return s.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&#34;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
