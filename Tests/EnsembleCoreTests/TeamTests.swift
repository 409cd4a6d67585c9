import Testing

@testable import EnsembleCore

@Suite("Team, projects and planning")
struct TeamTests {
    static let roles = RoleCatalog.builtIn

    static func person(_ id: String, roles: [String], skills: [String: Int], capacity: Double = 1, assignments: [Assignment] = [], history: [HistoryEntry] = [], goals: [String] = []) -> Person {
        Person(id: id, name: id.capitalized, email: "\(id)@example.com", roles: roles, skills: skills, learningGoals: goals, capacity: capacity, assignments: assignments, history: history)
    }

    @Test("success rate is derived from outcomes; cancelled projects do not count")
    func successRate() {
        var p = Self.person("ana", roles: [], skills: [:])
        #expect(p.successRate == nil)
        p.history = [.init(project: "a", outcome: .delivered), .init(project: "b", outcome: .partial), .init(project: "c", outcome: .failed), .init(project: "d", outcome: .cancelled)]
        #expect(p.successRate == 0.5)
        p.assignments = [.init(project: "x", allocation: 0.5), .init(project: "y", allocation: 0.75)]
        #expect(p.freeCapacity == 0)
    }

    @Test("people are validated field by field")
    func personValidation() {
        let known = Set(Self.roles.map(\.id))
        var p = Self.person("ana", roles: ["data-scientist"], skills: ["python": 4])
        #expect(throws: Never.self) { try p.validate(knownRoles: known) }
        p.skills["sql"] = 6
        #expect(throws: EnsembleError.invalid("skills: 'sql' has level 6; levels are 1 to 5.")) { try p.validate(knownRoles: known) }
        p.skills["sql"] = 3
        p.roles = ["wizard"]
        #expect(throws: EnsembleError.self) { try p.validate(knownRoles: known) }
        p.roles = []
        p.email = "not-an-email"
        #expect(throws: EnsembleError.self) { try p.validate(knownRoles: known) }
        p.email = "ana@example.com"
        p.capacity = 1.5
        #expect(throws: EnsembleError.self) { try p.validate(knownRoles: known) }
    }

    static func scopedProject() -> Project {
        var p = Project(id: "churn", name: "Churn")
        for stage in ProjectStage.working {
            p.checklists[stage.rawValue] = p.checklist(for: stage).map { ChecklistItem(text: $0.text, done: true) }
        }
        return p
    }

    @Test("a project cannot leave scoping without technical and business metrics")
    func gateMetrics() {
        var p = Self.scopedProject()
        let problems = StageGate.problems(moving: p, to: .data, people: [], roles: Self.roles)
        #expect(problems.count == 2 && problems[0].contains("technical metric") && problems[1].contains("business metric"))
        p.technicalMetrics = [ProjectMetric(name: "f1", baseline: 0.6, target: nil)]
        p.businessMetrics = [ProjectMetric(name: "churn rate", baseline: 0.12, target: 0.1, higherIsBetter: false)]
        #expect(StageGate.problems(moving: p, to: .data, people: [], roles: Self.roles).count == 1)  // target missing
        p.technicalMetrics[0].target = 0.75
        #expect(StageGate.problems(moving: p, to: .data, people: [], roles: Self.roles).isEmpty)
        #expect(StageGate.problems(moving: p, to: .modeling, people: [], roles: Self.roles).first?.contains("one at a time") == true)
        p.checklists["scoping"]![0].done = false
        #expect(StageGate.problems(moving: p, to: .data, people: [], roles: Self.roles).first?.contains("open item") == true)
        p.stage = .modeling
        #expect(StageGate.problems(moving: p, to: .data, people: [], roles: Self.roles).isEmpty)  // back is allowed
        #expect(StageGate.problems(moving: p, to: .cancelled, people: [], roles: Self.roles).isEmpty)
    }

    @Test("the owner of a stage must hold a role that fits it")
    func gateOwner() {
        var p = Self.scopedProject()
        p.stage = .modeling
        let engineer = Self.person("eve", roles: ["research-scientist"], skills: [:])
        let mle = Self.person("max", roles: ["ml-engineer"], skills: [:])
        p.owners["deployment"] = "eve"
        let problems = StageGate.problems(moving: p, to: .deployment, people: [engineer, mle], roles: Self.roles)
        #expect(problems.count == 1 && problems[0].contains("Eve owns deployment but holds no role"))
        p.owners["deployment"] = "max"
        #expect(StageGate.problems(moving: p, to: .deployment, people: [engineer, mle], roles: Self.roles).isEmpty)
        p.owners["deployment"] = "ghost"
        #expect(StageGate.problems(moving: p, to: .deployment, people: [engineer, mle], roles: Self.roles).first?.contains("not on the team") == true)
    }

