import ArgumentParser
import EnsembleClient
import Foundation

/// `ensemble login`: gets an API token for this machine and keeps it for later commands.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Sign in to a server that has authentication on; later commands send the saved token.",
        discussion: """
            With --user, asks for the password (or reads it from standard input with --password-stdin) and
            creates a token named after this machine; with --token-stdin, saves a token you already have.
            The token is kept in ~/.config/ensemble/credentials.json (mode 0600); ENSEMBLE_TOKEN overrides it.

            Examples:
              ensemble login --server https://ensemble.example.com --user ana
              echo "$ENSEMBLE_CI_TOKEN" | ensemble login --server http://10.0.0.5:5000 --token-stdin
            """)

    @Option(help: "User name (a token is created with your password).") var user: String?
    @Flag(help: "Read the password from standard input instead of asking.") var passwordStdin = false
    @Flag(help: "Read an existing API token from standard input.") var tokenStdin = false
    @Option(help: "Token lifetime when one is created: 30m, 12h, 90d, 1y.") var expiresIn: String = "90d"
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var server: ServerOption

    func run() async throws {
        let url = server.server ?? EnsembleClient.defaultServer()
        let token: String
        if tokenStdin {
            guard let line = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces), line.hasPrefix("ens_") else {
                throw CLIFailure(message: "Standard input has no API token (they start with ens_).")
            }
            token = line
        } else {
            guard let user else { throw ValidationError("Say who you are: --user NAME (or --token-stdin with a token).") }
            let password = try AdminCommand.readPassword(fromStdin: passwordStdin, confirm: false)
            let basic = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
            let client = try await reportingErrors { try EnsembleClient(server: url, token: "") }
            struct Made: Decodable { let token: String }
            struct Ask: Encodable {
                let name: String
                let expiresIn: String
            }
            let host = ProcessInfo.processInfo.hostName
            let made: Made = try await reportingErrors {
                try await client.json(.POST, "/api/v1/me/tokens", body: Ask(name: "cli on \(host)", expiresIn: expiresIn), authorization: basic)
            }
            token = made.token
        }
        // Check the token before keeping it.
        let client = try await reportingErrors { try EnsembleClient(server: url, token: token) }
        struct Me: Decodable {
            struct User: Decodable { let name: String }
            let mode: String
            let user: User?
        }
        let me: Me = try await reportingErrors { try await client.json(.GET, "/api/v1/me") }
        guard let name = me.user?.name else {
            throw CLIFailure(message: "\(url) runs without authentication (single-user mode); there is nothing to log in to.")
        }
        let file = try Credentials.save(token, for: url)
        if json {
            print("{\"server\": \"\(url)\", \"user\": \"\(name)\", \"credentials\": \"\(file)\"}")
        } else {
            print("Logged in to \(url) as \(name). Token saved in \(file).")
        }
    }
}

struct LogoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "Forget the token saved for a server.")
    @OptionGroup var server: ServerOption

    func run() async throws {
        let url = server.server ?? EnsembleClient.defaultServer()
        let file = try Credentials.save(nil, for: url)
        print("Forgot the token for \(url) (\(file)). Revoke it on the server if it may have leaked.")
    }
}
