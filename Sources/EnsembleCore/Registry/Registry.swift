import Foundation

/// A model version's legacy stage. Stages are matched without regard to case on input and written
/// with MLflow's capitalisation.
public enum ModelStage: String, Sendable, Equatable, CaseIterable {
    case none = "None"
    case staging = "Staging"
    case production = "Production"
    case archived = "Archived"

    public init?(wire: String) {
        guard let stage = Self.allCases.first(where: { $0.rawValue.lowercased() == wire.lowercased() }) else { return nil }
        self = stage
    }
}

public struct ModelVersion: Sendable, Equatable {
    public var name: String
    public var version: Int64
    public var creationTimestamp: Int64
    public var lastUpdatedTimestamp: Int64
    public var currentStage: ModelStage
    public var description: String?
    public var source: String
    public var runID: String?
    public var runLink: String?
    public var modelID: String?
    /// Where the version's files are (`get-download-uri`): the source resolved through `runs:/` or
    /// `models:/` indirections.
    public var storageLocation: String
    public var tags: [KeyValue]
    public var aliases: [String]

    public init(
        name: String, version: Int64, creationTimestamp: Int64, lastUpdatedTimestamp: Int64, currentStage: ModelStage = .none,
        description: String? = nil, source: String, runID: String? = nil, runLink: String? = nil, modelID: String? = nil,
        storageLocation: String, tags: [KeyValue] = [], aliases: [String] = []
    ) {
        self.name = name
        self.version = version
        self.creationTimestamp = creationTimestamp
        self.lastUpdatedTimestamp = lastUpdatedTimestamp
        self.currentStage = currentStage
        self.description = description
        self.source = source
        self.runID = runID
        self.runLink = runLink
        self.modelID = modelID
        self.storageLocation = storageLocation
        self.tags = tags
        self.aliases = aliases
    }
}

public struct RegisteredModel: Sendable, Equatable {
    public var name: String
    public var creationTimestamp: Int64
    public var lastUpdatedTimestamp: Int64
    public var description: String?
    public var tags: [KeyValue]
    /// `(alias, version)` pairs, the version as decimal text.
    public var aliases: [KeyValue]
    /// The latest version in each stage that has one.
    public var latestVersions: [ModelVersion]

    public init(
        name: String, creationTimestamp: Int64, lastUpdatedTimestamp: Int64, description: String? = nil, tags: [KeyValue] = [],
        aliases: [KeyValue] = [], latestVersions: [ModelVersion] = []
    ) {
        self.name = name
        self.creationTimestamp = creationTimestamp
        self.lastUpdatedTimestamp = lastUpdatedTimestamp
        self.description = description
        self.tags = tags
        self.aliases = aliases
        self.latestVersions = latestVersions
    }
}

/// A new model version, with its storage location already resolved and checked.
public struct NewModelVersion: Sendable {
    public var name: String
    public var source: String
    public var storageLocation: String
    public var runID: String?
    public var runLink: String?
    public var modelID: String?
    public var description: String?
    public var tags: [KeyValue]

    public init(
        name: String, source: String, storageLocation: String, runID: String?, runLink: String?, modelID: String?, description: String?,
        tags: [KeyValue]
    ) {
        self.name = name
        self.source = source
        self.storageLocation = storageLocation
        self.runID = runID
        self.runLink = runLink
        self.modelID = modelID
        self.description = description
        self.tags = tags
    }
}

/// One entry of a registered model's append-only history: which version, alias or stage changed,
/// and when. (Who: recorded once accounts exist.)
public struct RegistryEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case versionCreated = "version_created"
        case aliasSet = "alias_set"
        case aliasDeleted = "alias_deleted"
        case stageChanged = "stage_changed"
        case versionDeleted = "version_deleted"
        /// A release gate judged the version (`ensemble gate --model … --version …`).
        case gateRecorded = "gate_recorded"
        /// A handoff of the version was accepted by its receiver.
        case handoffAccepted = "handoff_accepted"
        /// A deployment of the version changed (`ensemble deploy record`).
        case deployment = "deployment"
    }

    public var name: String
    public var version: Int64?
    public var kind: Kind
    public var detail: String
    public var actor: String?
    public var timestamp: Int64

    public init(name: String, version: Int64?, kind: Kind, detail: String, actor: String?, timestamp: Int64) {
        self.name = name
        self.version = version
        self.kind = kind
        self.detail = detail
        self.actor = actor
        self.timestamp = timestamp
    }
}

public struct RegistrySearch: Sendable {
    public var filter: [SearchClause]
    public var orderBy: [OrderByClause]
    public var maxResults: Int
    public var offset: Int
    public init(filter: [SearchClause] = [], orderBy: [OrderByClause] = [], maxResults: Int = 100, offset: Int = 0) {
        self.filter = filter
        self.orderBy = orderBy
        self.maxResults = maxResults
        self.offset = offset
    }
}

