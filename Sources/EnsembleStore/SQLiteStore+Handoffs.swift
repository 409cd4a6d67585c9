import EnsembleCore
import Foundation
import GRDB

extension SQLiteStore: HandoffStore {
    public func createHandoff(_ handoff: Handoff) async throws -> Handoff {
        try handoff.validate()
        let now = Self.now()
        return try await pool.write { db in
            var h = handoff
            h.status = .draft
            h.revision = 1
            h.createdAt = now
            h.updatedAt = now
            if h.events.isEmpty { h.events = [HandoffEvent(kind: "created", by: h.sender, at: now)] }
            try db.execute(
                sql: "INSERT INTO handoffs (project, model, sender, receiver, status, doc, updated_at) VALUES (?, ?, ?, ?, ?, '', ?)",
                arguments: [h.project, h.model, h.sender, h.receiver, h.status.rawValue, now])
            h.id = db.lastInsertedRowID
            try db.execute(sql: "UPDATE handoffs SET doc = ? WHERE id = ?", arguments: [try Self.encode(h), h.id])
            if let project = h.project {
                try Self.event(db, project: project, kind: "handoff_created", summary: "handoff #\(h.id) '\(h.title)' drafted for \(h.receiver)", actor: h.sender, at: now)
            }
            return h
        }
    }

    public func handoff(id: Int64) async throws -> Handoff {
        try await pool.read { db in try Self.loadHandoff(db, id) }
    }

    static func loadHandoff(_ db: Database, _ id: Int64) throws -> Handoff {
        guard let doc = try String.fetchOne(db, sql: "SELECT doc FROM handoffs WHERE id = ?", arguments: [id]) else {
            throw EnsembleError.notFound("No handoff #\(id).")
        }
        return try decode(Handoff.self, doc)
    }

    public func handoffs(_ query: HandoffQuery) async throws -> [Handoff] {
        var conditions: [String] = [], args: [(any DatabaseValueConvertible)?] = []
        if let v = query.receiver { conditions.append("receiver = ?"); args.append(v) }
        if let v = query.sender { conditions.append("sender = ?"); args.append(v) }
        if let v = query.project { conditions.append("project = ?"); args.append(v) }
        if let v = query.status { conditions.append("status = ?"); args.append(v.rawValue) }
        if let v = query.model { conditions.append("model = ?"); args.append(v) }
        let sql = "SELECT doc FROM handoffs" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")) + " ORDER BY id DESC LIMIT ?"
        args.append(max(1, min(query.limit, 10_000)))
        let arguments = StatementArguments(args)
        return try await pool.read { db in
            try String.fetchAll(db, sql: sql, arguments: arguments).map { try Self.decode(Handoff.self, $0) }
        }
    }

    public func updateHandoff(id: Int64, _ change: @Sendable (inout Handoff) throws -> Void) async throws -> Handoff {
        let now = Self.now()
        return try await pool.write { db in
            let before = try Self.loadHandoff(db, id)
            var h = before
            try change(&h)
            try h.validate()
            h.id = before.id
            h.createdAt = before.createdAt
            h.revision = before.revision + 1
            h.updatedAt = now
            try db.execute(
                sql: "UPDATE handoffs SET project = ?, model = ?, sender = ?, receiver = ?, status = ?, doc = ?, updated_at = ? WHERE id = ?",
                arguments: [h.project, h.model, h.sender, h.receiver, h.status.rawValue, try Self.encode(h), now, id])
            if let project = h.project, before.status != h.status {
                try Self.event(db, project: project, kind: "handoff_\(h.status.rawValue)", summary: "handoff #\(h.id) '\(h.title)' \(h.status.rawValue)", actor: h.events.last?.by, at: now)
            }
            if before.status != .accepted, h.status == .accepted, case .version(let name, let version) = try Handoff.parseModel(h.model),
                try Bool.fetchOne(db, sql: "SELECT 1 FROM model_versions WHERE name = ? AND version = ?", arguments: [name, version]) == true
            {
                try Self.recordEvent(
                    db, name: name, version: version, kind: .handoffAccepted, detail: "handoff #\(h.id) from \(h.sender) accepted by \(h.receiver)",
                    actor: h.events.last?.by, timestamp: now)
            }
            return h
        }
    }

    public func recordGate(_ record: GateRecord, promote: String?) async throws -> GateRecord {
        try record.validate(promote: promote)
        let now = Self.now()
        return try await pool.write { db in
            _ = try Self.fetchVersion(db, record.name, record.version)
            var r = record
            r.at = now
            r.promoted = promote
            try db.execute(
                sql: "INSERT INTO gate_results (name, version, decision, commit_sha, actor, at, result, report, promoted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [r.name, r.version, r.decision, r.commit, r.actor, now, r.result, r.report, promote])
            r.id = db.lastInsertedRowID
            let commit = r.commit.map { " at \($0.prefix(12))" } ?? ""
            try Self.recordEvent(db, name: r.name, version: r.version, kind: .gateRecorded, detail: "release gate: \(r.decision)\(commit)", actor: r.actor, timestamp: now)
            if let promote {
                let previous = try Int64.fetchOne(db, sql: "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", arguments: [r.name, promote])
                try db.execute(
                    sql: "INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET version = excluded.version",
                    arguments: [r.name, promote, r.version])
                let detail = (previous.map { "\(promote): \($0) -> \(r.version)" } ?? "\(promote) -> \(r.version)") + " (gate passed)"
                try Self.recordEvent(db, name: r.name, version: r.version, kind: .aliasSet, detail: detail, actor: r.actor, timestamp: now)
            }
            return r
        }
    }

    public func gateRecords(name: String, version: Int64?) async throws -> [GateRecord] {
        try await pool.read { db in
            let rows: [Row]
            if let version {
                rows = try Row.fetchAll(db, sql: "SELECT * FROM gate_results WHERE name = ? AND version = ? ORDER BY id DESC", arguments: [name, version])
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT * FROM gate_results WHERE name = ? ORDER BY id DESC", arguments: [name])
            }
            return rows.map { row in
                var r = GateRecord(
                    name: row["name"], version: row["version"], decision: row["decision"], commit: row["commit_sha"], actor: row["actor"],
                    result: row["result"], report: row["report"], promoted: row["promoted"])
                r.id = row["id"]
                r.at = row["at"]
                return r
            }
        }
    }
}
