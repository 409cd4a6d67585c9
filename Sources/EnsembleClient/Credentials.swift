import Foundation

/// API tokens the CLI keeps per server, in `$XDG_CONFIG_HOME/ensemble/credentials.json` (else
/// `~/.config/ensemble/credentials.json`), readable by the user only (mode 0600, folder 0700).
/// `ENSEMBLE_TOKEN` overrides the file.
public enum Credentials {
    public static func file(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.config")
        return base + "/ensemble/credentials.json"
    }

    /// The token to send to `server`: `ENSEMBLE_TOKEN`, else the saved one.
    public static func token(for server: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let t = environment["ENSEMBLE_TOKEN"], !t.isEmpty { return t }
        return load(environment: environment)[key(server)]
    }

    static func key(_ server: String) -> String {
        var s = server.lowercased()
        while s.hasSuffix("/") { s.removeLast() }
        return s
    }

    static func load(environment: [String: String]) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: file(environment: environment)),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: String]
        else { return [:] }
        return object
    }

    /// Saves (or with nil, forgets) the token for `server`; returns the file written.
    @discardableResult
    public static func save(_ token: String?, for server: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        let path = file(environment: environment)
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var all = load(environment: environment)
        all[key(server)] = token
        let data = try JSONSerialization.data(withJSONObject: all, options: [.sortedKeys, .prettyPrinted])
        // Written to a private temporary file and renamed, so the token is never readable by others.
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary])
        }
        _ = rename(temporary, path)
        return path
    }
}
