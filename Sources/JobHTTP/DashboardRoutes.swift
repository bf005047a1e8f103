import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `/` and its two assets, embedded in the binary at build time
/// (`Package.swift`: `.embedInCode`), so nothing is read from disk or
/// fetched from another host.
struct DashboardRoutes {
    let access: HTTPAccess

    func register(on router: Router<HTTPContext>) {
        router.get("/") { request, context in await page(request, context) }
        router.get("assets/app.css") { _, _ in
            HTTPAnswer.bytesResponse(PackageResources.app_css, contentType: "text/css; charset=utf-8", cache: "no-cache")
        }
        router.get("assets/app.js") { _, _ in
            HTTPAnswer.bytesResponse(PackageResources.app_js, contentType: "text/javascript; charset=utf-8", cache: "no-cache")
        }
        router.get("assets/views.js") { _, _ in
            HTTPAnswer.bytesResponse(PackageResources.views_js, contentType: "text/javascript; charset=utf-8", cache: "no-cache")
        }
    }

    /// The page. `?token=` (once, from the URL the daemon logs) sets the
    /// cookie and sends the browser on to `/`, so the token leaves the
    /// address bar and the history.
    private func page(_ request: Request, _ context: HTTPContext) async -> Response {
        if !access.overUnixSocket, let offered = request.uri.queryParameters["token"] {
            guard access.token.matches(offered[...]) else { return loginPage(status: .unauthorized) }
            var headers = HTTPAnswer.securityHeaders
            headers[.location] = "/"
            headers[.setCookie] = Cookie(name: HTTPAccess.cookieName, value: access.token.value, path: "/", secure: false,
                                         httpOnly: true, sameSite: .strict).description
            return Response(status: .seeOther, headers: headers)
        }
        if case .refused(let refusal) = await access.check(request, context, needs: .read) {
            return loginPage(status: refusal.status)
        }
        // The page's script sends this back in X-CSRF-Token (the cookie itself is HttpOnly).
        let html = String(decoding: PackageResources.index_html, as: UTF8.self)
            .replacingOccurrences(of: "__CSRF_TOKEN__", with: access.token.value)
        return HTTPAnswer.bytesResponse(Array(html.utf8), contentType: "text/html; charset=utf-8")
    }

    private func loginPage(status: HTTPResponse.Status) -> Response {
        let html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>jobqueue: token needed</title>
            <meta name="viewport" content="width=device-width, initial-scale=1"></head>
            <body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem">
            <h1>jobqueue</h1><p>This dashboard needs its token. Run <code>jobctl dashboard</code> on the daemon's machine
            and open the URL it prints (it holds the token once; a cookie keeps it after that).</p></body></html>
            """
        return HTTPAnswer.bytesResponse(Array(html.utf8), contentType: "text/html; charset=utf-8", status: status)
    }
}
