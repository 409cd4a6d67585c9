import Synchronization

/// Group commit, the queueing half: concurrent writes are gathered and written as one group, and
/// every caller is answered only when its write is committed. A store supplies `write`, which writes
/// a group of requests (in one transaction, one statement…) and answers each request's own outcome,
/// in order.
///
/// A caller that finds a writer free writes at once, itself, with whatever is waiting: a lone request
/// pays no hand-over to another task. Callers that arrive while `maxWriters` groups are being written
/// wait in the queue; the next writer takes them all (up to `maxGroup`), so under load a commit's
/// fixed cost (a transaction, a WAL append or flush) is shared by many requests.
public final class GroupCommitQueue<Request: Sendable>: Sendable {
    private struct Waiting {
        let request: Request
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var queue: [Waiting] = []
        var writers = 0
    }

    private let state = Mutex(State())
    public let maxWriters: Int
    public let maxGroup: Int
    private let write: @Sendable ([Request]) async -> [Result<Void, any Error>]
    /// Where the queue's own writer tasks run (nil: Swift's global executor). A caller that writes
    /// its own group writes from where it runs.
    public let executor: (any TaskExecutor)?

    /// - Parameter executor: where the writer tasks the queue starts run; a store whose connections
    ///   live on one thread passes that thread's executor, so a group is sent and its answer read
    ///   without a hop between threads.
    public init(
        maxWriters: Int, maxGroup: Int, executor: (any TaskExecutor)? = nil,
        write: @escaping @Sendable ([Request]) async -> [Result<Void, any Error>]
    ) {
        self.executor = executor
        self.maxWriters = max(1, maxWriters)
        self.maxGroup = max(1, maxGroup)
        self.write = write
    }

    /// Writes the request, alone or with others; returns once the group it was in is committed.
    public func submit(_ request: Request) async throws {
        let leads = state.withLock { s -> Bool in
            guard s.writers < maxWriters else { return false }
            s.writers += 1
            return true
        }
        guard leads else {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // A writer may have finished since: then this caller starts one for the queue.
                let start = state.withLock { s -> Bool in
                    s.queue.append(Waiting(request: request, continuation: continuation))
                    guard s.writers < maxWriters else { return false }
                    s.writers += 1
                    return true
                }
                if start { Task(executorPreference: executor) { await self.drain() } }
            }
            return
        }
        let waiting = take(maxGroup - 1)
        let outcomes = await write([request] + waiting.map(\.request))
        answer(waiting, Array(outcomes.dropFirst()))
        // Hand what arrived meanwhile to a writer of its own, so this caller's answer does not wait.
        let more = state.withLock { s -> Bool in
            if s.queue.isEmpty { s.writers -= 1 }
            return !s.queue.isEmpty
        }
        if more { Task(executorPreference: executor) { await self.drain() } }
        guard let own = outcomes.first else { throw GroupCommitError.noOutcome }
        try own.get()
    }

    private func take(_ limit: Int) -> [Waiting] {
        state.withLock { s in
            let n = min(s.queue.count, limit)
            let taken = Array(s.queue.prefix(n))
            s.queue.removeFirst(n)
            return taken
        }
    }

    private func answer(_ waiting: [Waiting], _ outcomes: [Result<Void, any Error>]) {
        for (i, w) in waiting.enumerated() {
            w.continuation.resume(with: i < outcomes.count ? outcomes[i] : .failure(GroupCommitError.noOutcome))
        }
    }

    /// Writes groups until the queue is empty, then gives up its writer's place.
    private func drain() async {
        while true {
            let group = state.withLock { s -> [Waiting] in
                let n = min(s.queue.count, maxGroup)
                let taken = Array(s.queue.prefix(n))
                s.queue.removeFirst(n)
                if taken.isEmpty { s.writers -= 1 }
                return taken
            }
            if group.isEmpty { return }
            answer(group, await write(group.map(\.request)))
        }
    }
}

/// A store's `write` answered fewer outcomes than requests (a bug, reported instead of a hang).
public struct GroupCommitError: Error, CustomStringConvertible {
    static let noOutcome = GroupCommitError()
    public var description: String { "internal error: a grouped write was not answered" }
}
