import Hummingbird
import Logging

/// A built server, ready to run until SIGINT or SIGTERM.
public protocol ApplicationRunner: Sendable {
    func run() async throws
}

struct HummingbirdRunner<App: ApplicationProtocol & Sendable>: ApplicationRunner {
    let app: App
    func run() async throws { try await app.runService() }
}

/// Opens the store and artifact folder and builds the server.
public func makeServer(configuration: ServerConfiguration, logger: Logger) throws -> any ApplicationRunner {
    HummingbirdRunner(app: try buildApplication(configuration: configuration, logger: logger))
}
