import EnsembleCore
import Foundation
import Testing

@testable import EnsembleArtifacts

@Suite("Content store")
struct ContentStoreTests {
    func makeStore() throws -> ContentStore {
        try ContentStore(root: FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-cas-\(UUID().uuidString)").path)
    }

    func blobFiles(_ store: ContentStore) -> [String] {
        let e = FileManager.default.enumerator(atPath: store.root + "/sha256")
        var files: [String] = []
        while let p = e?.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: store.root + "/sha256/" + p, isDirectory: &isDir), !isDir.boolValue { files.append(p) }
        }
        return files
    }

    @Test("streaming file hashing matches the SHA-256 test vectors")
    func hashing() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hash-\(UUID().uuidString)").path
        try Data("abc".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try FileHashing.sha256(path: path) == ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", 3))
        try Data().write(to: URL(fileURLWithPath: path))
        #expect(try FileHashing.sha256(path: path).sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // Bigger than one read chunk: 3 MiB + 7 of one million 'a's repeated is checked against the in-memory hash.
        let big = [UInt8](repeating: 0x61, count: 3 * 1024 * 1024 + 7)
        try Data(big).write(to: URL(fileURLWithPath: path))
        var seen: Int64 = 0
        let (sha, size) = try FileHashing.sha256(path: path) { seen = $0 }
        #expect(size == Int64(big.count) && seen == size)
        let store = try makeStore()
        #expect(try store.put(big) == sha)
    }

    @Test("the same content twice is stored once; one changed byte is a second blob")
    func dedup() throws {
        let store = try makeStore()
        let bytes = [UInt8]("hello, dataset\n".utf8)
        let first = try store.put(bytes)
        let second = try store.put(bytes)
        #expect(first == second)
        #expect(blobFiles(store).count == 1)
        var changed = bytes
        changed[0] = UInt8(ascii: "H")
        let third = try store.put(changed)
        #expect(third != first)
        #expect(blobFiles(store).count == 2)
        #expect(try store.size(of: first) == Int64(bytes.count))
        #expect(try store.openForReading(first).readAll() == bytes)
    }

    @Test("content that does not match its announced SHA-256 is refused and leaves nothing behind")
    func verification() throws {
        let store = try makeStore()
        let upload = try store.beginWrite(String(repeating: "0", count: 64))
        try [UInt8]("not zero".utf8).withUnsafeBytes { try upload.append($0) }
        #expect(throws: EnsembleError.self) { try upload.commit() }
        #expect(blobFiles(store).isEmpty)
        #expect((try FileManager.default.contentsOfDirectory(atPath: store.root + "/tmp")).isEmpty)
        #expect(try store.size(of: String(repeating: "0", count: 64)) == nil)
        for bad in ["../../etc/passwd", "ABC", String(repeating: "g", count: 64), String(repeating: "A", count: 64)] {
            #expect(throws: EnsembleError.self) { try store.size(of: bad) }
            #expect(throws: EnsembleError.self) { try store.beginWrite(bad) }
        }
    }
}
