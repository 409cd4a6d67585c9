import EnsembleCore
import EnsembleStore
import Foundation
import PostgresNIO
import Testing

@testable import EnsemblePostgres

@Suite("PostgreSQL store: opening, migrations, errors")
struct PostgresStoreTests {
    @Test("servers opening one database together migrate it once, and all of them work")
    func migrateOnce() async throws {
        let url = try await TestPostgres.database()
        let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
            for _ in 0..<4 { group.addTask { try await PostgresStore.open(url: url, settings: TestPostgres.settings) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        var applied: [String] = []
        for try await (id) in try await stores[0].client.query("SELECT id FROM ensemble_migrations ORDER BY id").decode(String.self) { applied.append(id) }
        #expect(applied == PostgresStore.migrations.map(\.id).sorted(), "each migration applied once")
        var triggers: [Int64] = []
        for try await (n) in try await stores[0].client.query("SELECT count(*) FROM pg_constraint WHERE conname = 'metrics_run_id_fkey'").decode(Int64.self) {
            triggers.append(n)
        }
        #expect(triggers == [0], "metric points carry no per-row foreign-key trigger")
        for (i, store) in stores.enumerated() {
            _ = try await store.addDatasetVersion(
                name: "d", files: [DatasetFile(path: "f", size: 1, sha256: String(repeating: "\(i)", count: 64))], description: nil, createdBy: nil)
        }
        #expect(try await stores[3].storedDatasetVersions(name: "d").map(\.version) == [4, 3, 2, 1])
        for store in stores { await store.close() }
    }

    @Test("the chunk migration moves every point of a row-per-point table into chunks: histories, NaN, contexts and the metrics view are unchanged")
    func chunkMigration() async throws {
        let url = try await TestPostgres.database()
        let store = try await PostgresStore.open(url: url, settings: TestPostgres.settings)
        defer { Task { await store.close() } }
        let run = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "r", startTime: 1, tags: [])).info.runID
        let runRow = try await store.client.query("SELECT id FROM runs WHERE run_uuid = \(run)").decode(Int64.self).first { _ in true }!
        // Back to the table as it was before the migration, with 2,500 points of one key (three
        // chunks), a NaN, an infinity and points logged with a dataset.
        for sql: PostgresQuery in [
            "DROP VIEW metrics", "DROP TABLE metric_chunks", "DELETE FROM ensemble_migrations WHERE id = '2026-12-03-metric-chunks'",
            """
            CREATE TABLE metrics (run_id BIGINT NOT NULL, key TEXT COLLATE "C" NOT NULL, step BIGINT NOT NULL, timestamp BIGINT NOT NULL,
                value DOUBLE PRECISION NOT NULL, is_nan BOOLEAN NOT NULL, model_id TEXT COLLATE "C", dataset_name TEXT COLLATE "C",
                dataset_digest TEXT COLLATE "C", PRIMARY KEY (run_id, key, step, timestamp, value, is_nan))
            """,
            "INSERT INTO metrics SELECT \(runRow), 'loss', 2500 - g, 7, g / 4.0, false, NULL, NULL, NULL FROM generate_series(1, 2500) g",
            "INSERT INTO metrics VALUES (\(runRow), 'loss', 3, 7, 0, true, NULL, NULL, NULL), (\(runRow), 'acc', 1, 2, 'Infinity', false, NULL, 'val', 'abc')",
        ] {
            try await store.client.query(sql)
        }
        try await store.migrate()
        let loss = try await store.metricHistory(runID: run, key: "loss", limit: nil, offset: 0).items
        #expect(loss.count == 2501)
        var steps: [Int64] = Array(0...2499)
        steps.insert(3, at: 3)
        #expect(loss.map(\.step) == steps)
        #expect(loss.filter { $0.step == 3 }.map { $0.value.isNaN } == [true, false], "NaN sorts as the 0 it was stored as")
        let acc = try await store.metricHistory(runID: run, key: "acc", limit: nil, offset: 0).items
        #expect(acc.map(\.value) == [.infinity] && acc.first?.datasetName == "val" && acc.first?.datasetDigest == "abc")
        let chunks = try await store.client.query("SELECT count(*) FROM metric_chunks").decode(Int64.self).first { _ in true }
        #expect(chunks == 4, "2,501 points of loss in three chunks, one for acc")
        let viewed = try await store.client.query("SELECT count(*), count(*) FILTER (WHERE is_nan AND value = 0) FROM metrics").decode((Int64, Int64).self)
            .first { _ in true }
        #expect(viewed?.0 == 2502 && viewed?.1 == 1, "the metrics view has a row per point, NaN as 0 with its flag")
    }

