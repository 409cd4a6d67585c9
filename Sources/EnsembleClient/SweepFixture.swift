import EnsembleCore
import Foundation

/// A hyperparameter sweep of the shape real fine-tuning work has, generated (never stored as a file):
/// runs with long names, 100+ params with long dotted names (most shared, some swept), prefixed metric
/// families (`train/`, `val/`, `test/`), MLflow-style `system/…` metrics for CPU, memory, disk, network and
/// two GPUs, one single-point metric (`test/accuracy`) and, on the first run, a 100,000-point series.
///
/// The same seed gives the same sweep. `ensemble demo` uploads one; the browser tests and the UI
/// benchmark use it to check the pages at this shape.
public struct SweepFixture: Sendable {
    public struct FixtureRun: Sendable {
        public var name: String
        public var startTime: Int64
        public var endTime: Int64
        public var params: [KeyValue]
        public var tags: [KeyValue]
        public var metrics: [Metric]
    }

    public static let experimentName = "llm-finetune-sweep"
    /// The metric with one value per run.
    public static let singlePointMetric = "test/accuracy"
    /// The long series on the first run.
    public static let longSeries = "train/loss_per_token"

    public var runCount: Int
    public var longSeriesPoints: Int
    public var seed: UInt64
    /// When the sweep's first run started (ms since 1970).
    public var start: Int64

    public init(runs: Int = 48, longSeriesPoints: Int = 100_000, seed: UInt64 = 20_261_202, start: Int64) {
        self.runCount = runs
        self.longSeriesPoints = longSeriesPoints
        self.seed = seed
        self.start = start
    }

    static let learningRates = ["1e-4", "3e-4", "1e-3"]
    static let ranks = [8, 16, 32, 64]
    static let batchSizes = [32, 64]

    /// Parameters every run shares: a T5-style config dump with long dotted names.
    static let sharedParams: [KeyValue] = {
        var p: [KeyValue] = []
        for i in 0..<24 {
            p.append(KeyValue(key: "model.encoder.block.\(i).layer.0.SelfAttention.relative_attention_num_buckets", value: "32"))
            p.append(KeyValue(key: "model.decoder.block.\(i).layer.1.EncDecAttention.dropout_probability", value: i < 12 ? "0.1" : "0.05"))
            p.append(KeyValue(key: "model.decoder.block.\(i).layer.2.DenseReluDense.activation_function", value: "gated-gelu"))
        }
        for i in 0..<8 {
            p.append(KeyValue(key: "optimizer.param_groups.\(i).weight_decay_exclusion_pattern", value: "layer_norm|bias|embed_tokens.weight|relative_attention_bias"))
        }
        let misc: [(String, String)] = [
            ("model.name_or_path", "google/t5-v1_1-large"), ("model.config.d_model", "1024"), ("model.config.num_heads", "16"),
            ("model.config.vocab_size", "32128"), ("data.dataset_name", "cnn_dailymail/3.0.0"), ("data.max_source_length", "1024"),
            ("data.max_target_length", "142"), ("data.preprocessing.tokenizer.padding_side", "right"),
            ("data.preprocessing.tokenizer.truncation_strategy", "longest_first"), ("trainer.num_train_epochs", "3"),
            ("trainer.fp16", "False"), ("trainer.bf16", "True"), ("trainer.gradient_checkpointing", "True"),
            ("trainer.eval_strategy", "steps"), ("trainer.eval_steps", "20"), ("trainer.logging_steps", "1"),
            ("trainer.save_total_limit", "2"), ("trainer.dataloader_num_workers", "8"), ("lora.dropout", "0.05"),
            ("lora.target_modules", "q,k,v,o,wi_0,wi_1,wo"), ("scheduler.type", "cosine_with_restarts"),
        ]
        p += misc.map { KeyValue(key: $0.0, value: $0.1) }
        return p
    }()

