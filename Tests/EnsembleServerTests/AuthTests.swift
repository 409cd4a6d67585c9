import Crypto
import EnsembleCore
import EnsembleStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import HummingbirdTesting
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import EnsembleServer

/// A server with authentication on, three users (admin `root`, member `mia`, viewer `vic`) with a
/// password each (bcrypt at cost 4, so tests stay fast) and a token each, and a count of bcrypt checks.
struct AuthFixture: Sendable {
    /// Each route's method and path, with every capture and catch-all filled with `x`.
    let routes: [(HTTPRequest.Method, String)]
    let store: any MetadataStore
    let audit: AuditWriter
    let tokens: [String: String]
    let bcryptChecks: NIOLockedValueBox<Int>
    static let password = "correct horse battery"

    /// `clock`: the authenticator's time (the real one unless a test holds it still).
    static func make(clock: @escaping @Sendable () -> Int64 = Authenticator.now) async throws -> (AuthFixture, some ApplicationProtocol) {
        var config = ServerConfiguration()
        config.dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-auth-\(UUID().uuidString)").path
        config.auth = .required
        var services = try EnsembleServices(configuration: config)
        let checks = NIOLockedValueBox(0)
        services.authenticator = Authenticator(
            store: services.store,
            verify: { password, hash in
                checks.withLockedValue { $0 += 1 }
                return Bcrypt.verify(PasswordPolicy.prepared(password), hash: hash)
            }, clock: clock)
        var tokens: [String: String] = [:]
        for (name, role) in [("root", InstanceRole.admin), ("mia", .member), ("max", .member), ("vic", .viewer)] {
            _ = try await services.store.createUser(
                User(name: name, email: "\(name)@example.com", role: role), passwordHash: Bcrypt.hash(password, cost: 4))
            tokens[name] = try await AccountAdmin.createToken(user: name, label: "test", expiresIn: nil, store: services.store).0
        }
        let audit = AuditWriter(store: services.store, logger: Logger(label: "test"), retention: .seconds(86_400), clock: clock)
        let router = buildRouter(configuration: config, services: services, audit: audit)
        let routes = router.routes.map { route -> (HTTPRequest.Method, String) in
            let path = "/" + route.path.components.map { c -> String in
                let s = "\(c)"
                return s.hasPrefix("{") || s.hasPrefix(":") || s == "**" ? "x" : s
            }.joined(separator: "/")
            return (route.method, path.replacingOccurrences(of: "//", with: "/"))
        }
        let fixture = AuthFixture(routes: routes, store: services.store, audit: audit, tokens: tokens, bcryptChecks: checks)
        return (fixture, Application(router: router))
    }

    func bearer(_ user: String) -> HTTPFields { [.authorization: "Bearer \(tokens[user]!)"] }

    static func basic(_ user: String, _ password: String) -> HTTPFields {
        [.authorization: "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()]
    }
}

@Suite("Authentication and access")
struct AuthTests {
    /// What the routes may be asked without identity, even with authentication on.
    static let open: Set<String> = [
        "/health", "/ready", "/version", "/api/3.0/mlflow/server-info", "/ajax-api/3.0/mlflow/server-info", "/static/app.css", "/static/app.js", "/favicon.ico",
        "/api/v1/openapi.json", "/signin",
    ]
    /// MLflow's searches are POSTs that only read.
    static let readingPosts = [
        "experiments/search", "experiments/search-datasets", "logged-models/search", "model-versions/search", "registered-models/get-latest-versions",
        "registered-models/search", "runs/search",
    ]

    enum Need { case open, read, write, admin }

    /// The expected level of a route, from its method and path alone: an independent statement of the
    /// policy that the declarations in the route collections must match.
    static func need(_ method: HTTPRequest.Method, _ path: String) -> Need {
        if open.contains(path) { return .open }
        if path.hasPrefix("/api/v1/me") || path.hasSuffix("/password") || path.hasPrefix("/account") || path == "/signout" { return .read }  // self-service
        if path.hasPrefix("/admin/") { return .admin }
        // The MLflow auth API: managing accounts is for admins; reading yourself, your password and
        // grants (checked against MANAGE on the resource in the handler) for any signed-in user.
        if path.contains("/mlflow/users/") {
            return ["create", "update-admin", "delete"].contains(where: { path.hasSuffix("/users/" + $0) }) ? .admin : .read
        }
        if path.hasPrefix("/api/v1/users") || path.hasPrefix("/api/v1/audit") { return .admin }
        if method == .get || method == .head { return .read }
        if method == .post, readingPosts.contains(where: { path.hasSuffix("/" + $0) }) { return .read }
        return .write
    }

