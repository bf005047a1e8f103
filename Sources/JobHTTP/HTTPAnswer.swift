import HTTPTypes
import Hummingbird
import JobCore
import JobRPC
import NIOCore

/// The request context: Hummingbird's, plus the channel (for `SO_PEERCRED`).
struct HTTPContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Responses: JSON results, errors with the socket's codes, and the
/// headers every answer carries.
enum HTTPAnswer {
    /// A refused request: 401 (no or wrong token) or 403 (`allow_uids`).
    struct Refusal: Sendable {
        var status: HTTPResponse.Status
        var code: RPCErrorCode
        var message: String

        static func unauthorized(_ message: String) -> Refusal { Refusal(status: .unauthorized, code: .permissionDenied, message: message) }
        static func forbidden(_ message: String) -> Refusal { Refusal(status: .forbidden, code: .permissionDenied, message: message) }

        var response: Response {
            var answer = HTTPAnswer.error(RPCError(code, message), status: status)
            if status == .unauthorized { answer.headers[.wwwAuthenticate] = "Bearer realm=\"jobqueue\"" }
            return answer
        }
    }

    static func json(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        bytesResponse(bytes, contentType: "application/json", status: status)
    }

    /// `{"error": {"code", "message", "data"}}` with the status the code calls for.
    static func error(_ error: RPCError, status: HTTPResponse.Status? = nil) -> Response {
        var w = JSONWriter()
        w.object { o in o.member("error") { error.write(to: &$0) } }
        return json(w.bytes, status: status ?? Self.status(for: error.code))
    }

    static func status(for code: RPCErrorCode) -> HTTPResponse.Status {
        switch code {
        case .parseError, .invalidRequest, .invalidParams, .unknownHandler: .badRequest
        case .methodNotFound, .notFound, .unknownSchedule: .notFound
        case .invalidState, .leaseLost: .conflict
        case .permissionDenied: .forbidden
        case .overloaded, .shuttingDown: .serviceUnavailable
        case .internalError: .internalServerError
        }
    }

    static func bytesResponse(_ bytes: [UInt8], contentType: String, status: HTTPResponse.Status = .ok,
                              cache: String = "no-store") -> Response {
        var headers = securityHeaders
        headers[.contentType] = contentType
        headers[.cacheControl] = cache
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Nothing but this origin, no framing, no sniffing, no referrer with the token.
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
    ]
}
