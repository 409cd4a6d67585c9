import Crypto
import EnsembleCore
import Foundation
import HummingbirdBcrypt
import NIOConcurrencyHelpers
import NIOPosix

/// Checks credentials: API tokens (Bearer, or as the Basic password) and passwords (Basic).
///
/// bcrypt is slow on purpose (~250 ms at cost 12), and the MLflow client sends Basic credentials on
/// every call, so a successful password check is remembered for ``cacheLifetime`` under a keyed hash
/// (HMAC-SHA256 with a key made at start-up) of user name and password: never the password itself,
/// and useless outside this process. A cached check is void once the password changes or the user is
/// disabled. Failed checks are throttled per account and per client address.
///
/// Tokens and the users behind cached checks are kept in memory for ``freshness`` (30 s): measured
/// with `scripts/bench --auth-only`, a database read per request cost log-metric more than half its
/// throughput (1,440 → 634 req/s at one connection; the async read's thread hops, not SQLite). Changes
/// made through this server (revoking, disabling, a new password) drop the cached entries at once;
/// another server behind the same database sees them within 30 s.
final class Authenticator: Sendable {
    let store: any IdentityStore
    /// bcrypt verification; tests count calls through it.
    let verify: @Sendable (_ password: String, _ hash: String) async -> Bool
    let throttle: SignInThrottle
    let cacheLifetime: Int64 = 5 * 60 * 1000
    private let cacheKey = SymmetricKey(size: .bits256)
    private let cache = NIOLockedValueBox([Data: CachedCheck]())
    /// When each token was last recorded as used; a token is written back at most once a minute.
    private let tokenUses = NIOLockedValueBox([Int64: Int64]())
    private static let maxCacheEntries = 10_000

    struct CachedCheck {
        var user: String
        var passwordChangedAt: Int64
        var expires: Int64
    }

    /// How long a token's record and a user's record are trusted without reading them again.
    static let freshness: Int64 = 30_000
    private let tokens = NIOLockedValueBox([String: (APIToken, User, Int64)]())
    private let users = NIOLockedValueBox([String: (User, Int64)]())

    /// Forgets every cached token and user (after a revocation, a role change, a password change).
    func invalidate() {
        tokens.withLockedValue { $0.removeAll() }
        users.withLockedValue { $0.removeAll() }
    }

    /// The user, from memory when read less than ``freshness`` ago.
    func freshUser(_ name: String, now: Int64) async throws -> User? {
        if let (user, at) = users.withLockedValue({ $0[name] }), now - at < Self.freshness { return user }
        let user = try await store.user(named: name)
        users.withLockedValue { entries in
            if entries.count > 10_000 { entries.removeAll() }
            entries[name] = user.map { ($0, now) }
        }
        return user
    }

    /// A failed check: the message for the 401, and whether it counts toward throttling.
    struct Failure: Error {
        var message: String
        var counts = true
    }

    /// Milliseconds since 1970; tests give a clock of their own, so that a throttle's wait does not
    /// run out while a loaded machine is still sending the burst.
    let clock: @Sendable () -> Int64

    init(
        store: any IdentityStore & ExpiringValueStore, verify: (@Sendable (String, String) async -> Bool)? = nil,
        clock: @escaping @Sendable () -> Int64 = Authenticator.now
    ) {
        self.store = store
        self.clock = clock
        self.throttle = SignInThrottle(values: store)
        self.verify = verify ?? { password, hash in
            // Off the event loops and the cooperative pool: bcrypt blocks its thread for ~250 ms.
            (try? await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(PasswordPolicy.prepared(password), hash: hash) }) ?? false
        }
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// The user an API token belongs to, if the token is active and its user enabled; the token; and
    /// whether this is the token's first use ever (as the store decides, across servers).
    func user(token: String, now: Int64? = nil) async throws -> (user: User, token: APIToken, firstUse: Bool) {
        let now = now ?? clock()
        guard TokenFormat.looksLikeToken(token) else {
            throw Failure(message: "The API token is not valid. Create a new one with `ensemble admin create-token` or on your account page.")
        }
        let hash = TokenFormat.hash(token)
        let record: APIToken, user: User
        if let (t, u, at) = tokens.withLockedValue({ $0[hash] }), now - at < Self.freshness {
            (record, user) = (t, u)
        } else {
            guard let (t, u) = try await store.token(hash: hash) else {
                throw Failure(message: "The API token is not valid. Create a new one with `ensemble admin create-token` or on your account page.")
            }
            (record, user) = (t, u)
            tokens.withLockedValue { entries in
                if entries.count > 10_000 { entries.removeAll() }
                entries[hash] = (t, u, now)
            }
        }
        guard record.revokedAt == nil else { throw Failure(message: "The API token '\(record.hint)' was revoked; create a new one.") }
        guard record.isActive(at: now) else { throw Failure(message: "The API token '\(record.hint)' expired; create a new one.") }
        guard !user.disabled else { throw Failure(message: "The account '\(user.name)' is disabled; ask an admin.") }
        let due = tokenUses.withLockedValue { uses -> Bool in
            guard (uses[record.id] ?? 0) + 60_000 <= now else { return false }
            uses[record.id] = now
            return true
        }
        // The first use is the store's answer, not the record's `lastUsedAt`: a cached copy keeps the
        // nil it was read with for up to `freshness`, which once wrote a `token.first_used` event per
        // request.
        let first = due ? ((try? await store.markTokenUsed(id: record.id, at: now)) ?? false) : false
        return (user, record, first)
    }

