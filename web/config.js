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
