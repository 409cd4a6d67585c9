import EnsembleCore
import Foundation
import NIOConcurrencyHelpers

/// Per-resource permissions: who may change (EDIT) or delete, share and promote (MANAGE) one
/// experiment, registered model, project or dataset. Everyone signed in reads everything.
///
/// A member's permission on a resource is their grant if they have one, else the configured default
/// (EDIT unless `--default-permission READ`); the creator of a resource gets MANAGE on it; admins have
/// MANAGE everywhere and viewers READ. Grants are cached for a few seconds per server (and dropped at
/// once on this server when changed), so a write pays no extra query on the hot path.
final class AccessControl: Sendable {
    let grants: any GrantStore
    let tracking: any TrackingStore
    let datasets: (any StoredDatasetStore)?
    let memberDefault: Permission
    /// Aliases that count as production: setting or deleting them needs MANAGE.
    let protectedAliases: Set<String>
    static let cacheLifetime: Int64 = 5_000
    private let cache = NIOLockedValueBox([String: (Permission?, Int64)]())
    /// Runs and logged models never move between experiments, so their owner is cached for good.
    private let owners = NIOLockedValueBox([String: String]())

    init(
        grants: any GrantStore, tracking: any TrackingStore, datasets: (any StoredDatasetStore)? = nil, memberDefault: Permission = .edit,
        protectedAliases: Set<String> = ["champion", "production"]
    ) {
        self.grants = grants
        self.tracking = tracking
        self.datasets = datasets
        self.memberDefault = memberDefault
        self.protectedAliases = protectedAliases
    }

    /// What `principal` may do with the resource.
    func permission(_ principal: Principal, _ kind: ResourceKind, _ resource: String) async throws -> Permission {
        switch principal.role {
        case .admin?: return .manage
        case .viewer?, nil: return .read
        case .member?: break
        }
        let key = "\(kind.rawValue)\u{0}\(resource)\u{0}\(principal.name)"
        let now = Authenticator.now()
        let cached = cache.withLockedValue { $0[key] }
        let granted: Permission?
        if let cached, cached.1 > now {
            granted = cached.0
        } else {
            granted = try await grants.grant(kind, resource, user: principal.name)
            cache.withLockedValue { entries in
                if entries.count > 50_000 { entries.removeAll() }
                entries[key] = (granted, now + Self.cacheLifetime)
            }
        }
        return granted ?? memberDefault
    }

    /// Refuses with a 403 unless `principal` has at least `needed` on the resource.
    func require(_ principal: Principal, _ needed: Permission, _ kind: ResourceKind, _ resource: String) async throws {
        let has = try await permission(principal, kind, resource)
        guard has >= needed else {
            let what = kind == .registeredModel ? "registered model '\(resource)'" : "\(kind.rawValue) '\(resource)'"
            throw EnsembleError.denied(
                "This needs \(needed.rawValue) permission on \(what); '\(principal.name)' has \(has.rawValue). Someone with MANAGE on it (its creator) or an admin can grant it.")
        }
    }

    /// Gives the creator of a new resource MANAGE on it.
    func created(_ kind: ResourceKind, _ resource: String, by principal: Principal?) async throws {
        guard let principal, principal.isVerified else { return }
        try await set(kind, resource, user: principal.name, .manage)
    }

    func set(_ kind: ResourceKind, _ resource: String, user: String, _ permission: Permission?) async throws {
        try await grants.setGrant(kind, resource, user: user, permission: permission)
        let key = "\(kind.rawValue)\u{0}\(resource)\u{0}\(user)"
        cache.withLockedValue { $0[key] = nil }
    }

    /// Whether a stored dataset of this name has any version.
    func datasetExists(_ name: String) async throws -> Bool {
        guard let datasets else { return false }
        return try await !datasets.storedDatasetVersions(name: name).isEmpty
    }

    /// Drops every grant on a resource that is gone for good.
    func forget(_ kind: ResourceKind, _ resource: String) async throws {
        for g in try await grants.grants(kind, resource) { try await set(kind, resource, user: g.user, nil) }
    }

    /// The experiment a run or logged model belongs to (404 when neither exists).
    func experiment(owning id: String) async throws -> String {
        if let known = owners.withLockedValue({ $0[id] }) { return known }
        guard let experiment = try await tracking.experimentID(owning: id) else {
            throw EnsembleError.notFound("Run or logged model with id=\(id) not found")
        }
        owners.withLockedValue { entries in
            if entries.count > 200_000 { entries.removeAll() }
            entries[id] = experiment
        }
        return experiment
    }
}