    @Test("tables that changed a lot since their last analysis are analyzed, so a fresh sweep is searched with real statistics")
    func statistics() async throws {
        let store = try await TestPostgres.store()
        defer { Task { await store.close() } }
        func analyzed(_ table: String) async throws -> Bool {
            try await store.client.withConnection { db in
                try await db.value("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = \(table)", Bool.self, logger: store.logger) ?? false
            }
        }
        try await store.refreshStatistics()
        #expect(try await analyzed("params") == false, "nothing changed yet, nothing analyzed")
        for i in 0..<60 {
            let run = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "r\(i)", startTime: Int64(i), tags: [])).info.runID
            try await store.logBatch(runID: run, metrics: [], params: (0..<30).map { KeyValue(key: "p\($0)", value: "\($0)") }, tags: [])
        }
        // The counters PostgreSQL keeps are sent by each backend when it goes idle; give them a moment.
        var done = false
        for _ in 0..<50 where !done {
            try await store.refreshStatistics()
            done = try await analyzed("params")
            if !done { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(done, "1,800 new params rows: the table was analyzed")
        #expect(try await analyzed("runs") == false, "60 new runs are not enough to analyze runs")
    }

    @Test("the metric group writer runs on the event loop of the store's connections, before and after it waits")
    func writerOnConnectionLoop() async throws {
        let url = try await TestPostgres.database()
        let store = try await PostgresStore.open(url: url, settings: TestPostgres.settings)
        defer { Task { await store.close() } }
        let executor = try #require(store.metricWrites.queue.executor as? EventLoopTaskExecutor)
        let loops = try await withThrowingTaskGroup(of: (any EventLoop).self) { group in
            for _ in 0..<4 { group.addTask { try await store.client.withConnection { $0.eventLoop } } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(loops.allSatisfy { $0 === executor.loop }, "every pooled connection is on the writer's loop")
        let onLoop = try await Task(executorPreference: executor) { () -> [Bool] in
            let before = executor.loop.inEventLoop
            try await Task.sleep(for: .milliseconds(2))
            let after = executor.loop.inEventLoop
            for try await _ in try await store.client.query("SELECT 1") {}
            return [before, after, executor.loop.inEventLoop]
        }.value
        #expect(onLoop == [true, true, true])
        #expect(!executor.loop.inEventLoop, "the test itself runs elsewhere, so the check can fail")
    }

    @Test("a URL that is not PostgreSQL's, or a server that is not there, is a clear error")
    func badURLs() async throws {
        for (url, words) in [
            ("mysql://u@h/db", "is not a PostgreSQL URL"), ("postgresql://127.0.0.1/db", "needs a user and a database"),
            ("postgresql://u:secret@127.0.0.1:5432", "needs a user and a database"),
        ] {
            await #expect { _ = try await PostgresStore.open(url: url) } throws: { "\($0)".contains(words) && !"\($0)".contains("secret") }
        }
        let closed = "postgresql://ensemble:secret@127.0.0.1:\(TestPostgres.freePort())/nowhere"
        var settings = PostgresStore.Settings()
        settings.connectTimeoutSeconds = 2
        await #expect { _ = try await PostgresStore.open(url: closed, settings: settings) } throws: {
            "\($0)".contains("Cannot use the PostgreSQL database") && "\($0)".contains("no answer within 2 s") && !"\($0)".contains("secret")
        }
    }
}

@Suite("PostgreSQL store: values it cannot hold")
struct PostgresRefusedValueTests {
    @Test("text with a NUL character is the caller's error (400), in writes and in searches, never a server error")
    func nul() async throws {
        let store = try await TestPostgres.store()
        defer { Task { await store.close() } }
        let run = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "r", startTime: 1, tags: [])).info.runID
        #expect(await errorCode { try await store.logBatch(runID: run, metrics: [], params: [KeyValue(key: "p", value: "a\u{0}b")], tags: []) } == .invalidParameterValue)
        #expect(await errorCode { _ = try await store.createExperiment(name: "x\u{0}", artifactLocation: nil, tags: []) } == .invalidParameterValue)
        let filter = [SearchClause(key: SearchKey(.tag, "t"), comparator: .equal, value: .string("\u{0}"))]
        #expect(await errorCode { _ = try await store.searchRuns(RunSearch(experimentIDs: ["0"], filter: filter)) } == .invalidParameterValue)
        // Nothing of the refused batch was kept, and the run still takes good values.
        try await store.logBatch(runID: run, metrics: [], params: [KeyValue(key: "p", value: "ab")], tags: [])
        #expect(try await store.run(id: run).params == [KeyValue(key: "p", value: "ab")])
    }
}

