import EnsembleCore
import Foundation
import Testing

@testable import EnsembleArtifacts

func makeTempDir(_ label: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-\(label)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

@Suite("Artifact paths")
struct ArtifactPathTests {
    @Test("safe paths are normalised", arguments: [
        ("a/b.txt", ["a", "b.txt"]), ("a//b", ["a", "b"]), ("./a/./b", ["a", "b"]), ("", []), ("a/", ["a"]),
        ("..a/b..", ["..a", "b.."]), ("%41", ["%41"]), ("a/file:/b", ["a", "file:", "b"]), ("12:30.txt", ["12:30.txt"]),
    ])
    func safe(path: String, segments: [String]) throws {
        #expect(try ArtifactPath(path).segments == segments)
    }

    @Test("unsafe paths are refused with 'Invalid path'", arguments: [
        "../etc/passwd", "a/../../b", "a/..", "..", "/etc/passwd", "//proc/self/root", "a\\..\\b", "..\\x", "C:/Windows",
        "c:\\x", "a#b", "a\u{0}b", "%2e%2e/x", "%2e%2e%2fx", "a/%2E%2E", "%252e%252e%252f", "%25252e%25252e/x", "%2Fetc%2Fpasswd",
        "%00", "%5c..%5cx", "file:///etc/passwd", "file:", "s3://bucket/x", "file%3A%2F%2F%2Fetc%2Fpasswd", "mlflow-artifacts:/0/x",
    ])
    func unsafe(path: String) {
        #expect(throws: ArtifactPath.invalid) { try ArtifactPath(path) }
    }
}

@Suite("Local artifact store")
struct LocalArtifactStoreTests {
    @Test("write, list, read back and delete")
    func roundTrip() throws {
        let store = try LocalArtifactStore(root: try makeTempDir("art"))
        let bytes = (0..<100_000).map { UInt8($0 % 251) }
        try store.write(try ArtifactPath("run/artifacts/dir/data.bin"), bytes: bytes)
        try store.write(try ArtifactPath("run/artifacts/a.txt"), bytes: Array("hello".utf8))
        let listing = try store.list(try ArtifactPath("run/artifacts"))
        #expect(listing == [
            ArtifactFileInfo(name: "a.txt", isDirectory: false, size: 5),
            ArtifactFileInfo(name: "dir", isDirectory: true, size: nil),
        ])
        #expect(try store.openForReading(try ArtifactPath("run/artifacts/dir/data.bin")).readAll() == bytes)
        #expect(try store.list(try ArtifactPath("missing")) == nil)
        try store.delete(try ArtifactPath("run/artifacts/dir"))
        #expect(try store.list(try ArtifactPath("run/artifacts"))?.map(\.name) == ["a.txt"])
    }

    @Test("missing files are RESOURCE_DOES_NOT_EXIST; folders cannot be downloaded")
    func missing() throws {
        let store = try LocalArtifactStore(root: try makeTempDir("art"))
        try store.write(try ArtifactPath("d/f"), bytes: [1])
        #expect(throws: EnsembleError.self) { try store.openForReading(try ArtifactPath("d/nope")) }
        do {
            _ = try store.openForReading(try ArtifactPath("d/nope"))
        } catch {
            #expect(error.code == .resourceDoesNotExist)
        }
        do {
            _ = try store.openForReading(try ArtifactPath("d"))
        } catch {
            #expect(error.code == .invalidParameterValue)
        }
    }

    @Test("an aborted upload leaves no file and no temporary behind")
    func abortedUpload() throws {
        let root = try makeTempDir("art")
        let store = try LocalArtifactStore(root: root)
        let upload = try store.beginUpload(try ArtifactPath("x/half.bin"))
        try [UInt8](repeating: 7, count: 1000).withUnsafeBytes { try upload.append($0) }
        #expect(!store.fileExists(try ArtifactPath("x/half.bin")))
        upload.abort()
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/x").isEmpty)
    }

    @Test("an upload replaces an existing file only when committed")
    func replace() throws {
        let store = try LocalArtifactStore(root: try makeTempDir("art"))
        let path = try ArtifactPath("f.txt")
        try store.write(path, bytes: Array("old".utf8))
        let upload = try store.beginUpload(path)
        try Array("new".utf8).withUnsafeBytes { try upload.append($0) }
        #expect(try store.openForReading(path).readAll() == Array("old".utf8))
        try upload.commit()
        #expect(try store.openForReading(path).readAll() == Array("new".utf8))
    }

    @Test("symbolic links inside the root are never followed")
    func symlinks() throws {
        let outside = try makeTempDir("outside")
        try "secret".write(toFile: outside + "/secret.txt", atomically: true, encoding: .utf8)
        let root = try makeTempDir("art")
        let store = try LocalArtifactStore(root: root)
        try FileManager.default.createSymbolicLink(atPath: root + "/evil", withDestinationPath: outside)
        try FileManager.default.createSymbolicLink(atPath: root + "/file-link", withDestinationPath: outside + "/secret.txt")
        #expect(throws: EnsembleError.self) { try store.openForReading(try ArtifactPath("evil/secret.txt")) }
        #expect(throws: EnsembleError.self) { try store.openForReading(try ArtifactPath("file-link")) }
        #expect(throws: EnsembleError.self) { try store.write(try ArtifactPath("evil/new.txt"), bytes: [1]) }
        #expect(throws: EnsembleError.self) { try store.list(try ArtifactPath("evil")) }
        #expect(throws: EnsembleError.self) { try store.delete(try ArtifactPath("evil/secret.txt")) }
        // The link itself is hidden from listings, and the outside folder is untouched.
        #expect(try store.list(ArtifactPath("")) == [])
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside) == ["secret.txt"])
        #expect(try String(contentsOfFile: outside + "/secret.txt", encoding: .utf8) == "secret")
    }
}
