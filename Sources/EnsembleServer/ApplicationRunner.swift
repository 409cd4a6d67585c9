import EnsembleCore
import Hummingbird
import Logging

/// A built server, ready to run until SIGINT or SIGTERM.
public protocol ApplicationRunner: Sendable {
    func run() async throws
    /// How many accounts exist (the console says how to create the first one).
    func userCount() async throws -> Int
}

struct HummingbirdRunner<App: ApplicationProtocol & Sendable>: ApplicationRunner {
    let app: App
    let store: any MetadataStore
    func run() async throws { try await app.runService() }
    func userCount() async throws -> Int { try await store.userCount() }
}

/// Opens the store and artifact folder and builds the server.
public func makeServer(configuration: ServerConfiguration, logger: Logger) async throws -> any ApplicationRunner {
    LargeAllocations.returnToSystemWhenFreed()
    let services = try await EnsembleServices.open(configuration: configuration, logger: logger)
    return HummingbirdRunner(app: buildApplication(configuration: configuration, services: services, logger: logger), store: services.store)
}