    @Test("portfolio ranks by weighted score and checks capacity and skills in rank order")
    func portfolio() throws {
        var a = Project(id: "a", name: "A")
        a.scores = ProjectScores(impact: 5, cost: 2, bandwidth: 2, urgency: 5, confidence: 4)
        a.requiredFTE = 1.5
        var b = Project(id: "b", name: "B")
        b.scores = ProjectScores(impact: 3, cost: 3, bandwidth: 3, urgency: 3, confidence: 3)
        b.requiredFTE = 1
        var c = Project(id: "c", name: "C")
        c.scores = ProjectScores(impact: 1, cost: 5, bandwidth: 5, urgency: 1, confidence: 1)
        c.requiredFTE = 0.2
        c.neededSkills = ["modeling": ["quantum": 3]]
        var done = Project(id: "d", name: "D")
        done.stage = .done
        let people = [Self.person("p1", roles: [], skills: ["python": 3]), Self.person("p2", roles: [], skills: [:], capacity: 0.8)]
        let ranked = Portfolio.rank(projects: [c, b, a, done], people: people)
        #expect(ranked.map(\.project) == ["a", "b", "c"])
        #expect(ranked[0].fits && ranked[0].score > ranked[1].score)
        #expect(!ranked[1].fits && ranked[1].note.contains("needs 1.0 more FTE, only 0.3 FTE free"))
        #expect(!ranked[2].fits && ranked[2].note.contains("nobody on the team has: quantum"))
        #expect(abs(ranked[1].score - 0.5) < 1e-12)
    }

    @Test("staffing ranks by skill fit, capacity, track record and learning goals, and says why")
    func staffing() {
        var p = Project(id: "nlp", name: "NLP")
        p.areas = ["nlp"]
        p.neededSkills = ["modeling": ["python": 4, "deep-learning": 3]]
        let expert = Self.person("ana", roles: ["data-scientist"], skills: ["python": 5, "deep-learning": 4], capacity: 0.5,
                                 history: [.init(project: "x", outcome: .delivered, areas: ["nlp"])])
        let learner = Self.person("bob", roles: ["data-scientist"], skills: ["python": 4, "deep-learning": 1], capacity: 1, goals: ["deep-learning"])
        let busy = Self.person("cy", roles: ["ml-engineer"], skills: ["python": 5, "deep-learning": 5], capacity: 1, assignments: [.init(project: "z", allocation: 1)],
                               history: [.init(project: "y", outcome: .failed, areas: ["nlp"])])
        let ranked = Staffing.rank(project: p, stage: .modeling, people: [busy, learner, expert], roles: Self.roles)
        #expect(ranked.map(\.person) == ["ana", "bob", "cy"])
        #expect(ranked[0].skillFit == 1 && ranked[0].trackRecord == 1)
        #expect(ranked[0].reasons.contains("100% success on 1 similar project(s)"))
        #expect(ranked[1].learningBonus == 0.1 && ranked[1].reasons.contains("wants to learn deep-learning"))
        #expect(ranked[1].reasons.contains("below the need in deep-learning 1/3"))
        #expect(abs(ranked[1].skillFit - (1 + 1.0 / 3) / 2) < 1e-12)
        #expect(ranked[2].reasons.contains("0% of a week free"))
    }

    @Test("coverage finds stages and skills with nobody or one person, and missing roles")
    func coverage() {
        let people = [
            Self.person("ana", roles: ["data-scientist"], skills: ["python": 5, "statistics": 4]),
            Self.person("bob", roles: ["data-scientist", "data-engineer"], skills: ["python": 3, "sql": 4]),
        ]
        var p = Project(id: "x", name: "X")
        p.neededSkills = ["deployment": ["kubernetes": 3]]
        let report = Coverage.report(people: people, roles: Self.roles, projects: [p])
        // Only bob's data-engineer role supports deployment: a bus factor of one.
        #expect(report.stages.first { $0.subject == "deployment" } == CoverageReport.Gap(subject: "deployment", people: ["bob"], severity: "one"))
        #expect(report.stages.first { $0.subject == "data" } == nil)  // both work in data
        #expect(report.skills.first { $0.subject == "kubernetes" }?.severity == "none")
        #expect(report.skills.first { $0.subject == "sql" } == CoverageReport.Gap(subject: "sql", people: ["bob"], severity: "one"))
        #expect(report.skills.first { $0.subject == "python" } == nil)
        #expect(report.missingRoles.contains("ml-engineer") && !report.missingRoles.contains("data-scientist"))
    }