    /// The user a name and password identify. A password that is an API token of that user also works.
    func user(name: String, password: String, client: String?, now: Int64? = nil) async throws -> (user: User, token: APIToken?, firstUse: Bool) {
        let now = now ?? clock()
        if TokenFormat.looksLikeToken(password) {
            let (user, token, first) = try await self.user(token: password, now: now)
            guard user.name == name else { throw Failure(message: "That API token belongs to another user.") }
            return (user, token, first)
        }
        // A password this server already checked is let through without asking the throttle: a guesser
        // cannot lock out someone already signed in (and Basic auth costs no database read per request).
        let key = Data(HMAC<SHA256>.authenticationCode(for: Data((name + "\u{0}" + password).utf8), using: cacheKey))
        if let hit = cache.withLockedValue({ $0[key] }), hit.expires > now, let user = try await freshUser(name, now: now),
            user.passwordChangedAt == hit.passwordChangedAt, !user.disabled
        {
            return (user, nil, false)
        }
        if let wait = await throttle.wait(user: name, client: client, now: now) {
            throw Failure(message: "Too many failed sign-ins for '\(name)' or from this address; try again in \(wait) s.", counts: false)
        }
        let hash = try await store.passwordHash(user: name)
        // An unknown user costs a bcrypt check too, so timing does not tell which names exist.
        let matches = await verify(password, hash ?? Self.decoyHash)
        guard matches, hash != nil, let user = try await store.user(named: name) else {
            await throttle.failed(user: name, client: client, now: now)
            throw Failure(message: "Wrong user name or password.")
        }
        guard !user.disabled else { throw Failure(message: "The account '\(user.name)' is disabled; ask an admin.") }
        await throttle.succeeded(user: name, client: client)
        cache.withLockedValue { entries in
            if entries.count >= Self.maxCacheEntries { entries = entries.filter { $0.value.expires > now } }
            if entries.count >= Self.maxCacheEntries { entries.removeAll() }
            entries[key] = CachedCheck(user: name, passwordChangedAt: user.passwordChangedAt, expires: now + cacheLifetime)
        }
        return (user, nil, false)
    }

    /// A bcrypt hash of a random password, checked when the user does not exist.
    private static let decoyHash = Bcrypt.hash(UUID().uuidString, cost: PasswordPolicy.cost)
}

/// Slows down password guessing: after 5 failures for an account or from an address within 15 minutes,
/// each further attempt waits 2^(failures − 5) seconds (at most 5 minutes) from the last failure.
final class SignInThrottle: Sendable {
    /// Where the counters live: the database every server shares, so N servers behind a balancer
    /// throttle as one (a guesser gets no more attempts by spreading them).
    let values: any ExpiringValueStore
    static let free = 5
    static let window: Int64 = 15 * 60 * 1000
    static let prefix = "signin-throttle:"

    init(values: any ExpiringValueStore) {
        self.values = values
    }

    private func keys(user: String, client: String?) -> [String] {
        [Self.prefix + "user:" + user] + (client.map { [Self.prefix + "addr:" + $0] } ?? [])
    }

    /// A counter's failures and the time of the last one, as stored ("failures last").
    static func decode(_ bytes: [UInt8]?) -> (failures: Int, last: Int64)? {
        guard let bytes, let text = String(validating: bytes, as: UTF8.self) else { return nil }
        let parts = text.split(separator: " ")
        guard parts.count == 2, let failures = Int(parts[0]), let last = Int64(parts[1]) else { return nil }
        return (failures, last)
    }

    /// Seconds to wait before the next attempt, or nil when one may try now. A database that cannot
    /// be read does not throttle: the sign-in itself fails on it anyway.
    func wait(user: String, client: String?, now: Int64) async -> Int? {
        var longest: Int64 = 0
        for key in keys(user: user, client: client) {
            guard let e = Self.decode(try? await values.value(key: key, now: now)?.value), now - e.last < Self.window, e.failures >= Self.free else { continue }
            let delay = Int64(1) << Int64(min(e.failures - Self.free, 8)) * 1000
            longest = max(longest, e.last + min(delay, 300_000) - now)
        }
        return longest > 0 ? Int((longest + 999) / 1000) : nil
    }

    func failed(user: String, client: String?, now: Int64) async {
        for key in keys(user: user, client: client) {
            _ = try? await values.updateValue(key: key, now: now, expiresAt: now + Self.window) { current in
                var failures = 0
                if let e = Self.decode(current), now - e.last < Self.window { failures = e.failures }
                return Array("\(failures + 1) \(now)".utf8)
            }
        }
    }

    func succeeded(user: String, client: String?) async {
        try? await values.removeValue(key: Self.prefix + "user:" + user)
    }
}
