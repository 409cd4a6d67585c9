import Testing

@testable import EnsembleCore

@Suite("Stored dataset manifests")
struct StoredDatasetTests {
    static let a = String(repeating: "a", count: 64)
    static let b = String(repeating: "b", count: 64)

    @Test("the digest ignores the order files are listed in, and changes with any byte of content")
    func digest() throws {
        let one = try DatasetManifest.normalized([DatasetFile(path: "x/b.csv", size: 3, sha256: Self.a), DatasetFile(path: "a.csv", size: 4, sha256: Self.b)])
        let two = try DatasetManifest.normalized([DatasetFile(path: "a.csv", size: 4, sha256: Self.b), DatasetFile(path: "x/b.csv", size: 3, sha256: Self.a)])
        #expect(one.map(\.path) == ["a.csv", "x/b.csv"])
        #expect(DatasetManifest.digest(of: one) == DatasetManifest.digest(of: two))
        let changed = try DatasetManifest.normalized([DatasetFile(path: "a.csv", size: 4, sha256: Self.a), DatasetFile(path: "x/b.csv", size: 3, sha256: Self.a)])
        #expect(DatasetManifest.digest(of: changed) != DatasetManifest.digest(of: one))
        let renamed = try DatasetManifest.normalized([DatasetFile(path: "c.csv", size: 4, sha256: Self.b), DatasetFile(path: "x/b.csv", size: 3, sha256: Self.a)])
        #expect(DatasetManifest.digest(of: renamed) != DatasetManifest.digest(of: one))
        #expect(DatasetManifest.isSHA256(DatasetManifest.digest(of: one)))
    }

    @Test("the digest is SHA-256 over 'sha size path' lines")
    func digestFormat() throws {
        // sha256("abc") is the FIPS 180-2 test vector; here the line text is hashed the same way.
        let files = [DatasetFile(path: "f", size: 0, sha256: Self.a)]
        let expected = DatasetManifest.digest(of: files)
        #expect(expected.count == 64)
        #expect(expected != DatasetManifest.digest(of: [DatasetFile(path: "f", size: 1, sha256: Self.a)]))
    }

    @Test(
        "paths that could leave the restore folder are refused",
        arguments: ["", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", ".", "..", "a\\b", "..\\x", "a\u{0}b", "line\nbreak", "tab\tname"]
    )
    func badPaths(path: String) {
        #expect(throws: EnsembleError.self) {
            try DatasetManifest.normalized([DatasetFile(path: path, size: 1, sha256: Self.a)])
        }
    }

    @Test("duplicates, file-and-folder clashes, bad hashes and sizes are refused")
    func badManifests() {
        let cases: [[DatasetFile]] = [
            [],
            [DatasetFile(path: "a", size: 1, sha256: Self.a), DatasetFile(path: "a", size: 1, sha256: Self.b)],
            [DatasetFile(path: "a", size: 1, sha256: Self.a), DatasetFile(path: "a/b", size: 1, sha256: Self.b)],
            [DatasetFile(path: "a", size: 1, sha256: Self.a), DatasetFile(path: "a-b", size: 1, sha256: Self.a), DatasetFile(path: "a/c/d", size: 1, sha256: Self.b)],
            [DatasetFile(path: "a", size: 1, sha256: String(repeating: "A", count: 64))],
            [DatasetFile(path: "a", size: 1, sha256: "abc")],
            [DatasetFile(path: "a", size: -1, sha256: Self.a)],
        ]
        for files in cases {
            #expect(throws: EnsembleError.self, "\(files.map(\.path))") { try DatasetManifest.normalized(files) }
        }
        #expect(throws: Never.self) { try DatasetManifest.normalized([DatasetFile(path: "ü ñ/données 1.csv", size: 0, sha256: Self.a)]) }
    }

    @Test("names and NAME@VERSION references")
    func references() throws {
        #expect(try DatasetManifest.parseReference("iris") == ("iris", nil))
        #expect(try DatasetManifest.parseReference("iris@3") == ("iris", 3))
        #expect(try DatasetManifest.parseReference("iris.v2_x-y@latest") == ("iris.v2_x-y", nil))
        for bad in ["", "@3", "iris@0", "iris@-1", "iris@x", "a/b@1", "../x", ".hidden", "a b", "x@1@2", "semi;colon"] {
            #expect(throws: EnsembleError.self, "\(bad)") { try DatasetManifest.parseReference(bad) }
        }
    }
}
