import ArgumentParser
import EnsembleClient
import EnsembleCore
import Foundation

struct DatasetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Add, restore and list content-addressed dataset versions on an Ensemble server.",
        discussion: """
            Files are stored once by their SHA-256: adding a folder again uploads only what changed, and
            an unchanged folder makes no new version.
            """,
        subcommands: [Add.self, Get.self, List.self, Show.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hash files and folders and record them as the next version of a dataset.",
            discussion: """
                One folder: its contents become the dataset (restoring recreates them). Several paths:
                each is placed under its own name. Symbolic links are refused.
                Example: ensemble dataset add iris data/iris --description "cleaned, 2026-11"
                """
        )
        @Argument(help: "Dataset name: letters, digits, '_', '-', '.'.") var name: String
        @Argument(help: "Files or folders to include.") var paths: [String]
        @Option(help: "What this version is.") var description: String?
        @Flag(help: "Print only the result.") var quiet = false
        @OptionGroup var server: ServerOption

        func run() async throws {
            let transfer = DatasetTransfer(client: try await server.client())
            let progress = ProgressLine(quiet: quiet)
            let result = try await reportingErrors {
                try await transfer.add(
                    name: name, paths: paths, description: description, createdBy: ProcessInfo.processInfo.environment["USER"],
                    progress: progress.update)
            }
            let v = result.version
            if result.created {
                print("Added \(v.reference): \(v.fileCount) files, \(ProgressLine.bytes(v.totalSize)); uploaded \(result.uploadedFiles) new file(s), \(ProgressLine.bytes(result.uploadedBytes)).")
            } else {
                print("Unchanged: \(v.reference) already has exactly these files; no new version.")
            }
            print("digest: \(v.digest)")
            print("Restore with: ensemble dataset get \(v.reference) DIR")
            print("Log it as a run input (MLflow digest): name=\(v.name) digest=\(v.mlflowDigest)")
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a dataset version into a folder, byte for byte (each file's SHA-256 is checked).",
            discussion: "Example: ensemble dataset get iris@2 ./iris-v2   (NAME alone or NAME@latest means the latest version)"
        )
        @Argument(help: "NAME, NAME@VERSION or NAME@latest.") var reference: String
        @Argument(help: "Folder to restore into; created if missing.") var directory: String
        @Flag(help: "Replace files that exist with different content.") var overwrite = false
        @Flag(help: "Print only the result.") var quiet = false
        @OptionGroup var server: ServerOption

        func run() async throws {
            let (name, version) = try parseDatasetReference(reference)
            let transfer = DatasetTransfer(client: try await server.client())
            let progress = ProgressLine(quiet: quiet)
            let result = try await reportingErrors {
                try await transfer.restore(name: name, version: version, into: directory, overwrite: overwrite, progress: progress.update)
            }
            print("Restored \(result.version.reference) into \(directory): \(result.downloadedFiles) file(s) downloaded (\(ProgressLine.bytes(result.downloadedBytes))), \(result.unchangedFiles) already present.")
            if !result.extraFiles.isEmpty {
                print("Note: \(result.extraFiles.count) file(s) in \(directory) are not part of \(result.version.reference) and were left alone, e.g. \(result.extraFiles.prefix(3).joined(separator: ", ")).")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List datasets, or the versions of one dataset.")
        @Argument(help: "A dataset name, to list its versions.") var name: String?
        @OptionGroup var server: ServerOption

        struct Names: Decodable {
            struct Item: Decodable {
                var name: String
                var versions: Int64
                var storedVersions: Int64
                var latestStoredVersion: Int64?
            }
            var datasets: [Item]
        }
        struct Versions: Decodable {
            struct Logged: Decodable {
                struct Use: Decodable { var runId: String }
                var digest: String
                var sourceType: String
                var usedBy: [Use]
            }
            struct Stored: Decodable {
                var version: Int64
                var digest: String
                var fileCount: Int64
                var totalSize: Int64
                var createdAt: Int64
                var description: String?
            }
            var versions: [Logged]
            var storedVersions: [Stored]
        }

        func run() async throws {
            let client = try await server.client()
            try await reportingErrors {
                if let name {
                    let answer = try await client.json(.GET, "/api/v1/datasets/\(EnsembleClient.escape(name))/versions", as: Versions.self)
                    for v in answer.storedVersions {
                        let when = Date(timeIntervalSince1970: Double(v.createdAt) / 1000).formatted(date: .numeric, time: .shortened)
                        print("\(name)@\(v.version)\t\(v.fileCount) files\t\(ProgressLine.bytes(v.totalSize))\t\(when)\t\(v.digest.prefix(12))\t\(v.description ?? "")")
                    }
                    for v in answer.versions {
                        print("\(name) digest \(v.digest)\tlogged by runs (\(v.sourceType))\tused by \(v.usedBy.count) run(s)")
                    }
                } else {
                    let answer = try await client.json(.GET, "/api/v1/datasets", as: Names.self)
                    if answer.datasets.isEmpty { print("No datasets yet. Add one with: ensemble dataset add NAME PATH...") }
                    for d in answer.datasets {
                        print("\(d.name)\t\(d.storedVersions) stored version(s)\t\(d.versions) logged digest(s)")
                    }
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a dataset version's manifest (JSON).")
        @Argument(help: "NAME, NAME@VERSION or NAME@latest.") var reference: String
        @OptionGroup var server: ServerOption

        func run() async throws {
            let (name, version) = try parseDatasetReference(reference)
            let client = try await server.client()
            let text = try await reportingErrors {
                try await client.text("/api/v1/datasets/\(EnsembleClient.escape(name))/versions/\(version.map(String.init) ?? "latest")")
            }
            print(text)
        }
    }
}

func parseDatasetReference(_ reference: String) throws -> (String, Int64?) {
    do {
        return try DatasetManifest.parseReference(reference)
    } catch {
        throw ValidationError(error.message)
    }
}