    @Test("forecasts: fixed tasks, parallel tasks, a symmetric chain, determinism, validation")
    func forecast() throws {
        let fixed = try ForecastPlan(tasks: [ProjectTask(id: "a", name: "A", optimistic: 5, likely: 5, pessimistic: 5)])
        let one = try Forecast.simulate(fixed, trials: 1000)
        #expect(one.p50 == 5 && one.p80 == 5 && one.p95 == 5 && one.histogram.count == 1 && one.criticality[0].share == 1)

        let parallel = try ForecastPlan(tasks: [
            ProjectTask(id: "a", name: "A", optimistic: 3, likely: 3, pessimistic: 3),
            ProjectTask(id: "b", name: "B", optimistic: 7, likely: 7, pessimistic: 7),
            ProjectTask(id: "c", name: "C", optimistic: 1, likely: 1, pessimistic: 1, dependsOn: ["a", "b"]),
        ])
        let p = try Forecast.simulate(parallel, trials: 100)
        #expect(p.p50 == 8 && p.p95 == 8)
        #expect(p.criticality.map(\.task) == ["b", "c", "a"] && p.criticality[2].share == 0)

        // Three symmetric tasks in a chain: the total is symmetric around 15, so its median is 15.
        let chain = try ForecastPlan(tasks: (0..<3).map { ProjectTask(id: "t\($0)", name: "T", optimistic: 0, likely: 5, pessimistic: 10, dependsOn: $0 == 0 ? [] : ["t\($0 - 1)"]) })
        for distribution in Forecast.Distribution.allCases {
            let r = try Forecast.simulate(chain, trials: 20_000, seed: 3, distribution: distribution)
            #expect(abs(r.p50 - 15) < 0.25, "\(distribution) p50 \(r.p50)")
            #expect(abs(r.mean - 15) < 0.25)
            #expect(r.p50 < r.p80 && r.p80 < r.p95)
            #expect(r.histogram.reduce(0) { $0 + $1.count } == 20_000)
        }
        // Triangular(0, 5, 10) has variance 25/6, so the chain's standard deviation is √12.5 ≈ 3.54;
        // its P80 is near 15 + 0.8416·3.54 ≈ 17.98 (the sum of three is close to normal).
        let tri = try Forecast.simulate(chain, trials: 20_000, seed: 3, distribution: .triangular)
        #expect(abs(tri.p80 - 17.98) < 0.3)

        #expect(try Forecast.simulate(chain, seed: 42) == Forecast.simulate(chain, seed: 42))
        #expect(try Forecast.simulate(chain, seed: 42) != Forecast.simulate(chain, seed: 43))

        #expect(throws: EnsembleError.self) { try ForecastPlan(tasks: [ProjectTask(id: "a", name: "A", optimistic: 5, likely: 3, pessimistic: 9)]) }
        #expect(throws: EnsembleError.self) { try ForecastPlan(tasks: [ProjectTask(id: "a", name: "A", optimistic: 1, likely: 2, pessimistic: 3, dependsOn: ["zz"])]) }
        #expect(throws: EnsembleError.self) {
            try ForecastPlan(tasks: [
                ProjectTask(id: "a", name: "A", optimistic: 1, likely: 2, pessimistic: 3, dependsOn: ["b"]),
                ProjectTask(id: "b", name: "B", optimistic: 1, likely: 2, pessimistic: 3, dependsOn: ["a"]),
            ])
        }
        #expect(Forecast.date(after: 5, from: "2026-11-27") == "2026-12-04")  // Friday + 5 working days
        #expect(Forecast.date(after: 0.2, from: "2026-11-27") == "2026-11-30")
    }
}

