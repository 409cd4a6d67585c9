import EnsembleCore

/// A relative path inside the artifact root, checked to be safe: no `..`, no absolute paths, no
/// backslashes, `#` or NUL, not even after further rounds of percent-decoding.
///
/// - Important: This is the only way into ``LocalArtifactStore``; a path that is not an
///   `ArtifactPath` cannot be read or written.
public struct ArtifactPath: Sendable, Equatable, CustomStringConvertible {
    /// The path's segments, none empty, `.` or `..`.
    public let segments: [String]

    public var description: String { segments.joined(separator: "/") }
    public var isRoot: Bool { segments.isEmpty }

    /// The error MLflow gives for every unsafe artifact path.
    public static let invalid = EnsembleError.invalid("Invalid path")

    /// Validates an already percent-decoded path. Empty and `.` segments are dropped; an empty path
    /// is the root.
    public init(_ path: String) throws(EnsembleError) {
        guard Self.isSafe(path) else { throw Self.invalid }
        // Paths that still decode to something unsafe were encoded twice on purpose.
        var decoded = path
        for _ in 0..<3 {
            guard decoded.contains("%"), let next = PercentDecoding.decode(decoded), next != decoded else { break }
            guard Self.isSafe(next) else { throw Self.invalid }
            decoded = next
        }
        self.segments = path.split(separator: "/", omittingEmptySubsequences: true)
            .filter { $0 != "." }
            .map(String.init)
    }

    init(segments: [String]) {
        self.segments = segments
    }

    static func isSafe(_ path: String) -> Bool {
        if path.hasPrefix("/") || path.contains("\\") || path.contains("#") || path.utf8.contains(0) { return false }
        // Windows drive letters (`C:`) are absolute too.
        let u = Array(path.utf8)
        if u.count >= 2, u[1] == UInt8(ascii: ":"), (u[0] | 0x20) >= UInt8(ascii: "a"), (u[0] | 0x20) <= UInt8(ascii: "z") { return false }
        // A URI scheme (`file:`, `s3:`, `http:`) as the first segment names another store, never a path.
        if let colon = u.firstIndex(of: UInt8(ascii: ":")), !u[..<colon].contains(UInt8(ascii: "/")), colon > 0,
            u[..<colon].allSatisfy({ ($0 | 0x20) >= UInt8(ascii: "a") && ($0 | 0x20) <= UInt8(ascii: "z") || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }),
            colon + 1 == u.count || u[colon + 1] == UInt8(ascii: "/")
        {
            return false
        }
        for segment in path.split(separator: "/", omittingEmptySubsequences: false) where segment == ".." {
            return false
        }
        return true
    }

    /// This path followed by another.
    public func appending(_ other: ArtifactPath) -> ArtifactPath {
        ArtifactPath(segments: segments + other.segments)
    }

    /// The last segment, or "" for the root.
    public var name: String { segments.last ?? "" }
}

/// Strict percent-decoding: `nil` for malformed escapes or bytes that are not UTF-8.
public enum PercentDecoding {
    public static func decode(_ s: some StringProtocol) -> String? {
        let utf8 = Array(s.utf8)
        guard utf8.contains(UInt8(ascii: "%")) else { return String(s) }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var i = 0
        while i < utf8.count {
            let b = utf8[i]
            if b == UInt8(ascii: "%") {
                guard i + 2 < utf8.count, let hi = hex(utf8[i + 1]), let lo = hex(utf8[i + 2]) else { return nil }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(b)
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    /// Form-style decoding for query strings: `+` is a space.
    public static func decodeQueryComponent(_ s: some StringProtocol) -> String? {
        decode(s.replacingOccurrences(of: "+", with: " "))
    }

    static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
