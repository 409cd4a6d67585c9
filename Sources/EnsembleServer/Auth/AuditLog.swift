import EnsembleCore
import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Appends to the audit log without slowing the write path: requests add their event to a buffer,
/// and ``run()`` writes the buffer in one transaction every ``interval`` (and on shutdown). A training
/// loop's thousand log-metric calls a second cost one insert transaction per interval, not one each.
/// Security events go through the same buffer; ``flush()`` writes it at once (tests, shutdown).
final class AuditWriter: Service, Sendable {
    let store: any IdentityStore
    let logger: Logger
    let interval: Duration
    private let buffer = NIOLockedValueBox([AuditEvent]())

    init(store: any IdentityStore, logger: Logger, interval: Duration = .milliseconds(200)) {
        self.store = store
        self.logger = logger
        self.interval = interval
    }

    func record(_ event: AuditEvent) {
        buffer.withLockedValue { $0.append(event) }
    }

    /// A security event (failed sign-in, token created or first used, user changed).
    func security(_ context: EnsembleRequestContext, actor: String?, action: String, target: String, detail: String = "", status: Int = 200) {
        record(
            AuditEvent(
                at: Authenticator.now(), actor: actor, action: action, target: target, status: status, requestID: context.id,
                client: context.clientAddress, detail: detail))
    }

    /// Writes what is buffered.
    func flush() async {
        let events = buffer.withLockedValue { events in
            defer { events.removeAll(keepingCapacity: true) }
            return events
        }
        guard !events.isEmpty else { return }
        do {
            try await store.appendAudit(events)
        } catch {
            logger.error("audit log write failed; events kept for the next try", metadata: ["events": "\(events.count)", "error": "\(error)"])
            buffer.withLockedValue { $0.insert(contentsOf: events, at: 0) }
        }
    }

    func run() async throws {
        // Flush on every tick until shutdown, then once more.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: self.interval)
                // Once shutting down, the flush below writes it: a cancelled task's database call
                // (PostgreSQL's pool) fails with CancellationError.
                if Task.isCancelled { break }
                await self.flush()
            }
        }
        await flush()
    }
}

/// Records every request that may change something (any method but GET, HEAD and OPTIONS, apart
/// from MLflow's searches sent as POST), with its outcome, the acting principal, the request id and
/// the client's address.
struct AuditMiddleware: RouterMiddleware {
    typealias Context = EnsembleRequestContext
    let writer: AuditWriter

    /// MLflow's read-only endpoints that clients call with POST (a search's filter is a body).
    static let readsSentAsPost: Set<Substring> = [
        "runs/search", "experiments/search", "experiments/search-datasets", "logged-models/search", "registered-models/search",
        "registered-models/get-latest-versions", "model-versions/search",
    ]

    static func changesNothing(_ method: HTTPRequest.Method, path: String) -> Bool {
        if method == .get || method == .head || method == .options { return true }
        guard method == .post else { return false }
        for prefix in ["/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"] where path.hasPrefix(prefix) {
            return readsSentAsPost.contains(path.dropFirst(prefix.count))
        }
        return false
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !Self.changesNothing(request.method, path: request.uri.path) else { return try await next(request, context) }
        do {
            let response = try await next(request, context)
            record(request, context, status: Int(response.status.code))
            return response
        } catch {
            record(request, context, status: Int((error as? any HTTPResponseError)?.status.code ?? 500))
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, status: Int) {
        let path = request.uri.path
        writer.record(
            AuditEvent(
                at: Authenticator.now(), actor: context.principal?.name, action: "\(request.method) \(path)", target: path, status: status,
                requestID: context.id, client: context.clientAddress,
                detail: context.principal.map { $0.isVerified ? "" : "unverified user name" } ?? ""))
    }
}