/// Persistence of the model registry. Each method is one transaction; version numbers are never
/// reused, even after deletes.
public protocol RegistryStore: Sendable {
    func createRegisteredModel(name: String, description: String?, tags: [KeyValue]) async throws -> RegisteredModel
    func registeredModel(name: String) async throws -> RegisteredModel
    func renameRegisteredModel(name: String, newName: String) async throws -> RegisteredModel
    func updateRegisteredModel(name: String, description: String?) async throws -> RegisteredModel
    func deleteRegisteredModel(name: String) async throws
    func searchRegisteredModels(_ search: RegistrySearch) async throws -> Page<RegisteredModel>
    func latestVersions(name: String, stages: [ModelStage]) async throws -> [ModelVersion]
    func setRegisteredModelTag(name: String, tag: KeyValue) async throws
    func deleteRegisteredModelTag(name: String, key: String) async throws

    func createModelVersion(_ version: NewModelVersion, actor: String?) async throws -> ModelVersion
    func modelVersion(name: String, version: Int64) async throws -> ModelVersion
    func updateModelVersion(name: String, version: Int64, description: String?) async throws -> ModelVersion
    func transitionStage(name: String, version: Int64, stage: ModelStage, archiveExisting: Bool, actor: String?) async throws -> ModelVersion
    func deleteModelVersion(name: String, version: Int64, actor: String?) async throws
    func searchModelVersions(_ search: RegistrySearch) async throws -> Page<ModelVersion>
    func setModelVersionTag(name: String, version: Int64, tag: KeyValue) async throws
    func deleteModelVersionTag(name: String, version: Int64, key: String) async throws

    func setAlias(name: String, alias: String, version: Int64, actor: String?) async throws
    func deleteAlias(name: String, alias: String, actor: String?) async throws
    func versionByAlias(name: String, alias: String) async throws -> ModelVersion
    /// The append-only history of one registered model, oldest first.
    func registryEvents(name: String) async throws -> [RegistryEvent]
}

extension Validation {
    /// Registered model names: not blank, no `/`, `:`, `\` or NUL, and not `.` or `..`.
    public static func validateModelName(_ name: String) throws(EnsembleError) {
        if name.allSatisfy(\.isWhitespace) { throw .missing("name") }
        if name.contains("/") || name.contains(":") || name.contains("\\") || name.utf8.contains(0) {
            throw .invalid("Invalid model name: '\(name)'. Names must not contain '/', ':', '\\' or NUL.")
        }
        if name == "." || name == ".." || name.count > 256 {
            throw .invalid("Invalid model name: '\(name)'. Choose a plain name of at most 256 characters.")
        }
        try Validation.validateDisplayName(name, field: "model name", maxLength: 256)
    }

    /// Aliases: letters, digits, `_` and `-`, at most 255 characters, and not `latest` or `v<digits>`
    /// (those already name versions).
    public static func validateAlias(_ alias: String) throws(EnsembleError) {
        if alias.isEmpty { throw .missing("alias") }
        let ok =
            alias.count <= 255
            && alias.unicodeScalars.allSatisfy { $0 == "_" || $0 == "-" || $0.properties.isAlphabetic || $0.properties.numericType != nil }
        if !ok {
            throw .invalid("Invalid alias name: '\(alias)'. Aliases may only contain letters, digits, '_' and '-', at most 255 characters.")
        }
        let lower = alias.lowercased()
        if lower == "latest" || (lower.hasPrefix("v") && lower.count > 1 && lower.dropFirst().allSatisfy(\.isNumber)) {
            throw .invalid("'\(alias)' alias name (case insensitive) is reserved.")
        }
    }
}

/// A logged model's `mlflow.modelVersions` tag: the registered versions made from it, written exactly
/// as MLflow writes it (Python's `json.dumps`: `[{"name": "m", "version": 1}]`), since clients parse it.
public enum ModelVersionsTag {
    public static let key = "mlflow.modelVersions"

    /// The tag's value with `{name, version}` added (once), keeping what `existing` lists.
    public static func adding(name: String, version: Int64, to existing: String?) -> String {
        var list: [(name: String, version: Int64)] = []
        for item in (existing.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [[String: Any]] }) ?? [] {
            guard let n = item["name"] as? String else { continue }
            // Earlier Ensemble versions wrote the version as a string.
            guard let v = (item["version"] as? NSNumber)?.int64Value ?? (item["version"] as? String).flatMap({ Int64($0) }) else { continue }
            list.append((n, v))
        }
        if !list.contains(where: { $0.name == name && $0.version == version }) { list.append((name, version)) }
        return "[" + list.map { "{\"name\": \(pythonJSONString($0.name)), \"version\": \($0.version)}" }.joined(separator: ", ") + "]"
    }

    /// A JSON string as Python's `json.dumps` writes it (ASCII only; others as `\uXXXX`).
    public static func pythonJSONString(_ s: String) -> String {
        var out = "\""
        for unit in s.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default: out += String(format: "\\u%04x", unit)
            }
        }
        return out + "\""
    }
}