    /// System metrics as `mlflow.start_run(log_system_metrics=True)` names them.
    static let systemMetrics: [(String, Double, Double)] = [
        ("system/cpu_utilization_percentage", 35, 25), ("system/system_memory_usage_megabytes", 61_000, 4_000),
        ("system/system_memory_usage_percentage", 47, 3), ("system/disk_usage_percentage", 71, 1),
        ("system/disk_usage_megabytes", 652_000, 2_000), ("system/disk_available_megabytes", 266_000, 2_000),
        ("system/network_receive_megabytes", 120, 80), ("system/network_transmit_megabytes", 40, 30),
        ("system/gpu_0_utilization_percentage", 88, 10), ("system/gpu_0_memory_usage_megabytes", 71_000, 3_000),
        ("system/gpu_0_memory_usage_percentage", 87, 4), ("system/gpu_0_power_usage_watts", 310, 40),
        ("system/gpu_1_utilization_percentage", 86, 10), ("system/gpu_1_memory_usage_megabytes", 70_500, 3_000),
        ("system/gpu_1_memory_usage_percentage", 86, 4), ("system/gpu_1_power_usage_watts", 305, 40),
    ]

    /// The runs, generated from the seed.
    public func runs() -> [FixtureRun] {
        var rng = SeededRandom(seed: seed)
        return (0..<runCount).map { i in
            let lr = Self.learningRates[i % Self.learningRates.count]
            let rank = Self.ranks[(i / Self.learningRates.count) % Self.ranks.count]
            let batch = Self.batchSizes[(i / (Self.learningRates.count * Self.ranks.count)) % Self.batchSizes.count]
            let seed = 1000 + i
            let name = "t5-large-lora-r\(rank)-alpha\(rank * 2)-lr\(lr)-bs\(batch)-cosine-warmup500-seed\(seed)"
            var params = Self.sharedParams
            params += [
                KeyValue(key: "optimizer.learning_rate", value: lr), KeyValue(key: "lora.r", value: String(rank)),
                KeyValue(key: "lora.alpha", value: String(rank * 2)), KeyValue(key: "data.train_batch_size", value: String(batch)),
                KeyValue(key: "trainer.seed", value: String(seed)), KeyValue(key: "scheduler.warmup_steps", value: "500"),
                KeyValue(key: "trainer.gradient_accumulation_steps", value: String(256 / batch)),
            ]
            // The quality the sweep finds: best near lr 3e-4 and rank 32, plus seed noise.
            let lrPenalty = [0.018, 0.0, 0.025][i % Self.learningRates.count]
            let rankGain = [0.0, 0.006, 0.011, 0.009][(i / Self.learningRates.count) % Self.ranks.count]
            let quality = 0.40 - lrPenalty + rankGain + (rng.nextDouble() - 0.5) * 0.008
            let runStart = start + Int64(i) * 3_600_000
            var metrics: [Metric] = []
            let steps = 200
            for step in 0..<steps {
                let t = runStart + Int64(step) * 2_000
                let progress = Double(step) / Double(steps)
                let loss = 2.6 * exp(-3.5 * progress) + 1.1 - quality + (rng.nextDouble() - 0.5) * 0.08
                metrics.append(Metric(key: "train/loss", value: loss, timestamp: t, step: Int64(step)))
                metrics.append(Metric(key: "train/learning_rate", value: (Double(lr) ?? 3e-4) * 0.5 * (1 + cos(Double.pi * progress)), timestamp: t, step: Int64(step)))
                metrics.append(Metric(key: "train/grad_norm", value: 0.4 + 2 * exp(-5 * progress) + rng.nextDouble() * 0.3, timestamp: t, step: Int64(step)))
                if step % 20 == 19 {
                    let reached = quality * (1 - exp(-4 * progress - 0.4))
                    for (key, scale) in [("val/rouge1", 1.08), ("val/rouge2", 0.52), ("val/rougeL", 1.0), ("val/bleu", 0.55)] {
                        metrics.append(Metric(key: key, value: reached * scale + (rng.nextDouble() - 0.5) * 0.004, timestamp: t, step: Int64(step)))
                    }
                    metrics.append(Metric(key: "val/loss", value: 1.9 * exp(-3 * progress) + 1.2 - quality, timestamp: t, step: Int64(step)))
                    metrics.append(Metric(key: "val/exact_match", value: reached * 0.3, timestamp: t, step: Int64(step)))
                }
                if step % 10 == 0 {
                    for (key, base, spread) in Self.systemMetrics {
                        metrics.append(Metric(key: key, value: (base + (rng.nextDouble() - 0.5) * spread).rounded(toPlaces: 1), timestamp: t, step: Int64(step / 10)))
                    }
                }
            }
            let end = runStart + Int64(steps) * 2_000
            metrics.append(Metric(key: Self.singlePointMetric, value: (0.55 + quality).rounded(toPlaces: 4), timestamp: end, step: 0))
            if i == 0 {
                for step in 0..<longSeriesPoints {
                    let progress = Double(step) / Double(max(1, longSeriesPoints))
                    metrics.append(Metric(key: Self.longSeries, value: 3.2 * exp(-4 * progress) + 0.9 + (rng.nextDouble() - 0.5) * 0.3, timestamp: runStart + Int64(step), step: Int64(step)))
                }
            }
            let tags = [
                KeyValue(key: "sweep.arm", value: "lr=\(lr) r=\(rank)"), KeyValue(key: "hardware", value: "2x A100-SXM4-80GB"),
                KeyValue(key: "mlflow.source.git.commit", value: String(format: "%08x", 0x5eed_0000 + i)), KeyValue(key: "mlflow.user", value: "chen"),
            ]
            return FixtureRun(name: name, startTime: runStart, endTime: end, params: params, tags: tags, metrics: metrics)
        }
    }

