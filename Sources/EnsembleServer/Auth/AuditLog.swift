import EnsembleCore
import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Appends to the audit log without slowing the write path: requests add their event to a buffer,
/// and ``run()`` writes the buffer in one transaction every ``interval`` (and on shutdown). Security
/// events go through the same buffer; ``flush()`` writes it at once (reads of the log, tests, shutdown).
///
/// Two things keep the log to a size a team can keep:
/// - **Tracking writes are summarised.** A training loop sends MLflow's log-metric, log-batch,
///   log-parameter and set-tag thousands of times a minute; one entry each made the audit log the
///   biggest table of a tracking server (a row per call, where the points themselves are stored a
///   thousand to a row). Successful ones are counted per minute, actor, action and client address,
///   and each such group is one entry: the first request's time, id and target, and how many there
///   were. A refused or failed tracking write is still an entry of its own.
/// - **Retention.** With ``retention`` set, ``run()`` deletes entries older than that once an hour
///   (in transactions of 10,000, oldest first; several servers may prune at once).
final class AuditWriter: Service, Sendable {
    let store: any IdentityStore
    let logger: Logger
    let interval: Duration
    /// Entries older than this are deleted; nil keeps them for ever.
    let retention: Duration?
    /// Milliseconds since the epoch (a test holds it still).
    let clock: @Sendable () -> Int64
    private let buffer = NIOLockedValueBox([AuditEvent]())
    private let summaries = NIOLockedValueBox([SummaryKey: Summary]())

    static let summaryMinute: Int64 = 60_000
    static let pruneEvery: Int64 = 60 * 60 * 1000
    static let pruneBatch = 10_000
    /// Summaries open at once at most; past it a tracking write is an entry of its own (many
    /// distinct users or addresses in one minute cannot grow the server's memory without bound).
    static let maxSummaries = 10_000

    private struct SummaryKey: Hashable {
        var minute: Int64
        var actor: String?
        var action: String
        var client: String?
        var detail: String
    }

    private struct Summary {
        var first: AuditEvent
        var count: Int
    }

    init(
        store: any IdentityStore, logger: Logger, interval: Duration = .milliseconds(200), retention: Duration? = nil,
        clock: @escaping @Sendable () -> Int64 = Authenticator.now
    ) {
        self.store = store
        self.logger = logger
        self.interval = interval
        self.retention = retention
        self.clock = clock
    }

    func record(_ event: AuditEvent) {
        buffer.withLockedValue { $0.append(event) }
    }

    /// A successful tracking write: counted into its minute's entry.
    func summarise(_ event: AuditEvent) {
        let key = SummaryKey(minute: event.at / Self.summaryMinute, actor: event.actor, action: event.action, client: event.client, detail: event.detail)
        let counted = summaries.withLockedValue { all -> Bool in
            if all[key] != nil {
                all[key]!.count += 1
            } else {
                guard all.count < Self.maxSummaries else { return false }
                all[key] = Summary(first: event, count: 1)
            }
            return true
        }
        if !counted { record(event) }
    }

    /// A security event (failed sign-in, token created or first used, user changed).
    func security(_ context: EnsembleRequestContext, actor: String?, action: String, target: String, detail: String = "", status: Int = 200) {
        record(
            AuditEvent(
                at: clock(), actor: actor, action: action, target: target, status: status, requestID: context.id,
                client: context.clientAddress, detail: detail))
    }

    /// Writes what is buffered, and every summary, the current minute's included.
    func flush() async {
        await flush(summariesBefore: Int64.max)
    }

    /// Writes what is buffered and the summaries of minutes that began before `minute`.
    private func flush(summariesBefore minute: Int64) async {
        let closed = summaries.withLockedValue { all -> [Summary] in
            let done = all.filter { $0.key.minute < minute }
            for key in done.keys { all[key] = nil }
            return Array(done.values)
        }
        var events = buffer.withLockedValue { events in
            defer { events.removeAll(keepingCapacity: true) }
            return events
        }
        events += closed.sorted { $0.first.at < $1.first.at }.map(Self.entry)
        guard !events.isEmpty else { return }
        do {
            try await store.appendAudit(events)
        } catch {
            logger.error("audit log write failed; events kept for the next try", metadata: ["events": "\(events.count)", "error": "\(error)"])
            buffer.withLockedValue { $0.insert(contentsOf: events, at: 0) }
        }
    }