    @Test("every route × anonymous, viewer, member, admin: 401, 403 or through, as the policy says")
    func routeAccessMatrix() async throws {
        let (fixture, app) = try await AuthFixture.make()
        #expect(fixture.routes.count > 130)
        try await app.test(.router) { client in
            // POST /signin is open, and answers 401 itself when the form has no valid credentials.
            for (method, uri) in fixture.routes where !(method == .post && uri == "/signin") {
                let need = Self.need(method, uri)
                let body = method == .get || method == .head ? nil : ByteBuffer(string: "{}")
                /// The status, and whether a 403 came from the role gate (not from a grant on a resource).
                func status(_ headers: HTTPFields) async throws -> Int {
                    var h = headers
                    if body != nil { h[.contentType] = "application/json" }
                    let r = try await client.execute(uri: uri, method: method, headers: h, body: body)
                    // A page asked for without being signed in sends the browser to the sign-in page.
                    if r.status == .seeOther, r.headers[.location]?.hasPrefix("/signin?next=") == true { return 401 }
                    if r.status == .forbidden, !String(buffer: r.body).contains("role or higher") { return 299 }  // a grant check: past the role gate
                    return Int(r.status.code)
                }
                let anonymous = try await status([:])
                #expect((anonymous == 401) == (need != .open), "anonymous \(method) \(uri) → \(anonymous)")
                for (user, role) in [("vic", InstanceRole.viewer), ("mia", .member), ("root", .admin)] {
                    let got = try await status(fixture.bearer(user))
                    let denied: Bool =
                        switch need {
                        case .open, .read: false
                        case .write: role < .member
                        case .admin: role < .admin
                        }
                    #expect(got != 401, "\(user) \(method) \(uri) → 401")
                    #expect((got == 403) == denied, "\(user) (\(role)) \(method) \(uri) → \(got), expected \(denied ? "403" : "through")")
                }
            }
        }
    }

