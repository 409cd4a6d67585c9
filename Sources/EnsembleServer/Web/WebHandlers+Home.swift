import EnsembleArtifacts
import EnsembleCore
import EnsembleJSON
import Foundation
import Hummingbird
import Mustache
import NIOCore

/// The home page: recent runs, models, activity and the project board.
extension WebHandlers {
    // MARK: Home

    /// Working days late (positive) or ahead at P80, for a project with tasks, a start and a due date.
    func slip(_ p: Project, trials: Int = 2000) -> (p50: Int, p80: Int, result: ForecastResult)? {
        guard p.stage != .done, p.stage != .cancelled, let start = p.startDate, let due = p.dueDate,
            let f = forecasts.forecast(tasks: p.tasks, trials: trials),
            let s50 = Forecast.slip(finishDays: f.p50, start: start, due: due), let s80 = Forecast.slip(finishDays: f.p80, start: start, due: due)
        else { return nil }
        return (s50, s80, f)
    }

    static func lateness(_ p80: Int) -> (text: String, cls: String) {
        p80 > 0 ? ("late by \(p80) working day(s) at P80", "bad") : ("on track (P80 \(-p80) working day(s) early)", "ok")
    }

    func board(_ projects: [Project]) -> [BoardStage] {
        ProjectStage.allCases.map { stage in
            let items = projects.filter { $0.stage == stage }
            return BoardStage(
                name: stage.rawValue, count: items.count,
                projects: items.map { p in
                    let lateness = slip(p).map { Self.lateness($0.p80) }
                    return BoardItem(id: p.id, name: p.name, owner: p.owners[stage.rawValue], late: lateness?.text, lateClass: lateness?.cls)
                })
        }
    }

    func home(_ r: Request, _ c: EnsembleRequestContext) async throws -> Response {
        let experiments = try await tracking.searchExperiments(ExperimentSearch(maxResults: 1000)).items
        let weekAgo = Int64(Date().timeIntervalSince1970 * 1000) - 7 * 86_400_000
        var recent: [Run] = []
        var count = 0
        if !experiments.isEmpty {
            let filter = try SearchFilterParser.parse("attributes.start_time >= \(weekAgo)", for: .runs)
            let order = try SearchFilterParser.parseOrderBy("attributes.start_time DESC", for: .runs)
            let page = try await tracking.searchRuns(RunSearch(experimentIDs: experiments.map(\.id), filter: filter, orderBy: [order], maxResults: 1001))
            count = page.items.count
            recent = Array(page.items.prefix(8))
        }
        let names = Dictionary(experiments.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let models = try await registry.searchRegisteredModels(
            RegistrySearch(filter: [], orderBy: [try SearchFilterParser.parseOrderBy("last_updated_timestamp DESC", for: .registeredModels)], maxResults: 6)
        ).items
        let activity = try await team.activity(project: nil, limit: 15)
        let who = await displayNames()
        return render(
            c,
            "home",
            HomeView(
                // Counting stops at 1,000 so the home page stays one bounded query.
                runsThisWeek: count > 1000 ? "1,000+" : String(count),
                recentRuns: recent.map { run in
                    HomeView.RecentRun(
                        id: run.info.runID, name: run.info.runName, experiment: names[run.info.experimentID] ?? run.info.experimentID,
                        when: Self.when(run.info.startTime))
                },
                models: models.map(Self.modelRow),
                activity: activity.map { HomeView.Activity(when: Self.when($0.at), project: $0.project, summary: $0.summary, actor: $0.actor.map { who[$0] ?? $0 }) },
                stages: board(try await team.projects())))
    }
}
