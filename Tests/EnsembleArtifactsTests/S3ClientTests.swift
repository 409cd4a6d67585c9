import AsyncHTTPClient
import EnsembleCore
import Foundation
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import EnsembleArtifacts

@Suite("S3: SigV4 against AWS's published examples")
struct S3SignerTests {
    @Test("the SigV4 test suite's get-vanilla request")
    func getVanilla() {
        let signer = S3Signer(accessKey: "AKIDEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", region: "us-east-1", service: "service")
        let (signature, signed) = signer.signature(
            method: "GET", path: "/", query: [], headers: [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")],
            payloadHash: S3Signer.sha256Hex(Data()), time: "20150830T123600Z", day: "20150830")
        #expect(signed == "host;x-amz-date")
        #expect(signature == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test("S3's presigned GET example (examplebucket/test.txt, 24 hours)")
    func presigned() {
        let signer = S3Signer(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
        let date = ISO8601DateFormatter().date(from: "2013-05-24T00:00:00Z")!
        let url = signer.presignedURL(base: "https://examplebucket.s3.amazonaws.com", host: "examplebucket.s3.amazonaws.com", path: "/test.txt", expires: 86400, date: date)
        #expect(url.hasSuffix("&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"))
        #expect(url.contains("X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"))
    }

    @Test("percent-encoding keeps unreserved characters and slashes in paths, and encodes the rest as UTF-8")
    func encoding() {
        #expect(S3Signer.encode("a b/ü+~._-", keepSlash: true) == "a%20b/%C3%BC%2B~._-")
        #expect(S3Signer.encode("a/b", keepSlash: false) == "a%2Fb")
    }

    @Test("locations: bucket rules, prefixes, the AWS settings and what is missing")
    func locations() throws {
        let env = ["AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_ENDPOINT_URL": "http://127.0.0.1:9000/"]
        let l = try S3Location(url: "s3://my-bucket/team/artifacts/", environment: env)
        #expect(l.bucket == "my-bucket" && l.prefix == "team/artifacts" && l.endpoint == "http://127.0.0.1:9000" && l.region == "us-east-1")
        #expect(throws: EnsembleError.self) { try S3Location(url: "s3://Bad_Bucket", environment: env) }
        #expect(throws: EnsembleError.self) { try S3Location(url: "s3://ok-bucket", environment: [:]) }
        #expect(throws: EnsembleError.self) { try S3Location(url: "http://x", environment: env) }
    }
}

/// moto's S3 server (`moto_server`, from the test virtualenv scripts/test creates), on a free port,
/// started once per test process and stopped at exit.
enum MotoServer {
    static let endpoint: Result<String, any Error> = Result { try start() }
    nonisolated(unsafe) static var process: Process?

    static func start() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let binary = ProcessInfo.processInfo.environment["MOTO_SERVER"] ?? root.appendingPathComponent(".venv/bin/moto_server").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw EnsembleError(.internalError, "moto_server not found at \(binary): run scripts/test (it installs moto[server] into .venv), or set MOTO_SERVER.")
        }
        let socket = try? FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/null"))
        let port = Int.random(in: 20_000...60_000)
        // A shell watches this test process and stops moto when it is gone: the test runner may exit
        // without running atexit handlers, and moto must not outlive it.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = [
            "-c", "\"$0\" -H 127.0.0.1 -p \"$1\" & m=$!; while kill -0 \"$2\" 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 1; done; kill -9 $m 2>/dev/null",
            binary, String(port), String(getpid()),
        ]
        p.standardOutput = socket
        p.standardError = socket
        try p.run()
        process = p
        let url = "http://127.0.0.1:\(port)"
        for _ in 0..<300 {
            if listening(port) { return url }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw EnsembleError(.internalError, "moto_server did not answer on \(url)")
    }

    /// Whether something accepts TCP connections on the loopback port.
    static func listening(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func client(prefix: String = "ensemble/artifacts") throws -> S3Client {
        let env = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": try endpoint.get()]
        let bucket = "b-" + UUID().uuidString.lowercased().prefix(12)
        return S3Client(location: try S3Location(url: "s3://\(bucket)/\(prefix)", environment: env))
    }
}

@Suite("S3 client against moto's S3 server")
struct S3ClientTests {
    @Test("objects: put, head, get back byte for byte, list folders page by page, delete; unicode and spaces in keys")
    func objects() async throws {
        let s3 = try MotoServer.client()
        try await s3.createBucket()
        let bytes = ByteBuffer(bytes: (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let names = ["model/weights.bin", "model/MLmodel", "plots/ü ber+plot.png", "notes.txt"]
        for name in names { try await s3.put(s3.key(name), bytes: bytes) }
        #expect(try await s3.head(s3.key("model/weights.bin")) == 100_000)
        #expect(try await s3.head(s3.key("nope")) == nil)
        let (size, body) = try #require(try await s3.get(s3.key("plots/ü ber+plot.png")))
        #expect(size == 100_000)
        #expect(try await body.collect(upTo: 1 << 20) == bytes)
        #expect(try await s3.get(s3.key("missing")) == nil)
        let top = try await s3.list(prefix: s3.key(""))
        #expect(top.objects.map(\.key) == [s3.key("notes.txt")])
        #expect(top.prefixes.sorted() == [s3.key("model/"), s3.key("plots/")])
        let plots = try await s3.list(prefix: s3.key("plots/"))
        #expect(plots.objects.map(\.key) == [s3.key("plots/ü ber+plot.png")] && plots.objects[0].size == 100_000)
        try await s3.delete(s3.key("notes.txt"))
        try await s3.delete(s3.key("notes.txt"))  // deleting what is gone is fine
        #expect(try await s3.head(s3.key("notes.txt")) == nil)
    }

    @Test("a multipart upload of three parts reads back whole; an aborted one leaves nothing")
    func multipart() async throws {
        let s3 = try MotoServer.client()
        try await s3.createBucket()
        let key = s3.key("big/model.bin")
        let id = try await s3.createMultipartUpload(key)
        var parts: [(Int, String)] = []
        var all: [UInt8] = []
        for n in 1...3 {
            let part = (0..<(n < 3 ? 5 * 1024 * 1024 : 123_457)).map { UInt8(truncatingIfNeeded: $0 &+ n) }
            all += part
            parts.append((n, try await s3.uploadPart(key, uploadID: id, number: n, bytes: ByteBuffer(bytes: part))))
        }
        try await s3.completeMultipartUpload(key, uploadID: id, parts: parts)
        let (size, body) = try #require(try await s3.get(key))
        #expect(size == Int64(all.count))
        #expect(Array(buffer: try await body.collect(upTo: 64 << 20)) == all)

        let abandoned = s3.key("big/abandoned.bin")
        let other = try await s3.createMultipartUpload(abandoned)
        _ = try await s3.uploadPart(abandoned, uploadID: other, number: 1, bytes: ByteBuffer(bytes: [1, 2, 3]))
        try await s3.abortMultipartUpload(abandoned, uploadID: other)
        #expect(try await s3.head(abandoned) == nil)
    }

    @Test("a presigned URL downloads without credentials; wrong credentials are refused with S3's error")
    func presignedAndErrors() async throws {
        let s3 = try MotoServer.client(prefix: "")
        try await s3.createBucket()
        try await s3.put(s3.key("a.txt"), bytes: ByteBuffer(string: "hello"))
        let url = s3.presignedGET(s3.key("a.txt"), expires: 60)
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        #expect(response.status == .ok)
        #expect(String(buffer: try await response.body.collect(upTo: 1024)) == "hello")
        // A bucket that does not exist: S3's own code comes back.
        let env = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": try MotoServer.endpoint.get()]
        let missing = S3Client(location: try S3Location(url: "s3://no-such-bucket-here", environment: env))
        await #expect(throws: S3Client.Failure.self) { try await missing.put("x", bytes: ByteBuffer(string: "x")) }
    }
}

@Suite("File storage failures as answers")
struct StorageFailureTests {
    @Test("an S3 refusal is a 503 with S3's status and code; S3's own text, which may name a key, stays in the server's log")
    func s3Refusal() throws {
        let refused = S3Client.Failure(status: 403, code: "AccessDenied", message: "Access denied to team/artifacts/7/secret-model.bin")
        let e = try #require(storageFailure(refused) as? EnsembleError)
        #expect(e.code == .temporarilyUnavailable)
        #expect(e.message.contains("S3 answered 403 AccessDenied"))
        #expect(!e.message.contains("secret-model"))
    }

    @Test("a network failure does not name the endpoint; our own errors and cancellation pass through as they are")
    func networkAndOwnErrors() throws {
        struct Unreachable: Error, CustomStringConvertible {
            var description: String { "connection refused by minio.internal:9000" }
        }
        let e = try #require(storageFailure(Unreachable()) as? EnsembleError)
        #expect(e.code == .temporarilyUnavailable && e.message.contains("could not be reached"))
        #expect(!e.message.contains("minio.internal") && !e.message.contains("9000"))
        let own = try #require(storageFailure(EnsembleError.notFound("No such artifact: 'a.txt'")) as? EnsembleError)
        #expect(own.code == .resourceDoesNotExist && own.message == "No such artifact: 'a.txt'")
        #expect(storageFailure(CancellationError()) is CancellationError)
    }
}
