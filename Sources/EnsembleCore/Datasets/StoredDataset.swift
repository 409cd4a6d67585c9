import Crypto

/// One file of a stored dataset version: where it sits in the dataset, how big it is, and the
/// SHA-256 of its content, which is also the name its bytes are stored under (once, however many
/// versions and datasets contain them).
public struct DatasetFile: Sendable, Equatable, Hashable {
    /// Relative POSIX path inside the dataset, e.g. `train/part-0001.csv`.
    public var path: String
    public var size: Int64
    /// Lower-case hex SHA-256 of the content.
    public var sha256: String

    public init(path: String, size: Int64, sha256: String) {
        self.path = path
        self.size = size
        self.sha256 = sha256
    }
}

/// A content-addressed dataset version kept by Ensemble itself (`ensemble dataset add`): an
/// immutable file manifest with a number per dataset name and a digest over the manifest.
///
/// Two versions with the same files (same paths, same bytes) have the same digest, so adding an
/// unchanged folder again creates nothing; one changed byte changes a file's SHA-256 and therefore
/// the digest, and makes a new version.
public struct StoredDatasetVersion: Sendable, Equatable {
    public var name: String
    /// 1, 2, 3… per name, never reused.
    public var version: Int64
    /// ``DatasetManifest/digest(of:)`` of the files.
    public var digest: String
    public var description: String?
    public var fileCount: Int64
    public var totalSize: Int64
    public var createdAt: Int64
    public var createdBy: String?
    /// Sorted by path; empty in listings that leave the manifest out.
    public var files: [DatasetFile]

    public init(
        name: String, version: Int64, digest: String, description: String?, fileCount: Int64, totalSize: Int64,
        createdAt: Int64, createdBy: String?, files: [DatasetFile]
    ) {
        self.name = name
        self.version = version
        self.digest = digest
        self.description = description
        self.fileCount = fileCount
        self.totalSize = totalSize
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.files = files
    }

    /// The digest to give MLflow when a run logs this version as an input (MLflow caps dataset
    /// digests at 36 characters): the first 32 hex digits of ``digest``. Lineage joins on it.
    public var mlflowDigest: String { String(digest.prefix(32)) }

    /// `NAME@VERSION`, the form the CLI takes.
    public var reference: String { "\(name)@\(version)" }
}

/// The rules for dataset names and manifests, and the manifest digest.
public enum DatasetManifest {
    /// Most files one version may hold.
    public static let maxFiles = 1_000_000
    public static let maxPathLength = 1024

    /// Dataset names: 1–200 characters of letters, digits, `_`, `-`, `.` and `/`-free; not starting
    /// with a dot. `@` separates a name from a version on the command line, so it is not allowed.
    public static func validateName(_ name: String) throws(EnsembleError) {
        guard !name.isEmpty else { throw .invalid("A dataset name must not be empty.") }
        guard name.utf8.count <= 200 else { throw .invalid("The dataset name is longer than 200 bytes.") }
        guard !name.hasPrefix(".") else { throw .invalid("A dataset name must not start with a dot: '\(name)'.") }
        for scalar in name.unicodeScalars {
            let ok = (scalar.properties.isAlphabetic || scalar.properties.numericType != nil || scalar == "_" || scalar == "-" || scalar == ".")
            guard ok else {
                throw .invalid("Invalid dataset name '\(name)': use letters, digits, '_', '-' and '.' only (no '\(scalar)').")
            }
        }
    }

    /// Whether `s` is 64 lower-case hex digits.
    public static func isSHA256(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// Checks one manifest path: relative, `/`-separated, no empty, `.` or `..` segments, no
    /// backslashes, control characters or NUL — a path that cannot leave the folder it is restored into.
    public static func validatePath(_ path: String) throws(EnsembleError) {
        guard !path.isEmpty else { throw .invalid("A dataset file path must not be empty.") }
        guard path.utf8.count <= maxPathLength else { throw .invalid("The dataset file path '\(path.prefix(80))…' is longer than \(maxPathLength) bytes.") }
        guard !path.hasPrefix("/") else { throw .invalid("Dataset file paths are relative; '\(path)' starts with '/'.") }
        for scalar in path.unicodeScalars where scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\\" {
            throw .invalid("The dataset file path '\(path.debugDescription)' contains a control character or a backslash.")
        }
        for segment in path.split(separator: "/", omittingEmptySubsequences: false) {
            if segment.isEmpty || segment == "." || segment == ".." {
                throw .invalid("The dataset file path '\(path)' has an empty, '.' or '..' segment; paths must stay inside the dataset.")
            }
        }
    }