@Suite("PostgreSQL store: metric chunks")
struct MetricChunkPlanTests {
    typealias Chunk = MetricChunkPlan.Chunk

    @Test("compaction merges a history's many small chunks into full ones: the history reads the same, repeats once, and writes meanwhile are kept")
    func compaction() async throws {
        let store = try await TestPostgres.store()
        defer { Task { await store.close() } }
        let run = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "r", startTime: 1, tags: [])).info.runID
        let model = try await store.createLoggedModel(NewLoggedModel(experimentID: "0", name: "m", modelType: nil, sourceRunID: run, params: [], tags: [])).modelID
        // 1,300 points logged one request at a time (a chunk each), in a shuffled order, some twice,
        // a NaN, and every tenth with the model: two logging contexts.
        var points: [Metric] = []
        for i in 0..<1300 {
            let value: Double = i == 77 ? .nan : Double(i % 17)
            points.append(Metric(key: "loss", value: value, timestamp: 9, step: Int64(i / 2), modelID: i % 10 == 0 ? model : nil))
        }
        points += points[100..<130]
        var rng = SplitMix(seed: 7)
        points.shuffle(using: &rng)
        for p in points { try await store.logBatch(runID: run, metrics: [p], params: [], tags: []) }
        func chunkCount(belowStep: Int64 = .max) async throws -> Int64? {
            try await store.client.query("SELECT count(*) FROM metric_chunks WHERE key = 'loss' AND first_step < \(belowStep)").decode(Int64.self).first { _ in true }
        }
        let before = try await store.metricHistory(runID: run, key: "loss", limit: nil, offset: 0).items
        #expect(before.count == 1300)
        #expect(try await chunkCount() == 1330)
        // Writes racing the compaction are new chunks, left alone and read with the rest.
        async let racing: Void = {
            for i in 0..<50 { try await store.logBatch(runID: run, metrics: [Metric(key: "loss", value: 1, timestamp: 9, step: Int64(1000 + i))], params: [], tags: []) }
        }()
        // In passes of at most 400 chunks: the history reads the same after each.
        #expect(try await store.compactMetricChunks(batch: 400) == 1)
        try await racing
        struct P: Equatable { let step: Int64, timestamp: Int64, value: String, model: String? }
        let shape = { (m: Metric) in P(step: m.step, timestamp: m.timestamp, value: "\(m.value)", model: m.modelID) }
        var passes = 1
        while passes < 20, try await store.compactMetricChunks(batch: 400) > 0 {
            passes += 1
            let now = try await store.metricHistory(runID: run, key: "loss", limit: nil, offset: 0).items
            #expect(now.filter { $0.step < 1000 }.map(shape) == before.map(shape))
        }
        #expect(passes >= 3, "1,330 small chunks take several passes of 400")
        let after = try await store.metricHistory(runID: run, key: "loss", limit: nil, offset: 0).items
        #expect(after.filter { $0.step < 1000 }.map(shape) == before.map(shape))
        #expect(after.filter { $0.step >= 1000 }.map(\.step) == (1000..<1050).map(Int64.init))
        // The 1,300 points of two contexts in a few chunks, where there were 1,330.
        let merged = try await chunkCount(belowStep: 1000)
        #expect(merged != nil && merged! <= 10, "\(String(describing: merged)) chunks")
        #expect(try await store.compactMetricChunks() == 0, "nothing left to compact")
        var paged: [Metric] = []
        var offset = 0
        while true {
            let page = try await store.metricHistory(runID: run, key: "loss", limit: 128, offset: offset)
            paged += page.items
            guard let token = page.nextPageToken else { break }
            offset = try PageToken.decode(token)
        }
        #expect(paged.map(shape) == after.map(shape))
    }

    @Test("arrays are read from PostgreSQL's binary format: unicode and empty texts, empty and NULL arrays, extreme integers, NaN and infinities")
    func arrays() async throws {
        let store = try await TestPostgres.store()
        defer { Task { await store.close() } }
        let row = try await store.read { [logger = store.logger] db in
            var out: ([String], [String], [String], [Int64], [Double], [Bool])?
            try await db.eachRow(
                """
                SELECT ARRAY['', 'ü∂ 日本', 'a b']::text[], '{}'::text[], NULL::text[], ARRAY[1, -9223372036854775808, 9223372036854775807]::int8[],
                    ARRAY['NaN', '-Infinity', '1.5', '-0']::float8[], ARRAY[true, false]
                """, logger: logger
            ) { c in out = (try c.texts(), try c.texts(), try c.texts(), try c.ints(), try c.doubles(), try c.bools()) }
            return out
        }
        let r = try #require(row)
        #expect(r.0 == ["", "ü∂ 日本", "a b"] && r.1.isEmpty && r.2.isEmpty)
        #expect(r.3 == [1, .min, .max])
        #expect(r.4.count == 4 && r.4[0].isNaN && r.4[1] == -.infinity && r.4[2] == 1.5 && r.4[3].sign == .minus)
        #expect(r.5 == [true, false])
        // A NULL element, or a type other than asked, is the database's malformed answer, not a crash.
        await #expect(throws: EnsembleError.self) {
            try await store.read { [logger = store.logger] db in try await db.eachRow("SELECT ARRAY['a', NULL]::text[]", logger: logger) { c in _ = try c.texts() } }
        }
        await #expect(throws: EnsembleError.self) {
            try await store.read { [logger = store.logger] db in try await db.eachRow("SELECT ARRAY[1]::int4[]", logger: logger) { c in _ = try c.ints() } }
        }
    }

    @Test("chunks whose steps overlap form one segment; a segment of one chunk counts exactly, of several at least its largest")
    func segments() {
        let plan = MetricChunkPlan(chunks: [
            Chunk(firstStep: 0, lastStep: 99, points: 100), Chunk(firstStep: 100, lastStep: 199, points: 100),
            Chunk(firstStep: 150, lastStep: 170, points: 21), Chunk(firstStep: 199, lastStep: 250, points: 30),
            Chunk(firstStep: 300, lastStep: 300, points: 1),
        ])
        #expect(plan.segments == [
            .init(steps: 0...99, chunks: 1, atLeast: 100), .init(steps: 100...250, chunks: 3, atLeast: 100), .init(steps: 300...300, chunks: 1, atLeast: 1),
        ])
        // A page inside the first segment reads it alone.
        #expect(plan.pageRead(offset: 10, count: 20)! == (0...99, 10))
        // A page past the first segment skips it by its count; the repeats of the second are unknown,
        // so a page reaching past its surely-there points reads the third too.
        #expect(plan.pageRead(offset: 100, count: 50)! == (100...250, 0))
        #expect(plan.pageRead(offset: 150, count: 60)! == (100...300, 50))
        // Nothing is skipped past a segment of several chunks: its count is not known.
        #expect(plan.pageRead(offset: 1000, count: 5)! == (100...300, 900))
        #expect(MetricChunkPlan(chunks: [Chunk(firstStep: 0, lastStep: 9, points: 10)]).pageRead(offset: 10, count: 5) == nil)
        #expect(MetricChunkPlan(chunks: []).pageRead(offset: 0, count: 5) == nil)
    }
}