    @Test("grants: the creator manages, other members edit; deleting, sharing and production need MANAGE")
    func grants() async throws {
        let (fixture, app) = try await AuthFixture.make()
        try await app.test(.router) { client in
            func call(_ user: String, _ method: HTTPRequest.Method, _ path: String, _ json: String = "{}") async throws -> TestResponse {
                try await client.execute(
                    uri: path, method: method, headers: fixture.bearer(user).merging([.contentType: "application/json"]), body: ByteBuffer(string: json))
            }
            let made = try await call("mia", .post, "/api/2.0/mlflow/experiments/create", #"{"name": "mias"}"#)
            let id = try #require(String(buffer: made.body).split(separator: "\"").dropFirst(3).first.map(String.init))
            #expect(try await fixture.store.grant(.experiment, id, user: "mia") == .manage)

            // Another member edits (the default) but cannot delete.
            #expect(try await call("max", .post, "/api/2.0/mlflow/experiments/set-experiment-tag", #"{"experiment_id": "\#(id)", "key": "k", "value": "v"}"#).status == .ok)
            let run = try await call("max", .post, "/api/2.0/mlflow/runs/create", #"{"experiment_id": "\#(id)"}"#)
            #expect(run.status == .ok)
            let denied = try await call("max", .post, "/api/2.0/mlflow/experiments/delete", #"{"experiment_id": "\#(id)"}"#)
            #expect(denied.status == .forbidden)
            #expect(String(buffer: denied.body).contains("MANAGE permission on experiment '\(id)'; 'max' has EDIT"))
            // Nor grant himself more; the creator can.
            let grant = #"{"username": "max", "resource_type": "experiment", "resource_id": "\#(id)", "permission": "MANAGE"}"#
            #expect(try await call("max", .post, "/api/3.0/mlflow/users/permissions/grant", grant).status == .forbidden)
            #expect(try await call("mia", .post, "/api/3.0/mlflow/users/permissions/grant", grant).status == .ok)
            #expect(try await call("max", .post, "/api/2.0/mlflow/experiments/delete", #"{"experiment_id": "\#(id)"}"#).status == .ok)

            // Registry: EDIT moves a version to Staging and sets ordinary aliases; Production and protected aliases need MANAGE.
            #expect(try await call("mia", .post, "/api/2.0/mlflow/registered-models/create", #"{"name": "churn"}"#).status == .ok)
            #expect(try await call("mia", .post, "/api/2.0/mlflow/model-versions/create", #"{"name": "churn", "source": "s3://x"}"#).status == .ok)
            func stage(_ user: String, _ stage: String) async throws -> HTTPResponse.Status {
                return try await call(user, .post, "/api/2.0/mlflow/model-versions/transition-stage", #"{"name": "churn", "version": "1", "stage": "\#(stage)"}"#).status
            }
            #expect(try await stage("max", "Staging") == .ok)
            #expect(try await stage("max", "Production") == .forbidden)
            #expect(try await call("max", .post, "/api/2.0/mlflow/registered-models/alias", #"{"name": "churn", "alias": "candidate", "version": "1"}"#).status == .ok)
            #expect(try await call("max", .post, "/api/2.0/mlflow/registered-models/alias", #"{"name": "churn", "alias": "champion", "version": "1"}"#).status == .forbidden)
            #expect(try await stage("mia", "Production") == .ok)
            #expect(try await stage("root", "Archived") == .ok)  // admins manage everything

            // The effective permission, as the MLflow auth client reads it.
            let got = try await call("max", .get, "/api/3.0/mlflow/users/permissions/get?username=max&resource_type=registered_model&resource_id=churn")
            #expect(String(buffer: got.body).contains(#""permission":"EDIT""#))
            // Renaming moves the grants with the model.
            #expect(try await call("mia", .post, "/api/2.0/mlflow/registered-models/rename", #"{"name": "churn", "new_name": "churn-v2"}"#).status == .ok)
            #expect(try await fixture.store.grant(.registeredModel, "churn-v2", user: "mia") == .manage)
        }
    }

    @Test("web sessions: sign in sets an HttpOnly SameSite cookie; forms need the CSRF token; sign-out and a password change end the session")
    func sessions() async throws {
        let (fixture, app) = try await AuthFixture.make()
        try await app.test(.router) { client in
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            let wrong = try await client.execute(uri: "/signin", method: .post, headers: form, body: ByteBuffer(string: "user=mia&password=nope&next=%2Fteam"))
            #expect(wrong.status == .unauthorized && String(buffer: wrong.body).contains("Wrong user name or password"))
            // An off-site `next` is ignored.
            let ok = try await client.execute(
                uri: "/signin", method: .post, headers: form,
                body: ByteBuffer(string: "user=mia&password=correct+horse+battery&next=%2F%2Fevil.example"))
            #expect(ok.status == .seeOther && ok.headers[.location] == "/")
            let setCookie = try #require(ok.headers[.setCookie])
            #expect(setCookie.hasPrefix("ensemble_session=") && setCookie.contains("HttpOnly") && setCookie.lowercased().contains("samesite=lax"))
            let cookie: HTTPFields = [.cookie: String(setCookie.prefix { $0 != ";" })]

            let account = try await client.execute(uri: "/account", method: .get, headers: cookie)
            #expect(account.status == .ok)
            let page = String(buffer: account.body)
            #expect(page.contains(">mia</bdi>") && page.contains("Sign out"))
            let csrf = try #require(page.range(of: #"name="csrf" value=""#).map { String(page[$0.upperBound...].prefix { $0 != "\"" }) })
            #expect(csrf.hasPrefix("ens_"))

            var withForm = cookie
            withForm[.contentType] = "application/x-www-form-urlencoded"
            let forged = try await client.execute(uri: "/account/tokens", method: .post, headers: withForm, body: ByteBuffer(string: "name=x&expires_in=30d"))
            #expect(forged.status == .forbidden && String(buffer: forged.body).contains("CSRF"))
            let made = try await client.execute(
                uri: "/account/tokens", method: .post, headers: withForm, body: ByteBuffer(string: "csrf=\(csrf)&name=laptop&expires_in=30d"))
            #expect(made.status == .ok && String(buffer: made.body).contains("Your new API token"))
            // The database keeps a hash of the session id, never the id.
            let sessionID = String(cookie[.cookie]!.dropFirst("ensemble_session=".count))
            #expect(try await fixture.store.value(key: sessionID, now: 0) == nil)
            #expect(try await fixture.store.value(key: StorePersistDriver.key("hbs." + sessionID), now: 0) != nil)

            let out = try await client.execute(uri: "/signout", method: .post, headers: withForm, body: ByteBuffer(string: "csrf=\(csrf)"))
            #expect(out.status == .seeOther && out.headers[.location] == "/signin")
            let after = try await client.execute(uri: "/account", method: .get, headers: cookie)
            #expect(after.status == .seeOther && after.headers[.location] == "/signin?next=%2Faccount")

            // A password change signs every session out.
            let again = try await client.execute(
                uri: "/signin", method: .post, headers: form, body: ByteBuffer(string: "user=mia&password=correct+horse+battery&next=%2Fteam"))
            let cookie2: HTTPFields = [.cookie: String(try #require(again.headers[.setCookie]).prefix { $0 != ";" })]
            #expect(try await client.execute(uri: "/team", method: .get, headers: cookie2).status == .ok)
            try await fixture.store.setPassword(user: "mia", hash: Bcrypt.hash("another long password", cost: 4))
            #expect(try await client.execute(uri: "/team", method: .get, headers: cookie2).status == .seeOther)
        }
    }

    @Test("every form that posts carries the session's CSRF token")
    func formsCarryTheCSRFToken() {
        var posting = 0
        for (name, text) in WebTemplates.all {
            let forms = text.components(separatedBy: "<form").dropFirst().filter { $0.prefix { $0 != ">" }.contains(#"method="post""#) }
            for form in forms {
                posting += 1
                #expect(form.contains(#"<input type="hidden" name="csrf" value="{{chromeCSRF}}">"#), "a form in '\(name)' posts without the CSRF field")
            }
        }
        #expect(posting >= 12)
    }

    @Test("tokens: revoked, expired, malformed and a disabled user's are refused with a 401 that says how to authenticate")
    func tokens() async throws {
        let (fixture, app) = try await AuthFixture.make()
        try await app.test(.router) { client in
            let path = "/api/2.0/mlflow/experiments/search?max_results=1"
            #expect(try await client.execute(uri: path, method: .get, headers: fixture.bearer("mia")).status == .ok)

            let anonymous = try await client.execute(uri: path, method: .get)
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.headers[.wwwAuthenticate]?.hasPrefix("Basic realm=\"Ensemble\"") == true)
            #expect(String(buffer: anonymous.body).contains("MLFLOW_TRACKING_TOKEN"))

            let bogus = try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer ens_nope"])
            #expect(bogus.status == .unauthorized)
            #expect(String(buffer: bogus.body).contains("UNAUTHENTICATED"))

            // Revoked through the API: refused at once, though the token was just used (and cached).
            let mine = try #require(try await fixture.store.tokens(user: "mia").first)
            #expect(try await client.execute(uri: "/api/v1/me/tokens/\(mine.id)", method: .delete, headers: fixture.bearer("mia")).status == .ok)
            let revoked = try await client.execute(uri: path, method: .get, headers: fixture.bearer("mia"))
            #expect(revoked.status == .unauthorized && String(buffer: revoked.body).contains("revoked"))
            // Revoked behind this server's back (another server, `ensemble admin`): seen once the cached copy is stale.
            let (other, otherToken) = try await AccountAdmin.createToken(user: "max", label: "", expiresIn: nil, store: fixture.store)
            let checker = Authenticator(store: fixture.store)
            let start = Authenticator.now()
            _ = try await checker.user(token: other, now: start)
            try await fixture.store.revokeToken(id: otherToken.id, user: "max")
            _ = try await checker.user(token: other, now: start + 1_000)  // still the cached copy
            await #expect(throws: Authenticator.Failure.self) { _ = try await checker.user(token: other, now: start + Authenticator.freshness + 1) }

            let (short, _) = try await AccountAdmin.createToken(user: "mia", label: "", expiresIn: "1m", store: fixture.store)
            let auth = Authenticator(store: fixture.store)
            await #expect(throws: Authenticator.Failure.self) { _ = try await auth.user(token: short, now: Authenticator.now() + 61_000) }
            _ = try await auth.user(token: short)

            var vic = try #require(try await fixture.store.user(named: "vic"))
            vic.disabled = true
            _ = try await fixture.store.updateUser(vic)
            let disabled = try await client.execute(uri: path, method: .get, headers: fixture.bearer("vic"))
            #expect(disabled.status == .unauthorized && String(buffer: disabled.body).contains("disabled"))
            // No secret ever appears in an answer.
            for r in [anonymous, bogus, revoked, disabled] {
                for token in fixture.tokens.values { #expect(!String(buffer: r.body).contains(token)) }
            }
        }
    }

    @Test("Basic: bcrypt once, then a cached check until the password changes; a token works as the password of its own user only")
    func basic() async throws {
        let (fixture, app) = try await AuthFixture.make()
        try await app.test(.router) { client in
            let path = "/api/2.0/mlflow/experiments/search?max_results=1"
            for _ in 0..<5 {
                #expect(try await client.execute(uri: path, method: .get, headers: AuthFixture.basic("mia", AuthFixture.password)).status == .ok)
            }
            #expect(fixture.bcryptChecks.withLockedValue { $0 } == 1)
            #expect(try await client.execute(uri: path, method: .get, headers: AuthFixture.basic("mia", "wrong password!!")).status == .unauthorized)
            #expect(try await client.execute(uri: path, method: .get, headers: AuthFixture.basic("nobody", AuthFixture.password)).status == .unauthorized)

            // A new password set by an admin through the API voids the cached check at once.
            let change = try await client.execute(
                uri: "/api/v1/users/mia/password", method: .post, headers: fixture.bearer("root").merging([.contentType: "application/json"]),
                body: ByteBuffer(string: #"{"password": "a brand new password"}"#))
            #expect(change.status == .ok)
            #expect(try await client.execute(uri: path, method: .get, headers: AuthFixture.basic("mia", AuthFixture.password)).status == .unauthorized)
            #expect(try await client.execute(uri: path, method: .get, headers: AuthFixture.basic("mia", "a brand new password")).status == .ok)

            #expect(try await client.execute(uri: path, method: .get, headers: AuthFixture.basic("mia", fixture.tokens["mia"]!)).status == .ok)
            #expect(try await client.execute(uri: path, method: .get, headers: AuthFixture.basic("mia", fixture.tokens["vic"]!)).status == .unauthorized)
        }
    }

    @Test("failed sign-ins are throttled per account and per address, and the right password works after the cool-down")
    func throttle() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-throttle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: dir.appendingPathComponent("db.sqlite").path)
        // Two servers on one database: failures counted through either throttle both.
        let t = SignInThrottle(values: store), other = SignInThrottle(values: store)
        let start: Int64 = 1_000_000
        for i in 0..<5 {
            #expect(await t.wait(user: "ana", client: "10.0.0.1", now: start + Int64(i)) == nil)
            await (i.isMultiple(of: 2) ? t : other).failed(user: "ana", client: "10.0.0.1", now: start + Int64(i))
        }
        #expect(await t.wait(user: "ana", client: "10.0.0.2", now: start + 5) == 1)  // the account is throttled from anywhere
        #expect(await other.wait(user: "ana", client: "10.0.0.2", now: start + 5) == 1)  // through every server
        #expect(await t.wait(user: "bo", client: "10.0.0.1", now: start + 5) == 1)  // and the address for any account
        #expect(await t.wait(user: "bo", client: "10.0.0.9", now: start + 5) == nil)
        for i in 5..<20 { await t.failed(user: "ana", client: "10.0.0.1", now: start + Int64(i)) }
        let wait = try #require(await other.wait(user: "ana", client: "10.0.0.1", now: start + 20))
        #expect(wait >= 256 && wait <= 300)  // 2^15 s, capped at five minutes
        #expect(await t.wait(user: "ana", client: "10.0.0.1", now: start + 20 + 300_000) == nil)
        await other.succeeded(user: "ana", client: "10.0.0.1")
        #expect(await t.wait(user: "ana", client: "10.0.0.3", now: start + 21) == nil)
        // Concurrent failures on both servers are all counted (the update is atomic).
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<40 { group.addTask { await (i.isMultiple(of: 2) ? t : other).failed(user: "cy", client: nil, now: start + 100) } }
        }
        #expect(SignInThrottle.decode(try await store.value(key: SignInThrottle.prefix + "user:cy", now: start + 100)?.value)?.failures == 40)
    }

    @Test("datasets: the first version's author manages the dataset; a READ grant stops another member adding versions")
    func datasetGrants() async throws {
        let (fixture, app) = try await AuthFixture.make()
        try await app.test(.router) { client in
            func call(_ user: String, _ method: HTTPRequest.Method, _ path: String, _ body: String, json: Bool = true) async throws -> TestResponse {
                var h = fixture.bearer(user)
                if json { h[.contentType] = "application/json" }
                return try await client.execute(uri: path, method: method, headers: h, body: ByteBuffer(string: body))
            }
            let bytes = "a,b\n1,2\n"
            let sha = DatasetManifest.hex(SHA256.hash(data: Data(bytes.utf8)))
            let put = try await call("mia", .put, "/api/v1/blobs/\(sha)", bytes, json: false)
            #expect(put.status == .created)
            let manifest = #"{"files": [{"path": "train.csv", "size": \#(bytes.utf8.count), "sha256": "\#(sha)"}]}"#
            #expect(try await call("mia", .post, "/api/v1/datasets/iris/versions", manifest).status == .created)
            #expect(try await fixture.store.grant(.dataset, "iris", user: "mia") == .manage)
            #expect(try await fixture.store.storedDatasetVersion(name: "iris", version: 1).createdBy == "mia")
            let readOnly = #"{"username": "max", "resource_type": "dataset", "resource_id": "iris", "permission": "READ"}"#
            #expect(try await call("mia", .post, "/api/3.0/mlflow/users/permissions/grant", readOnly).status == .ok)
            let more = #"{"files": [{"path": "other.csv", "size": \#(bytes.utf8.count), "sha256": "\#(sha)"}]}"#
            #expect(try await call("max", .post, "/api/v1/datasets/iris/versions", more).status == .forbidden)
            #expect(try await call("mia", .post, "/api/v1/datasets/iris/versions", more).status == .created)
        }
    }

    @Test("an account linked to a person is shown by the person's name; a session past its lifetime is gone")
    func peopleAndExpiry() async throws {
        let (fixture, app) = try await AuthFixture.make()
        try await fixture.store.savePerson(Person(id: "ana-lima", name: "Ana Lima", email: "ana@example.com"), create: true)
        var mia = try #require(try await fixture.store.user(named: "mia"))
        mia.personID = "ana-lima"
        _ = try await fixture.store.updateUser(mia)
        try await app.test(.router) { client in
            let signIn = try await client.execute(
                uri: "/signin", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "user=mia&password=correct+horse+battery&next=%2Fprojects%2Fnew"))
            let cookie: HTTPFields = [.cookie: String(try #require(signIn.headers[.setCookie]).prefix { $0 != ";" })]
            let page = String(buffer: try await client.execute(uri: "/projects/new", method: .get, headers: cookie).body)
            #expect(page.contains("<bdi>Ana Lima</bdi>"))
            // What mia does is shown under the person's name.
            let made = try await client.execute(
                uri: "/api/v1/projects", method: .post, headers: fixture.bearer("mia").merging([.contentType: "application/json"]),
                body: ByteBuffer(string: #"{"name": "Churn"}"#))
            #expect(made.status == .created)
            let home = String(buffer: try await client.execute(uri: "/", method: .get, headers: cookie).body)
            #expect(home.contains("Ana Lima"))
        }
        // Sessions (and anything else in the expiring store) vanish at their expiry.
        let driver = StorePersistDriver(store: fixture.store, logger: Logger(label: "test"))
        try await driver.create(key: "hbs.short", value: WebSession(user: "mia", csrf: "c", passwordChangedAt: 0), expires: .seconds(60))
        #expect(try await driver.get(key: "hbs.short", as: WebSession.self)?.user == "mia")
        await #expect(throws: PersistError.duplicate) {
            try await driver.create(key: "hbs.short", value: WebSession(user: "x", csrf: "c", passwordChangedAt: 0), expires: .seconds(60))
        }
        let key = StorePersistDriver.key("hbs.short")
        #expect(try await fixture.store.value(key: key, now: Authenticator.now() + 59_000) != nil)
        #expect(try await fixture.store.value(key: key, now: Authenticator.now() + 61_000) == nil)
        #expect(try await fixture.store.removeExpiredValues(now: Authenticator.now() + 61_000) == 1)
    }

    @Test("admin pages: grants set and removed, a service account's token shown once, the audit log")
    func adminPages() async throws {
        let (fixture, app) = try await AuthFixture.make()
        _ = try await fixture.store.createUser(User(name: "ci-bot", isServiceAccount: true), passwordHash: nil)
        try await app.test(.router) { client in
            let signIn = try await client.execute(
                uri: "/signin", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "user=root&password=correct+horse+battery&next=%2Fadmin%2Fgrants"))
            var headers: HTTPFields = [.cookie: String(try #require(signIn.headers[.setCookie]).prefix { $0 != ";" })]
            let page = String(buffer: try await client.execute(uri: "/admin/grants", method: .get, headers: headers).body)
            let csrf = try #require(page.range(of: #"name="csrf" value=""#).map { String(page[$0.upperBound...].prefix { $0 != "\"" }) })
            headers[.contentType] = "application/x-www-form-urlencoded"
            func post(_ path: String, _ form: String) async throws -> String {
                String(buffer: try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: "csrf=\(csrf)&" + form)).body)
            }
            #expect(try await post("/admin/grants", "user=max&kind=registered_model&resource=churn&permission=MANAGE").contains("<span class=\"badge\">MANAGE</span>"))
            #expect(try await fixture.store.grant(.registeredModel, "churn", user: "max") == .manage)
            _ = try await post("/admin/grants", "user=max&kind=registered_model&resource=churn&permission=")
            #expect(try await fixture.store.grant(.registeredModel, "churn", user: "max") == nil)

            let made = try await post("/admin/users/ci-bot/tokens", "name=nightly")
            let token = try #require(made.range(of: #"<pre class="token">"#).map { String(made[$0.upperBound...].prefix { $0 != "<" }) })
            #expect(try await client.execute(uri: "/api/v1/me", method: .get, headers: [.authorization: "Bearer \(token)"]).status == .ok)
            let audit = String(buffer: try await client.execute(uri: "/admin/audit?action=grant.", method: .get, headers: headers).body)
            #expect(audit.contains("grant.set") && audit.contains("grant.revoked"))
        }
    }

    @Test("twenty wrong passwords over HTTP are slowed down, and say so, while tokens keep working")
    func throttledOverHTTP() async throws {
        // Time stands still during the burst: on a loaded machine twenty requests can take longer than
        // the waits they earn, and the right password then arrives after the cool-down.
        let start = Authenticator.now()
        let (fixture, app) = try await AuthFixture.make(clock: { start })
        try await app.test(.router) { client in
            let path = "/api/2.0/mlflow/experiments/search?max_results=1"
            var messages: [String] = []
            for i in 0..<20 {
                let r = try await client.execute(uri: path, method: .get, headers: AuthFixture.basic("max", "wrong password \(i)"))
                #expect(r.status == .unauthorized)
                messages.append(String(buffer: r.body))
            }
            #expect(messages.prefix(5).allSatisfy { $0.contains("Wrong user name or password") })
            #expect(messages[5].contains("Too many failed sign-ins"))
            // Five free guesses reach bcrypt; the fifteen after them wait (1 s, then doubling) and never do.
            let throttled = messages.filter { $0.contains("Too many failed sign-ins") }.count
            #expect(throttled == 15)
            #expect(fixture.bcryptChecks.withLockedValue { $0 } == 5)
            // During the cool-down even the right password waits; a token is not a password guess.
            let right = try await client.execute(uri: path, method: .get, headers: AuthFixture.basic("max", AuthFixture.password))
            #expect(String(buffer: right.body).contains("Too many failed sign-ins"))
            #expect(try await client.execute(uri: path, method: .get, headers: fixture.bearer("max")).status == .ok)
        }
    }

    @Test("the audit log records each write once with the verified actor, and security events")
    func audit() async throws {
        let (fixture, app) = try await AuthFixture.make()
        try await app.test(.router) { client in
            let created = try await client.execute(
                uri: "/api/2.0/mlflow/experiments/create", method: .post, headers: fixture.bearer("mia").merging([.contentType: "application/json"]),
                body: ByteBuffer(string: #"{"name": "audited"}"#))
            #expect(created.status == .ok, "\(String(buffer: created.body))")
            _ = try await client.execute(uri: "/api/2.0/mlflow/experiments/search?max_results=1", method: .get, headers: fixture.bearer("mia"))
            let searched = try await client.execute(
                uri: "/api/2.0/mlflow/runs/search", method: .post, headers: fixture.bearer("mia").merging([.contentType: "application/json"]),
                body: ByteBuffer(string: #"{"experiment_ids": ["0"]}"#))
            #expect(searched.status == .ok)
            _ = try await client.execute(uri: "/api/v1/roles/x", method: .delete, headers: fixture.bearer("vic"))
            _ = try await client.execute(uri: "/api/v1/me", method: .get, headers: [.authorization: "Bearer ens_wrong"])
            await fixture.audit.flush()
            let events = try await fixture.store.audit(AuditQuery(limit: 100))
            let writes = events.filter { $0.action == "POST /api/2.0/mlflow/experiments/create" }
            #expect(writes.count == 1 && writes.first?.actor == "mia" && writes.first?.status == 200)
            #expect(!events.contains { $0.action.hasPrefix("GET ") })  // reads are not audited
            #expect(!events.contains { $0.action.hasSuffix("/runs/search") }, "nor searches sent as POST")
            #expect(events.contains { $0.action == "DELETE /api/v1/roles/x" && $0.actor == "vic" && $0.status == 403 })
            #expect(events.contains { $0.action == "auth.failed" && $0.actor == nil && $0.status == 401 })
            // Three requests with a token never used before: one first use (the cached copy said "unused" for all three).
            #expect(events.filter { $0.action == "token.first_used" && $0.actor == "mia" }.count == 1)
            #expect(events.allSatisfy { !$0.detail.contains(fixture.tokens["mia"]!) })
        }
    }

    @Test("tracking writes are summarised per minute, actor and action; refused ones and other writes keep an entry each")
    func auditSummaries() async throws {
        let minute: Int64 = 1_900_000_000_000 / 60_000 * 60_000
        let now = NIOLockedValueBox<Int64>(minute + 5_000)
        let (fixture, app) = try await AuthFixture.make(clock: { now.withLockedValue { $0 } })
        try await app.test(.router) { client in
            func call(_ user: String, _ path: String, _ json: String) async throws -> TestResponse {
                try await client.execute(
                    uri: path, method: .post, headers: fixture.bearer(user).merging([.contentType: "application/json"]), body: ByteBuffer(string: json))
            }
            let made = try await call("mia", "/api/2.0/mlflow/experiments/create", #"{"name": "summaries"}"#)
            let experiment = try #require(String(buffer: made.body).split(separator: "\"").dropFirst(3).first.map(String.init))
            let created = try await call("mia", "/api/2.0/mlflow/runs/create", #"{"experiment_id": "\#(experiment)"}"#)
            guard case .string(let run)? = try json(created)["run"]?["info"]?["run_id"] else { Issue.record("no run id"); return }
            func logMetric(_ user: String, _ step: Int) async throws -> HTTPResponse.Status {
                try await call(user, "/api/2.0/mlflow/runs/log-metric", #"{"run_id": "\#(run)", "key": "train/loss", "value": 0.5, "timestamp": 1, "step": \#(step)}"#).status
            }
            for step in 0..<40 { #expect(try await logMetric("mia", step) == .ok) }
            for step in 40..<43 { #expect(try await logMetric("max", step) == .ok) }
            #expect(try await logMetric("vic", 99) == .forbidden)  // a viewer: refused, and recorded on its own
            #expect(try await call("mia", "/api/2.0/mlflow/runs/log-batch", #"{"run_id": "\#(run)", "params": [{"key": "lr", "value": "0.1"}]}"#).status == .ok)
            now.withLockedValue { $0 += 60_000 }  // the next minute
            for step in 43..<48 { #expect(try await logMetric("mia", step) == .ok) }
            await fixture.audit.flush()

            let logged = try await fixture.store.audit(AuditQuery(actionPrefix: "POST /api/2.0/mlflow/runs/log-metric", limit: 100))
            let mia = logged.filter { $0.actor == "mia" }.sorted { $0.at < $1.at }
            #expect(mia.map(\.detail) == ["first of 40 such requests in this minute", "first of 5 such requests in this minute"])
            #expect(mia.map(\.at) == [minute + 5_000, minute + 65_000] && mia.allSatisfy { $0.status == 200 && $0.requestID != nil })
            #expect(logged.filter { $0.actor == "max" }.map(\.detail) == ["first of 3 such requests in this minute"])
            let refused = logged.filter { $0.actor == "vic" }
            #expect(refused.count == 1 && refused.first?.status == 403 && refused.first?.detail == "")
            // One request in its minute: an ordinary entry, no count.
            let batches = try await fixture.store.audit(AuditQuery(actionPrefix: "POST /api/2.0/mlflow/runs/log-batch", limit: 100))
            #expect(batches.count == 1 && batches.first?.detail == "")
            #expect(try await fixture.store.audit(AuditQuery(actionPrefix: "POST /api/2.0/mlflow/runs/create", limit: 100)).count == 1)

            // Retention (a day here): what is older goes, what is newer stays.
            let day: Int64 = 86_400_000
            try await fixture.store.appendAudit([
                AuditEvent(at: minute - 3 * day, actor: "root", action: "test.old", target: "a"),
                AuditEvent(at: minute + 5_000 - day - 1, actor: "root", action: "test.old", target: "b"),
                AuditEvent(at: minute + 5_000 - day + 1, actor: "root", action: "test.recent", target: "c"),
            ])
            now.withLockedValue { $0 = minute + 5_000 }
            #expect(await fixture.audit.prune() >= 2)
            #expect(try await fixture.store.audit(AuditQuery(actionPrefix: "test.", limit: 100)).map(\.target) == ["c"])
            #expect(try await fixture.store.audit(AuditQuery(actionPrefix: "POST /api/2.0/mlflow/runs/log-metric", limit: 100)).count == 4)
        }
    }

    @Test("serving a reachable address needs an explicit mode; loopback stays single-user")
    func modes() throws {
        var config = ServerConfiguration()
        #expect(try config.resolvedAuth() == .none)
        config.host = "0.0.0.0"
        #expect(throws: EnsembleError.self) { try config.resolvedAuth() }
        config.auth = AuthMode.none
        #expect(try config.resolvedAuth() == .none)
        config.auth = .required
        #expect(try config.resolvedAuth() == .required)
    }
}

extension HTTPFields {
    func merging(_ other: HTTPFields) -> HTTPFields {
        var out = self
        for field in other { out.append(field) }
        return out
    }
}
