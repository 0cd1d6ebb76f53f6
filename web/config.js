// Where the web client finds the HTTP API.
//
//   ""   the origin this page came from: the local gateway (`make run`) serves the page and the
//        API on one port, so nothing needs setting there.
//   URL  the API's base URL when the page is hosted anywhere else (any static host, an S3
//        bucket, a CDN), e.g. "https://abc123.execute-api.eu-west-1.amazonaws.com".
//
// Opening the page with ?api=<url> overrides this for that tab, e.g.
// http://localhost:8000/?api=http://127.0.0.1:3000 . Sessions are kept per API URL, so a token
// issued by one API is never sent to another.
export const API_BASE = "";
