// Where the web client finds the HTTP API.
//
//   ""   the origin this page came from: the local gateway (`make run`) serves the page and the
//        API on one port, so nothing needs setting there.
//   URL  the API's base URL when the page is hosted anywhere else (any static host, an S3
//        bucket, a CDN), e.g. "https://abc123.execute-api.eu-west-1.amazonaws.com". Name its
//        origin in index.html's Content-Security-Policy too (connect-src), with the media
//        bucket's (connect-src and img-src); the browser refuses every other origin.
//
// Opening the page with ?api=<url> picks the API only among this page's own origin and the URL
// here; any other value is ignored, so a link cannot send what is typed into this page (a
// password) to a server it names. Sessions are kept per API URL.
export const API_BASE = "";

// The local stack's demo login (infra/console/seed.py: DEMO_HANDLE, DEMO_PASSWORD; `make run`
// seeds it). The sign-in page mentions it only when the page is served from this machine
// (a loopback address), or when the server says so itself with
// <meta name="timeline-demo-login" content="handle password"> in the page. Set it to null to
// never mention it.
export const LOCAL_DEMO_LOGIN = { handle: "demo", password: "demo-password-1" };