@Suite("migrate-store's parts")
struct TableCopyTests {
    @Test("every PostgreSQL table is in the import order, and the SQLite store has the same tables")
    func tables() async throws {
        let store = try await TestPostgres.store()
        defer { Task { await store.close() } }
        #expect(Set(PostgresStore.importOrder) == (try await store.tables()))
        #expect(PostgresStore.importOrder.count == Set(PostgresStore.importOrder).count)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-tables-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        _ = try SQLiteStore(path: dir.path + "/db.sqlite")
        #expect(try SQLiteTableReader(path: dir.path + "/db.sqlite").tables() == Set(PostgresStore.importOrder))
    }

    @Test("a table checksum ignores row order and sees any changed, lost or extra value")
    func checksum() {
        let rows: [[TableValue]] = [[.int(1), .text("a"), .null], [.int(2), .text("b"), .double(0.5)], [.int(3), .bytes([0, 1]), .bool(true)]]
        var forward = TableChecksum(), backward = TableChecksum()
        rows.forEach { forward.add($0) }
        rows.reversed().forEach { backward.add($0) }
        #expect(forward == backward && forward.rows == 3)
        for changed in [[TableValue.int(1), .text("a"), .text("")], [.int(1), .text("a ")], [.int(1), .text("a"), .null, .null]] {
            var other = TableChecksum()
            ([changed] + rows.dropFirst()).forEach { other.add($0) }
            #expect(other != forward, "\(changed)")
        }
        var fewer = TableChecksum()
        rows.dropLast().forEach { fewer.add($0) }
        #expect(fewer != forward)
        // Types are part of the value: 1 is not "1" and not 1.0.
        var a = TableChecksum(), b = TableChecksum(), c = TableChecksum()
        a.add([.int(1)])
        b.add([.text("1")])
        c.add([.double(1)])
        #expect(a != b && a != c && b != c)
    }

