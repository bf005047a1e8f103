import HTTPTypes
import Hummingbird
import JobEngine
import JobRPC
import JobServer

/// Who may do what over HTTP (OBSERVABILITY.md, "Access"). On TCP the token
/// decides: `Authorization: Bearer`, or the cookie the `?token=` URL set;
/// a POST with the cookie must also carry `X-CSRF-Token` equal to the token.
/// On a `unix:` listener the peer's `SO_PEERCRED` and the socket's
/// `allow_uids`/`allow_gids` decide, as on the RPC socket; a POST there
/// still needs the token (bearer or `X-CSRF-Token`), since a browser
/// behind a reverse proxy could otherwise be made to send one.
struct HTTPAccess: Sendable {
    enum Need {
        case read, write, metrics
    }

    enum Decision {
        case allowed(Caller)
        case refused(HTTPAnswer.Refusal)
    }

    static let cookieName = "jobqueue_token"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    let token: AccessToken
    let overUnixSocket: Bool
    let metricsNeedToken: Bool
    let service: RPCService

    func check(_ request: Request, _ context: HTTPContext, needs: Need) async -> Decision {
        if overUnixSocket {
            let peer = await HTTPCaller.peer(of: context.channel)
            guard let peer, service.allows(peer, method: "stats") else {
                return .refused(.forbidden("permission denied: uid \(peer.map { String($0.uid) } ?? "unknown") may not use this listener"))
            }
            if needs == .write && !(bearerMatches(request) || token.matches(request.headers[Self.csrfHeader]?[...])) {
                return .refused(.unauthorized("a POST needs the token: Authorization: Bearer, or X-CSRF-Token"))
            }
            return .allowed(peer)
        }
        if needs == .metrics && !metricsNeedToken { return .allowed(HTTPCaller.tokenHolder()) }
        if bearerMatches(request) { return .allowed(HTTPCaller.tokenHolder()) }
        guard cookieMatches(request) else {
            return .refused(.unauthorized("the token is missing or wrong: open the URL `jobctl dashboard` prints, or send Authorization: Bearer"))
        }
        if needs == .write && !token.matches(request.headers[Self.csrfHeader]?[...]) {
            return .refused(.unauthorized("X-CSRF-Token is missing or wrong: a POST with the cookie needs it"))
        }
        return .allowed(HTTPCaller.tokenHolder())
    }

    /// The refusal, or nil when the request may go on.
    func refusal(_ request: Request, _ context: HTTPContext, needs: Need) async -> HTTPAnswer.Refusal? {
        if case .refused(let refusal) = await check(request, context, needs: needs) { return refusal }
        return nil
    }

    func bearerMatches(_ request: Request) -> Bool {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return false }
        return token.matches(header.dropFirst(7))
    }

    func cookieMatches(_ request: Request) -> Bool {
        token.matches(request.cookies[Self.cookieName].map { $0.value[...] })
    }
}
