import ArgumentParser
import EnsembleArtifacts
import EnsembleCore
import Foundation
import Synchronization

/// `ensemble migrate-files --from DATA --to s3://bucket/prefix`: a data folder's artifacts and dataset
/// blobs into a bucket, every object read back and verified.
struct MigrateFilesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-files",
        abstract: "Copy a data folder's artifacts and stored datasets' contents into an S3-compatible bucket, verified byte for byte.",
        discussion: """
            DATA/artifacts goes to PREFIX/artifacts and DATA/blobs to PREFIX/blobs, the layout `ensemble serve --artifacts
            s3://BUCKET/PREFIX` reads. Files are streamed; at the end every object is read back and its size and SHA-256
            compared with the file's, and any difference fails the command. The credentials and endpoint come from
            AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ENDPOINT_URL.

            Stop the servers first (files written during the copy could be missed), or run it once while serving and again
            with --resume after stopping them. Symbolic links and unfinished uploads are left out and listed.

            Example: ensemble migrate-files --from /srv/ensemble-data --to s3://ml-team/ensemble
            """
    )

    @Option(help: "The data folder (holding artifacts/ and blobs/).") var from: String
    @Option(help: "The bucket and prefix: s3://BUCKET[/PREFIX].") var to: String
    @Flag(help: "Keep objects already in the bucket with the right size (finishing an interrupted copy); every object is still verified.")
    var resume = false
    @Flag(help: "Print the summary as JSON.") var json = false
    @Flag(help: "No progress lines.") var quiet = false

    func run() async throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: from, isDirectory: &isFolder), isFolder.boolValue else {
            throw CLIFailure(message: "No data folder at '\(from)'. Give --from the folder `ensemble serve --data` used (it holds artifacts/ and blobs/).")
        }
        let location: S3Location
        do {
            location = try S3Location(url: to, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw CLIFailure(message: "\(error.message) Check --to and the AWS_* settings.")
        }
        let started = Date()
        let quiet = quiet
        let lastLine = Mutex(Date.distantPast)
        let migration = FileMigration(folder: from, location: location)
        let report: FileMigration.Report
        do {
            report = try await migration.run(resume: resume) { p in
                guard !quiet else { return }
                let now = Date()
                let due = lastLine.withLock { last in
                    guard now.timeIntervalSince(last) >= 2 || p.files == p.totalFiles else { return false }
                    last = now
                    return true
                }
                if due {
                    let mb = { (b: Int64) in String(format: "%.1f", Double(b) / 1_048_576) }
                    FileHandle.standardError.write(Data("\(p.phase == "copy" ? "copied" : "verified") \(p.files) of \(p.totalFiles) files, \(mb(p.bytes)) of \(mb(p.totalBytes)) MiB\n".utf8))
                }
            }
        } catch let error as EnsembleError {
            throw CLIFailure(message: error.message)
        } catch {
            throw CLIFailure(message: "The copy to \(location.description) failed: \(error). Check the bucket and the AWS_* settings, then run again with --resume.")
        }
        let seconds = Date().timeIntervalSince(started)
        if json {
            struct Summary: Codable {
                var source: String
                var target: String
                var seconds: Double
                var report: FileMigration.Report
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(Summary(source: from, target: location.description, seconds: (seconds * 10).rounded() / 10, report: report)), as: UTF8.self))
        } else {
            print("""
                Copied \(from) to \(location.description) in \(String(format: "%.1f", seconds)) s: \(report.artifacts) artifact files and \(report.blobs) dataset contents, \
                \(String(format: "%.1f", Double(report.bytes) / 1_048_576)) MiB\(report.alreadyThere > 0 ? " (\(report.alreadyThere) were already there)" : ""); every object read back and verified.
                """)
            if !report.skipped.isEmpty {
                print("Left out (not regular files, or unfinished uploads): " + report.skipped.prefix(10).joined(separator: ", ") + (report.skipped.count > 10 ? ", …" : ""))
            }
            print("Serve it: ensemble serve --artifacts \(location.description) (with --database for several servers)")
        }
    }
}
