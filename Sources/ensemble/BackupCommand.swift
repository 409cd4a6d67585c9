import ArgumentParser
import EnsembleClient
import EnsembleCore
import EnsembleServer
import EnsembleStore
import Foundation

/// `ensemble backup DEST`: a copy of the embedded store (database, artifacts, dataset blobs) taken
/// while the server runs, that `ensemble serve --data DEST` serves as it was.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the embedded store (SQLite database, artifacts, dataset blobs) into a new folder, safely while the server runs.",
        discussion: """
            The database is copied first, from one read snapshot with SQLite's backup API, and checked with SQLite's
            integrity check; then the artifact and blob folders. Everything the copied database refers to was written
            before the snapshot, so it is in the copy; files written later may be too, and do no harm. BACKUP.json in
            the folder records when, from where, and the row count of every table.

            Restore: stop the server and serve the backup folder (ensemble serve --data DEST), or move it into the old
            folder's place. See docs/DEPLOYMENT.md.

            Example: ensemble backup /backups/ensemble-$(date +%F) --data /srv/ensemble-data
            """
    )

    @Argument(help: "A new folder to copy into (it must not exist, or be empty).") var destination: String
    @Option(name: .customLong("data"), help: "The server's data folder. (env: ENSEMBLE_DATA; default: ./ensemble-data)") var dataDirectory: String?
    @Flag(help: "Print the summary as JSON.") var json = false
    @Flag(help: "No progress display.") var quiet = false

    func run() throws {
        let data = dataDirectory ?? ProcessInfo.processInfo.environment["ENSEMBLE_DATA"] ?? "./ensemble-data"
        let fm = FileManager.default
        var isFolder: ObjCBool = false
        guard fm.fileExists(atPath: data + "/ensemble.sqlite") else {
            throw usage("'\(data)' holds no ensemble.sqlite. Give the server's data folder with --data (or ENSEMBLE_DATA).")
        }
        if fm.fileExists(atPath: destination, isDirectory: &isFolder) {
            guard isFolder.boolValue, (try? fm.contentsOfDirectory(atPath: destination))?.isEmpty == true else {
                throw usage("'\(destination)' already exists and is not an empty folder; back up into a new folder.")
            }
        }
        let source = URL(fileURLWithPath: data).standardizedFileURL.path, target = URL(fileURLWithPath: destination).standardizedFileURL.path
        guard !(target + "/").hasPrefix(source + "/") else { throw usage("The backup folder cannot be inside the data folder '\(data)'.") }
        do {
            try fm.createDirectory(atPath: destination, withIntermediateDirectories: true)
        } catch {
            throw CLIFailure(message: "Cannot create '\(destination)': \(error.localizedDescription)")
        }
        let started = Date()

        // 1. The database, from one snapshot; renamed into place only once it checked out.
        let partial = destination + "/ensemble.sqlite.partial"
        let summary: SQLiteBackup.Summary
        do {
            summary = try SQLiteBackup.copy(from: data + "/ensemble.sqlite", to: partial)
        } catch let error as EnsembleError {
            throw CLIFailure(message: error.message)
        }
        guard summary.integrity == "ok" else {
            throw CLIFailure(message: "The copy failed SQLite's integrity check (\(summary.integrity.prefix(300))); it is left at \(partial). Check the disk.")
        }
        try fm.moveItem(atPath: partial, toPath: destination + "/ensemble.sqlite")

        // 2. Artifacts and dataset blobs: every regular file, without uploads still in progress.
        var files = 0, bytes: Int64 = 0
        for folder in ["artifacts", "blobs"] where fm.fileExists(atPath: data + "/" + folder) {
            // blobs/tmp holds dataset uploads still being verified; artifacts have no such folder.
            let plan = try Self.files(under: data + "/" + folder).filter { folder != "blobs" || !$0.relative.hasPrefix("tmp/") }
            let total = plan.reduce(Int64(0)) { $0 + $1.size }
            let progress = ProgressLine(quiet: quiet || total < 16 << 20)
            var done: Int64 = 0
            for (i, file) in plan.enumerated() {
                let to = destination + "/" + folder + "/" + file.relative
                try fm.createDirectory(atPath: (to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                do {
                    try fm.copyItem(atPath: data + "/" + folder + "/" + file.relative, toPath: to)
                } catch CocoaError.fileReadNoSuchFile {
                    continue  // deleted since it was listed
                } catch {
                    throw CLIFailure(message: "Cannot copy \(folder)/\(file.relative): \(error.localizedDescription). Check the space left in '\(destination)'.")
                }
                done += file.size
                progress.update(TransferProgress(phase: .copying, filesDone: i + 1, filesTotal: plan.count, bytesDone: done, bytesTotal: total))
            }
            files += plan.count
            bytes += done
        }

        // 3. The manifest.
        let seconds = Date().timeIntervalSince(started)
        let manifest: [String: Any] = [
            "created_at": ISO8601DateFormatter().string(from: started), "source": source, "ensemble_version": ensembleVersion,
            "integrity": summary.integrity, "tables": summary.tables, "files": files, "file_bytes": bytes, "seconds": (seconds * 1000).rounded() / 1000,
        ]
        let text = String(decoding: try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self)
        try (text + "\n").write(toFile: destination + "/BACKUP.json", atomically: true, encoding: .utf8)
        if json { return print(text) }
        let t = summary.tables
        print("""
            Backed up \(data) to \(destination) in \(String(format: "%.1f", seconds)) s: the database (\(t["runs"] ?? 0) runs, \(t["metrics"] ?? 0) metric points, \
            \(t["model_versions"] ?? 0) model versions; integrity ok) and \(files) files (\(ProgressLine.bytes(bytes))).
            Restore: stop the server, then ensemble serve --data \(destination)
            """)
    }

    func usage(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
        return ExitCode(2)
    }

    /// Regular files under `root`, relative paths sorted, without artifact uploads in progress or symbolic links.
    static func files(under root: String) throws -> [(relative: String, size: Int64)] {
        guard let walker = FileManager.default.enumerator(at: URL(fileURLWithPath: root), includingPropertiesForKeys: [.isRegularFileKey, .fileSizeKey]) else { return [] }
        let base = URL(fileURLWithPath: root).standardizedFileURL.path + "/"
        var out: [(String, Int64)] = []
        for case let url as URL in walker {
            let values = try? url.resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey])
            guard values?.isRegularFile == true else { continue }
            let path = url.standardizedFileURL.path
            guard path.hasPrefix(base) else { continue }
            let relative = String(path.dropFirst(base.count))
            if url.lastPathComponent.hasPrefix(".~ensemble-") { continue }
            out.append((relative, Int64(values?.fileSize ?? 0)))
        }
        return out.sorted { $0.0 < $1.0 }
    }
}
