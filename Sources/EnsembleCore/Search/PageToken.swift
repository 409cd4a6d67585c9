import Foundation

/// Opaque page tokens: base64 of `{"offset": N}`, the same shape the MLflow server uses, so a token
/// from either server reads the same way. Tokens are checked strictly: anything a client did not get
/// from us is a 400, never a crash or a huge scan.
public enum PageToken {
    /// Tokens longer than this cannot be ours.
    static let maxLength = 256
    /// Offsets past this are refused; no listing is that long.
    static let maxOffset = 1_000_000_000

    public static func encode(offset: Int) -> String {
        Data("{\"offset\": \(offset)}".utf8).base64EncodedString()
    }

    /// The offset a token stands for; `nil` or empty means the first page.
    public static func decode(_ token: String?) throws(EnsembleError) -> Int {
        guard let token, !token.isEmpty else { return 0 }
        let bad = EnsembleError.invalid("Invalid page token, could not base64-decode or parse it. Pass back the next_page_token of the previous answer unchanged, or omit it to start over.")
        guard token.utf8.count <= maxLength, let data = Data(base64Encoded: token),
            let text = String(data: data, encoding: .utf8)
        else { throw bad }
        // Expect exactly {"offset": <non-negative integer>} with optional spaces.
        var s = Substring(text).trimmingCharacters(in: .whitespaces)[...]
        guard s.hasPrefix("{"), s.hasSuffix("}") else { throw bad }
        s = s.dropFirst().dropLast()
        let parts = s.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == "\"offset\"" else { throw bad }
        let number = parts[1].trimmingCharacters(in: .whitespaces)
        guard !number.isEmpty, number.count <= 10, number.allSatisfy({ $0.isASCII && $0.isNumber }),
            let offset = Int(number), offset <= maxOffset
        else { throw bad }
        return offset
    }

    /// Page bookkeeping shared by every listing: given that `fetched` rows were read with a limit of
    /// `limit + 1` at `offset`, says which to keep and what the next token is.
    public static func page<T>(_ fetched: [T], offset: Int, limit: Int) -> Page<T> {
        if fetched.count > limit {
            return Page(items: Array(fetched.prefix(limit)), nextPageToken: encode(offset: offset + limit))
        }
        return Page(items: fetched, nextPageToken: nil)
    }
}
