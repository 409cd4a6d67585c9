import Dispatch
import EnsembleCore
import Synchronization
import Testing

@Suite("Group commit queue")
struct GroupCommitQueueTests {
    struct Odd: Error {}

    @Test("under load requests are written in groups, one writer at a time, and each caller gets its own answer")
    func groups() async throws {
        let sizes = Mutex<[Int]>([])
        let active = Mutex((now: 0, most: 0))
        let queue = GroupCommitQueue<Int>(maxWriters: 1, maxGroup: 50) { group in
            active.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
            try? await Task.sleep(for: .milliseconds(5))  // a commit's fixed cost
            sizes.withLock { $0.append(group.count) }
            active.withLock { $0.now -= 1 }
            return group.map { $0 % 7 == 3 ? .failure(Odd()) : .success(()) }
        }
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { tasks in
            for i in 0..<400 {
                tasks.addTask {
                    do {
                        try await queue.submit(i)
                        return (i, true)
                    } catch {
                        return (i, false)
                    }
                }
            }
            return await tasks.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes.count == 400)
        #expect(outcomes.allSatisfy { $0.value == ($0.key % 7 != 3) }, "each caller gets its own request's answer")
        let written = sizes.withLock { $0 }
        #expect(written.reduce(0, +) == 400, "every request written exactly once")
        #expect(written.allSatisfy { $0 <= 50 }, "no group over the limit")
        #expect(written.count < 400 / 4, "requests waiting during a commit share the next one (\(written.count) groups)")
        #expect(active.withLock { $0.most } == 1, "one writer at a time")
    }

    /// Runs jobs on a serial dispatch queue, which its jobs can recognise.
    final class QueueExecutor: TaskExecutor {
        static let key = DispatchSpecificKey<Bool>()
        let queue = DispatchQueue(label: "test.executor")
        init() { queue.setSpecific(key: Self.key, value: true) }
        static var isCurrent: Bool { DispatchQueue.getSpecific(key: key) ?? false }
        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            let executor = asUnownedTaskExecutor()
            queue.async { job.runSynchronously(on: executor) }
        }
    }

    @Test("the queue's own writers run on the executor it is given; a caller writing its own group writes where it runs")
    func executor() async throws {
        let placed = Mutex<[Bool]>([])
        let queue = GroupCommitQueue<Int>(maxWriters: 1, maxGroup: 50, executor: QueueExecutor()) { group in
            try? await Task.sleep(for: .milliseconds(5))
            placed.withLock { $0.append(QueueExecutor.isCurrent) }
            return group.map { _ in .success(()) }
        }
        try await queue.submit(0)
        #expect(placed.withLock { $0 } == [false], "a lone caller writes its own group, off the executor")
        await withTaskGroup(of: Void.self) { tasks in
            for i in 0..<200 { tasks.addTask { try? await queue.submit(i) } }
        }
        let groups = placed.withLock { $0 }
        #expect(groups.contains(true), "groups written by the queue's writer ran on its executor: \(groups)")
    }

    @Test("a lone request is written at once, alone, by its own caller")
    func lone() async throws {
        let sizes = Mutex<[Int]>([])
        let queue = GroupCommitQueue<String>(maxWriters: 3, maxGroup: 10) { group in
            sizes.withLock { $0.append(group.count) }
            return group.map { _ in .success(()) }
        }
        for word in ["a", "b", "c"] { try await queue.submit(word) }
        #expect(sizes.withLock { $0 } == [1, 1, 1])
    }

    @Test("a write that answers fewer outcomes than requests fails the unanswered callers instead of leaving them waiting")
    func unanswered() async throws {
        let queue = GroupCommitQueue<Int>(maxWriters: 1, maxGroup: 10) { _ in [] }
        await #expect(throws: GroupCommitError.self) { try await queue.submit(1) }
    }
}