    /// Creates the experiment and its runs on a server through the MLflow REST API (1,000 points and
    /// 100 params per request, the API's limits); calls `progress` after each run.
    public func upload(to client: EnsembleClient, experiment: String = SweepFixture.experimentName,
                       progress: (@Sendable (Int, Int) -> Void)? = nil) async throws -> String {
        struct Created: Decodable { let experiment_id: String }
        struct KV: Encodable {
            let key, value: String
            init(_ kv: KeyValue) { (key, value) = (kv.key, kv.value) }
        }
        struct NewRun: Encodable { let experiment_id: String, run_name: String, start_time: Int64, tags: [KV] }
        struct RunCreated: Decodable { struct R: Decodable { struct I: Decodable { let run_id: String }; let info: I }; let run: R }
        struct Point: Encodable { let key: String, value: Double, timestamp: Int64, step: Int64 }
        struct Batch: Encodable { let run_id: String, metrics: [Point], params: [KV], tags: [KV] }
        struct Update: Encodable { let run_id: String, status: String, end_time: Int64 }
        func json(_ value: some Encodable) throws -> String { String(decoding: try JSONEncoder().encode(value), as: UTF8.self) }

        let made = try await client.request("POST", "/api/2.0/mlflow/experiments/create", json: try json(["name": experiment]))
        let experimentID = try JSONDecoder().decode(Created.self, from: Data(made.utf8)).experiment_id
        let all = runs()
        for (n, run) in all.enumerated() {
            let created = try await client.request(
                "POST", "/api/2.0/mlflow/runs/create",
                json: try json(NewRun(experiment_id: experimentID, run_name: run.name, start_time: run.startTime, tags: run.tags.map(KV.init))))
            let runID = try JSONDecoder().decode(RunCreated.self, from: Data(created.utf8)).run.info.run_id
            for chunk in stride(from: 0, to: run.params.count, by: 100) {
                let params = run.params[chunk..<min(chunk + 100, run.params.count)].map(KV.init)
                _ = try await client.request("POST", "/api/2.0/mlflow/runs/log-batch", json: try json(Batch(run_id: runID, metrics: [], params: params, tags: [])))
            }
            for chunk in stride(from: 0, to: run.metrics.count, by: 1000) {
                let points = run.metrics[chunk..<min(chunk + 1000, run.metrics.count)].map { Point(key: $0.key, value: $0.value, timestamp: $0.timestamp, step: $0.step) }
                _ = try await client.request("POST", "/api/2.0/mlflow/runs/log-batch", json: try json(Batch(run_id: runID, metrics: points, params: [], tags: [])))
            }
            _ = try await client.request("POST", "/api/2.0/mlflow/runs/update", json: try json(Update(run_id: runID, status: "FINISHED", end_time: run.endTime)))
            progress?(n + 1, all.count)
        }
        return experimentID
    }
}

extension Double {
    fileprivate func rounded(toPlaces places: Int) -> Double {
        let scale = Foundation.pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}
