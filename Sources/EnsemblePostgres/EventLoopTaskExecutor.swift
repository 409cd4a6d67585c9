import NIOCore

/// Runs a task's jobs on one NIO event loop: a task that prefers this executor
/// (`Task(executorPreference:)`) runs on the thread that also reads and writes the connections of
/// that loop, so sending a statement and resuming on its answer cross no thread.
///
/// Why: the metric group writer is one task that, group after group, sends a statement to a
/// PostgreSQL connection and waits for the commit. On Swift's global executor each group hopped to
/// the connection's event loop and back. With the pool's connections on one loop and the writer on
/// it, a group of log-metric requests at 8 connections took 0.57–0.76 ms instead of 0.82–0.94 ms
/// (timed inside the server, three rounds, same binary switched by a setting), and wrk's
/// log-metric at 8 connections went from 4,501–4,826 to 5,114–6,018 req/s (four rounds,
/// alternating binaries on fresh databases; docs/PERFORMANCE.md).
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }
}