    @Test("values convert to the target column's type; impossible ones are refused")
    func convert() {
        #expect(TableColumnType.bool.convert(.int(1)) == .bool(true))
        #expect(TableColumnType.bool.convert(.int(0)) == .bool(false))
        #expect(TableColumnType.double.convert(.int(3)) == .double(3))
        #expect(TableColumnType.int.convert(.null) == .null)
        #expect(TableColumnType.int.convert(.text("x")) == nil)
        #expect(TableColumnType.text.convert(.double(1)) == nil)
    }
}

@Suite("PostgreSQL store: group commit of metric writes")
struct GroupCommitTests {
    @Test("concurrent metric writes commit together; a deleted run, a missing run and a refused value fail alone, the rest are all stored",
          arguments: StoreBackend.all)
    func group(backend: StoreBackend) async throws {
        let store = try await backend.make()
        defer { Task { await store.shutdown() } }
        // PostgreSQL refuses NUL in text; SQLite stores it, so there that write succeeds.
        let nulRefused = backend.name == "PostgreSQL"
        var runs: [String] = []
        for i in 0..<8 { runs.append(try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "r\(i)", startTime: 1, tags: [])).info.runID) }
        let deleted = try await store.createRun(NewRun(experimentID: "0", userID: "u", runName: "gone", startTime: 1, tags: [])).info.runID
        try await store.deleteRun(id: deleted)
        let ids = runs
        let results = await withTaskGroup(of: (Int, EnsembleError.Code?).self) { group in
            for i in 0..<400 {
                group.addTask {
                    let run = i == 7 ? deleted : i == 13 ? "no-such-run" : ids[i % ids.count]
                    let key = i == 21 ? "bad\u{0}key" : "loss"
                    let code = await errorCode {
                        try await store.logBatch(
                            runID: run, metrics: [Metric(key: key, value: Double(i), timestamp: 1, step: Int64(i)), Metric(key: "acc", value: 0.5, timestamp: 1, step: Int64(i))],
                            params: [], tags: [])
                    }
                    return (i, code)
                }
            }
            return await group.reduce(into: [Int: EnsembleError.Code?]()) { $0[$1.0] = $1.1 }
        }
        #expect(results[7]! == .invalidParameterValue, "a deleted run is refused")
        #expect(results[13]! == .resourceDoesNotExist, "a missing run is not found")
        #expect(results[21]! == (nulRefused ? .invalidParameterValue : nil), "a NUL in a key is refused where the database cannot hold it")
        let failed: Set<Int> = nulRefused ? [7, 13, 21] : [7, 13]
        #expect(results.filter { !failed.contains($0.key) }.allSatisfy { $0.value == nil }, "every other write succeeded")
        // Every acknowledged point is stored, and the latest value of each run is its highest step.
        for (r, run) in runs.enumerated() {
            let expected = (0..<400).filter { $0 % runs.count == r && ![7, 13, 21].contains($0) }
            let history = try await store.metricHistory(runID: run, key: "loss", limit: nil, offset: 0).items
            #expect(history.map(\.step) == expected.map(Int64.init))
            let latest = try await store.run(id: run).metrics.first { $0.key == "loss" }
            #expect(latest?.step == Int64(expected.last!))
        }
    }
}