    /// Validates a manifest and returns it sorted by path. Refuses duplicate paths and a path that is
    /// both a file and a folder (`a` and `a/b`), which could not be restored.
    public static func normalized(_ files: [DatasetFile]) throws(EnsembleError) -> [DatasetFile] {
        guard !files.isEmpty else { throw .invalid("A dataset version needs at least one file.") }
        guard files.count <= maxFiles else { throw .invalid("A dataset version holds at most \(maxFiles) files; got \(files.count).") }
        for f in files {
            try validatePath(f.path)
            guard f.size >= 0 else { throw .invalid("The size of '\(f.path)' must not be negative.") }
            guard isSHA256(f.sha256) else { throw .invalid("The sha256 of '\(f.path)' must be 64 lower-case hex digits.") }
        }
        let sorted = files.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        for (a, b) in zip(sorted, sorted.dropFirst()) {
            if a.path == b.path { throw .invalid("The path '\(a.path)' appears twice in the manifest.") }
            if b.path.hasPrefix(a.path + "/") {
                throw .invalid("'\(a.path)' is a file, so '\(b.path)' cannot be inside it.")
            }
        }
        // A folder prefix can also sort after an unrelated sibling ("a-b" < "a/b"), so check sets too.
        var filePaths = Set<String>()
        for f in sorted { filePaths.insert(f.path) }
        for f in sorted {
            var prefix = f.path[...]
            while let slash = prefix.lastIndex(of: "/") {
                prefix = prefix[..<slash]
                if filePaths.contains(String(prefix)) {
                    throw .invalid("'\(prefix)' is a file, so '\(f.path)' cannot be inside it.")
                }
            }
        }
        return sorted
    }

    /// The manifest digest: SHA-256 over one line per file, in path order, `sha256 SP size SP path LF`.
    /// Paths cannot contain a line feed, so the text is unambiguous.
    public static func digest(of sortedFiles: [DatasetFile]) -> String {
        var hasher = SHA256()
        for f in sortedFiles {
            hasher.update(data: Array("\(f.sha256) \(f.size) \(f.path)\n".utf8))
        }
        return hex(hasher.finalize())
    }

    public static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses `NAME`, `NAME@VERSION` or `NAME@latest`; a missing version means the latest.
    public static func parseReference(_ reference: String) throws(EnsembleError) -> (name: String, version: Int64?) {
        guard let at = reference.lastIndex(of: "@") else {
            try validateName(reference)
            return (reference, nil)
        }
        let name = String(reference[..<at])
        let raw = reference[reference.index(after: at)...]
        try validateName(name)
        if raw == "latest" { return (name, nil) }
        guard let version = Int64(raw), version > 0 else {
            throw .invalid("'\(reference)' is not NAME@VERSION: the version must be a positive number or 'latest'.")
        }
        return (name, version)
    }
}

/// Summary of a stored dataset name.
public struct StoredDatasetSummary: Sendable, Equatable {
    public var name: String
    public var versions: Int64
    public var latest: Int64
    public var updatedAt: Int64

    public init(name: String, versions: Int64, latest: Int64, updatedAt: Int64) {
        self.name = name
        self.versions = versions
        self.latest = latest
        self.updatedAt = updatedAt
    }
}

/// Persistence of stored dataset versions (the file bytes live in the content store, not here).
public protocol StoredDatasetStore: Sendable {
    /// Records a version with these files unless the latest version of `name` has exactly the same
    /// manifest, in which case that version is returned with `created == false`.
    func addDatasetVersion(name: String, files: [DatasetFile], description: String?, createdBy: String?) async throws
        -> (version: StoredDatasetVersion, created: Bool)
    /// One version with its manifest; `version == nil` means the latest.
    func storedDatasetVersion(name: String, version: Int64?) async throws -> StoredDatasetVersion
    /// The versions of one name, newest first, without manifests.
    func storedDatasetVersions(name: String) async throws -> [StoredDatasetVersion]
    /// Every stored dataset name.
    func storedDatasets() async throws -> [StoredDatasetSummary]
    /// The oldest stored version of `name` whose digest, or whose ``StoredDatasetVersion/mlflowDigest``,
    /// is `digest`, if any (lineage joins logged inputs to stored versions on it).
    func storedDatasetVersion(name: String, digest: String) async throws -> StoredDatasetVersion?
}