    /// The entry for a minute's group of tracking writes.
    private static func entry(_ summary: Summary) -> AuditEvent {
        var event = summary.first
        guard summary.count > 1 else { return event }
        let count = "first of \(summary.count) such requests in this minute"
        event.detail = event.detail.isEmpty ? count : "\(count); \(event.detail)"
        return event
    }

    /// Deletes the entries older than ``retention``; answers how many.
    @discardableResult
    func prune() async -> Int {
        guard let retention else { return 0 }
        let (seconds, _) = retention.components
        let before = clock() - seconds * 1000
        var deleted = 0
        while !Task.isCancelled {
            do {
                let n = try await store.pruneAudit(before: before, limit: Self.pruneBatch)
                deleted += n
                if n < Self.pruneBatch { break }
            } catch {
                logger.error("audit log retention failed; it runs again in an hour", metadata: ["error": "\(error)"])
                break
            }
        }
        if deleted > 0 { logger.info("audit log: deleted entries past the retention", metadata: ["entries": "\(deleted)"]) }
        return deleted
    }

    func run() async throws {
        // Flush on every tick until shutdown, then once more; prune a minute after start, then hourly.
        await cancelWhenGracefulShutdown {
            var nextPrune = self.clock() + Self.summaryMinute
            while !Task.isCancelled {
                try? await Task.sleep(for: self.interval)
                // Once shutting down, the flush below writes it: a cancelled task's database call
                // (PostgreSQL's pool) fails with CancellationError.
                if Task.isCancelled { break }
                let now = self.clock()
                await self.flush(summariesBefore: now / Self.summaryMinute)
                if self.retention != nil, now >= nextPrune {
                    nextPrune = now + Self.pruneEvery
                    await self.prune()
                }
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

    /// MLflow's tracking writes that training loops send by the thousand: summarised when they succeed.
    static let summarised: Set<Substring> = ["runs/log-metric", "runs/log-batch", "runs/log-parameter", "runs/set-tag"]

    /// MLflow's read-only endpoints that clients call with POST (a search's filter is a body).
    static let readsSentAsPost: Set<Substring> = [
        "runs/search", "experiments/search", "experiments/search-datasets", "logged-models/search", "registered-models/search",
        "registered-models/get-latest-versions", "model-versions/search",
    ]

    static func changesNothing(_ method: HTTPRequest.Method, path: String) -> Bool {
        if method == .get || method == .head || method == .options { return true }
        guard method == .post, let endpoint = mlflowEndpoint(path) else { return false }
        return readsSentAsPost.contains(endpoint)
    }

    static func isSummarised(_ method: HTTPRequest.Method, path: String) -> Bool {
        guard method == .post, let endpoint = mlflowEndpoint(path) else { return false }
        return summarised.contains(endpoint)
    }

    /// `runs/log-metric` for `/api/2.0/mlflow/runs/log-metric` (and the UI's `/ajax-api/…` twin).
    static func mlflowEndpoint(_ path: String) -> Substring? {
        for prefix in ["/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"] where path.hasPrefix(prefix) {
            return path.dropFirst(prefix.count)
        }
        return nil
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
        let event = AuditEvent(
            at: writer.clock(), actor: context.principal?.name, action: "\(request.method) \(path)", target: path, status: status,
            requestID: context.id, client: context.clientAddress,
            detail: context.principal.map { $0.isVerified ? "" : "unverified user name" } ?? "")
        if (200..<300).contains(status), Self.isSummarised(request.method, path: path) {
            writer.summarise(event)
        } else {
            writer.record(event)
        }
    }
}
