import EnsembleCore
import EnsembleJSON

/// Proto-JSON shapes of MLflow's entities, written directly with ``JSONWriter``.
extension JSONWriter {
    mutating func keyValues(_ name: StaticString, _ items: [KeyValue]) {
        key(name)
        beginArray()
        for kv in items {
            beginObject()
            member("key", kv.key)
            member("value", kv.value)
            endObject()
        }
        endArray()
    }

    mutating func experiment(_ e: Experiment) {
        beginObject()
        member("experiment_id", e.id)
        member("name", e.name)
        member("artifact_location", e.artifactLocation)
        member("lifecycle_stage", e.lifecycleStage.rawValue)
        member("last_update_time", e.lastUpdateTime)
        member("creation_time", e.creationTime)
        keyValues("tags", e.tags)
        endObject()
    }

    mutating func metric(_ m: Metric) {
        beginObject()
        member("key", m.key)
        member("value", double: m.value)
        member("timestamp", m.timestamp)
        member("step", m.step)
        optionalMember("model_id", m.modelID)
        optionalMember("dataset_name", m.datasetName)
        optionalMember("dataset_digest", m.datasetDigest)
        optionalMember("run_id", m.runID)
        endObject()
    }

    mutating func runInfo(_ i: RunInfo) {
        beginObject()
        member("run_id", i.runID)
        member("run_uuid", i.runID)
        member("run_name", i.runName)
        member("experiment_id", i.experimentID)
        member("user_id", i.userID)
        member("status", i.status.rawValue)
        member("start_time", i.startTime)
        optionalMember("end_time", i.endTime)
        member("artifact_uri", i.artifactURI)
        member("lifecycle_stage", i.lifecycleStage.rawValue)
        endObject()
    }

    mutating func run(_ r: Run) {
        beginObject()
        key("info")
        runInfo(r.info)
        key("data")
        beginObject()
        key("metrics")
        beginArray()
        for m in r.metrics { metric(m) }
        endArray()
        keyValues("params", r.params)
        keyValues("tags", r.tags)
        endObject()
        key("inputs")
        beginObject()
        key("dataset_inputs")
        beginArray()
        for input in r.datasetInputs {
            beginObject()
            keyValues("tags", input.tags)
            key("dataset")
            beginObject()
            member("name", input.dataset.name)
            member("digest", input.dataset.digest)
            member("source_type", input.dataset.sourceType)
            member("source", input.dataset.source)
            optionalMember("schema", input.dataset.schema)
            optionalMember("profile", input.dataset.profile)
            endObject()
            endObject()
        }
        endArray()
        key("model_inputs")
        beginArray()
        for m in r.modelInputs {
            beginObject()
            member("model_id", m)
            endObject()
        }
        endArray()
        endObject()
        key("outputs")
        beginObject()
        key("model_outputs")
        beginArray()
        for o in r.modelOutputs {
            beginObject()
            member("model_id", o.modelID)
            member("step", o.step)
            endObject()
        }
        endArray()
        endObject()
        endObject()
    }
}