@Suite("Team spreadsheet")
struct TeamSpreadsheetTests {
    @Test("a row becomes a person and back, unchanged")
    func roundTrip() throws {
        let row = [
            "name": "Ana Lima", "email": "ana@example.com", "roles": "data-scientist; ml-engineer", "skills": "python:4;sql:3",
            "expertise": "nlp", "learning_goals": "kubernetes", "capacity": "80%", "assignments": "churn:0.5", "history": "old:delivered:churn|tabular;x:failed",
        ]
        let p = try TeamSpreadsheet.person(from: row)
        #expect(p.id == "ana" && p.roles == ["data-scientist", "ml-engineer"] && p.skills == ["python": 4, "sql": 3] && p.capacity == 0.8)
        #expect(p.history == [HistoryEntry(project: "old", outcome: .delivered, areas: ["churn", "tabular"]), HistoryEntry(project: "x", outcome: .failed)])
        #expect(p.successRate == 0.5)
        let back = Dictionary(uniqueKeysWithValues: zip(TeamSpreadsheet.columns, TeamSpreadsheet.row(of: p)))
        #expect(try TeamSpreadsheet.person(from: back) == p)
        #expect(TeamSpreadsheet.csvField("a,b") == "\"a,b\"" && TeamSpreadsheet.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
    }

    @Test("every kind of bad cell is named", arguments: [
        ("skills", "python", "skills: 'python' must be skill:level"),
        ("skills", "python:7", "level from 1 to 5"),
        ("skills", "python:2;python:3", "listed twice"),
        ("capacity", "lots", "capacity: 'lots'"),
        ("assignments", "churn", "assignments: 'churn' must be project:share"),
        ("history", "old:won", "outcome delivered, partial, cancelled or failed"),
    ])
    func badCells(column: String, value: String, message: String) {
        var row = ["name": "Ana", "email": "ana@example.com"]
        row[column] = value
        #expect {
            try TeamSpreadsheet.person(from: row)
        } throws: { error in
            (error as? EnsembleError)?.message.contains(message) == true
        }
    }
}

@Suite("Due dates")
struct DueDateTests {
    @Test("working days between dates and the slip of a forecast against a due date")
    func slip() {
        #expect(Forecast.workingDays(from: "2026-11-27", to: "2026-12-04") == 5)  // Fri → next Fri
        #expect(Forecast.workingDays(from: "2026-12-04", to: "2026-11-27") == -5)
        #expect(Forecast.workingDays(from: "2026-11-28", to: "2026-11-29") == 0)  // a weekend
        #expect(Forecast.slip(finishDays: 7.2, start: "2026-11-27", due: "2026-12-04") == 3)  // 8 days needed, 5 available
        #expect(Forecast.slip(finishDays: 3, start: "2026-11-27", due: "2026-12-04") == -2)
        var p = Project(id: "x", name: "X")
        p.dueDate = "soon"
        #expect(throws: EnsembleError.invalid("due_date: 'soon' must be yyyy-mm-dd.")) { try p.validate() }
    }
}

@Suite("Slugs")
struct SlugTests {
    @Test("slugs are ASCII, accents folded, other runs one dash; names without Latin letters give none", arguments: [
        ("Customer churn prediction", "customer-churn-prediction"), ("Café Crème", "cafe-creme"), ("  A--b__c  ", "a-b-c"),
        ("Ĝôą-á-ûvò", "goa-a-uvo"), ("模型", ""), ("ＡＢＣ１２", "abc12"), ("x\u{202E}y", "x-y"),
    ])
    func slugs(name: String, expected: String) {
        #expect(RoleCatalog.slug(name) == expected)
    }

    @Test("an id that is not an ASCII slug is refused with a suggestion")
    func ids() {
        var p = Project(id: "æ9ó", name: "P")
        #expect(throws: EnsembleError.self) { try p.validate() }
        p.id = ""
        #expect(throws: EnsembleError.self) { try p.validate() }
        p.id = "p-1"
        #expect(throws: Never.self) { try p.validate() }
    }

    @Test("a record stored before ids became ASCII keeps its id on update; new records need ASCII")
    func legacyIDs() {
        var p = Project(id: "café-2", name: "Café")
        #expect(throws: EnsembleError.self) { try p.validate() }
        #expect(throws: Never.self) { try p.validate(existing: true) }
        p.id = "Café"
        #expect(throws: EnsembleError.self) { try p.validate(existing: true) }
        p.id = "a--b"
        #expect(throws: EnsembleError.self) { try p.validate(existing: true) }
        #expect(RoleCatalog.isValidID("模型-1", existing: true))
        #expect(!RoleCatalog.isValidID("x y", existing: true))
    }
}
