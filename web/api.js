// The HTTP API as the page uses it: the session (tokens kept per API URL), every request with
// its bearer token, one refresh and one retry when the access token has expired, and the image
// upload flow (upload form -> the file straight to S3 -> the media processor's verdict).

import { API_BASE } from "./config.js";

const REFRESH_EARLY_SECONDS = 60; // refresh a token this close to its expiry before using it
const MEDIA_WAIT_MS = 60_000; // bound on waiting for the media processor's verdict

/**
 * The API this page talks to, as { base, ignored }: config.js's API_BASE, or this page's own
 * origin when it names none. ?api= may only pick one of those two; any other value is ignored
 * (`ignored` is then true, for the page to say so). A link to this page naming another
 * server would otherwise get the handle and password typed (or filled in) here, then the
 * session. The page's Content-Security-Policy (index.html) enforces the same in the browser.
 */
export function resolveApiBase(loc = window.location) {
  const configured = (API_BASE ?? "").trim();
  let base = loc.origin;
  if (configured) {
    base = normalizeBase(configured, loc);
    if (base === null) throw new Error(`API_BASE in config.js must be an http(s) URL, not ${JSON.stringify(configured)}`);
  }
  const asked = new URL(loc.href).searchParams.get("api")?.trim();
  if (!asked) return { base, ignored: false };
  const wanted = normalizeBase(asked, loc);
  return wanted === base || wanted === loc.origin ? { base: wanted, ignored: false } : { base, ignored: true };
}

/** An http(s) URL (relative to this page's) as a base ("origin/path", no trailing slash), or null. */
function normalizeBase(text, loc) {
  let url;
  try {
    url = new URL(text, loc.href);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (url.username || url.password || url.search || url.hash) return null;
  return (url.origin + url.pathname).replace(/\/+$/, "");
}

/** An answer of the API that is not a success: API errors, gateway errors and network failures. */
export class ApiError extends Error {
  constructor(status, code, message, details = null, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

async function errorFrom(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch {
    /* not JSON: a proxy's page, S3's XML */
  }
  const retryAfter = resp.headers.get("retry-after");
  if (body?.error) {
    return new ApiError(resp.status, body.error.code, messageOf(body.error), body.error.details, retryAfter);
  }
  const message = body?.message ?? `${resp.status} ${resp.statusText || "error"}`;
  return new ApiError(resp.status, `http_${resp.status}`, message, null, retryAfter);
}

/**
 * What the API said, in its own words. A body that fails validation is 422 `invalid_body`,
 * whose message is generic ("the request body is not valid"); the reason is in its details,
 * one problem per field (e.g. "text is 281 characters; the limit is 280").
 */
export function messageOf(error) {
  const problems = Array.isArray(error.details)
    ? error.details.map((d) => problemText(d)).filter(Boolean)
    : [];
  return problems.length ? problems.join("; ") : error.message;
}

function problemText(detail) {
  if (!detail || typeof detail.problem !== "string") return "";
  const { field, problem } = detail;
  // "text is 281 characters…" already names its field; "required" or "unknown field" do not.
  if (!field || field === "body" || problem.toLowerCase().startsWith(String(field).toLowerCase())) return problem;
  return `${field}: ${problem}`;
}

/** The `exp` of a JWT in ms, or null when it cannot be read (then only the API can tell). */
function expiryOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const exp = JSON.parse(atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, "="))).exp;
    return typeof exp === "number" ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/** A random key for Idempotency-Key (crypto.randomUUID needs a secure context; this does not). */
export function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Api {
  constructor(base) {
    this.base = base;
    this.storageKey = `timeline.session:${base}`;
    this.session = this._load();
    this._refreshing = null;
    this.onSignedOut = () => {};
  }

  // ---------------------------------------------------------------- the session

  _load() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.storageKey) || "null");
      return saved && saved.access && saved.refresh && saved.handle ? saved : null;
    } catch {
      return null;
    }
  }

  _save() {
    if (this.session) localStorage.setItem(this.storageKey, JSON.stringify(this.session));
    else localStorage.removeItem(this.storageKey);
  }

  _adopt(tokens, extra = {}) {
    this.session = {
      ...(this.session || {}),
      ...extra,
      access: tokens.access_token,
      refresh: tokens.refresh_token || this.session?.refresh,
      // From expires_in, on this clock: a skewed clock must not make every token look expired.
      expiresAt: tokens.expires_in ? Date.now() + tokens.expires_in * 1000 : expiryOf(tokens.access_token),
    };
    this._save();
  }

  get signedIn() {
    return this.session !== null;
  }

  get me() {
    return this.session?.me ?? null;
  }

  /** Drop the session; `reason` (if any) says why to the person. */
  forget(reason = null) {
    this.session = null;
    this._save();
    this.onSignedOut(reason);
  }

  /** Fresh tokens for the refresh token, once at a time however many requests need them. */
  refresh() {
    if (!this._refreshing) {
      const refreshToken = this.session?.refresh;
      this._refreshing = (async () => {
        if (!refreshToken) return false;
        const resp = await fetch(`${this.base}/v1/auth/refresh`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ refresh_token: refreshToken }),
        });
        if (resp.status === 400 || resp.status === 401 || resp.status === 422) return false;
        if (!resp.ok) throw await errorFrom(resp);
        if (this.session?.refresh === refreshToken) this._adopt(await resp.json());
        return true;
      })().finally(() => {
        this._refreshing = null;
      });
    }
    return this._refreshing;
  }

  // ---------------------------------------------------------------- requests

  async request(method, path, { body, auth = true, headers = {} } = {}) {
    if (auth && !this.session) throw new ApiError(401, "signed_out", "Please sign in.");
    if (auth && this.session.expiresAt && this.session.expiresAt - REFRESH_EARLY_SECONDS * 1000 < Date.now()) {
      await this.refresh(); // expired or about to: refresh first (a 401 without CORS headers is unreadable)
    }
    for (let attempt = 0; ; attempt++) {
      const sent = { ...headers };
      if (body !== undefined) sent["content-type"] = "application/json";
      if (auth) {
        if (!this.session) throw new ApiError(401, "signed_out", "Please sign in.");
        sent.authorization = `Bearer ${this.session.access}`;
      }
      let resp;
      try {
        resp = await fetch(this.base + path, {
          method,
          headers: sent,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {
        throw new ApiError(0, "network", `Cannot reach the API at ${this.base} (${err.message}).`);
      }
      if (resp.status === 401 && auth && attempt === 0) {
        if (await this.refresh()) continue; // the access token had expired: once more with a fresh one
        const ended = "Your session has ended; please sign in again.";
        this.forget(ended);
        throw new ApiError(401, "signed_out", ended);
      }
      if (!resp.ok) throw await errorFrom(resp);
      return resp.status === 204 ? null : resp.json();
    }
  }

  // ---------------------------------------------------------------- auth

  signUp(handle, displayName, password) {
    return this.request("POST", "/v1/auth/signup", {
      auth: false,
      body: { handle, password, display_name: displayName },
    });
  }

  async signIn(handle, password) {
    const tokens = await this.request("POST", "/v1/auth/token", { auth: false, body: { handle, password } });
    this.session = null;
    this._adopt(tokens, { handle });
    try {
      this.session.me = await this.whoAmI(handle);
      this.session.handle = this.session.me.handle;
      this._save();
    } catch (err) {
      this.session = null; // still on the sign-in form, which shows the error
      this._save();
      throw err;
    }
    return this.session.me;
  }

  async signOut() {
    try {
      await this.request("POST", "/v1/auth/signout");
    } catch {
      /* signed out here all the same */
    }
    this.forget();
  }

  /**
   * The caller's own profile: GET /v1/me, or (an API without it) the profile under the handle
   * signed in with, which is the caller's own.
   */
  async whoAmI(handle = this.session?.handle) {
    try {
      return await this.request("GET", "/v1/me");
    } catch (err) {
      if (err.status !== 404 || !handle) throw err;
      return this.profile(handle);
    }
  }

  /** Read the caller's profile again (counts change) and keep it with the session. */
  async refreshMe() {
    const me = await this.whoAmI();
    if (this.session && this.session.me?.id === me.id) {
      this.session.me = me;
      this._save();
    }
    return me;
  }

  // ---------------------------------------------------------------- users

  profile(handle) {
    return this.request("GET", `/v1/users/${encodeURIComponent(handle)}`);
  }

  followers(handle, cursor = null, limit = 50) {
    return this.request("GET", `/v1/users/${encodeURIComponent(handle)}/followers?${page(limit, cursor)}`);
  }

  block(handle) {
    return this.request("POST", `/v1/users/${encodeURIComponent(handle)}/block`);
  }

  unblock(handle) {
    return this.request("DELETE", `/v1/users/${encodeURIComponent(handle)}/block`);
  }

  mute(handle) {
    return this.request("POST", `/v1/users/${encodeURIComponent(handle)}/mute`);
  }

  unmute(handle) {
    return this.request("DELETE", `/v1/users/${encodeURIComponent(handle)}/mute`);
  }

  follow(handle) {
    return this.request("POST", `/v1/users/${encodeURIComponent(handle)}/follow`);
  }

  unfollow(handle) {
    return this.request("DELETE", `/v1/users/${encodeURIComponent(handle)}/follow`);
  }

  following(handle, cursor = null, limit = 100) {
    return this.request("GET", `/v1/users/${encodeURIComponent(handle)}/following?${page(limit, cursor)}`);
  }

  // ---------------------------------------------------------------- posts and timelines

  timeline(cursor = null, limit = 20) {
    return this.request("GET", `/v1/timeline?${page(limit, cursor)}`);
  }

  userTweets(handle, cursor = null, limit = 20) {
    return this.request("GET", `/v1/users/${encodeURIComponent(handle)}/tweets?${page(limit, cursor)}`);
  }

  post(text, mediaIds, idempotencyKey, replyToId = null) {
    return this.request("POST", "/v1/tweets", {
      body: { text, ...(mediaIds.length ? { media_ids: mediaIds } : {}), ...(replyToId ? { reply_to_id: replyToId } : {}) },
      headers: idempotencyKey ? { "idempotency-key": idempotencyKey } : {},
    });
  }

  tweet(id) {
    return this.request("GET", `/v1/tweets/${encodeURIComponent(id)}`);
  }

  /** A post's direct replies, oldest first. */
  replies(id, cursor = null, limit = 20) {
    return this.request("GET", `/v1/tweets/${encodeURIComponent(id)}/replies?${page(limit, cursor)}`);
  }

  like(id) {
    return this.request("POST", `/v1/tweets/${id}/like`);
  }

  unlike(id) {
    return this.request("DELETE", `/v1/tweets/${id}/like`);
  }

  repost(id) {
    return this.request("POST", `/v1/tweets/${id}/repost`);
  }

  undoRepost(id) {
    return this.request("DELETE", `/v1/tweets/${id}/repost`);
  }

  deletePost(id) {
    return this.request("DELETE", `/v1/tweets/${id}`);
  }

  // ---------------------------------------------------------------- images

  /**
   * Upload one image: ask for a form, post the file to S3 with it, wait for the processor.
   * `onState` hears "uploading", then "checking"; resolves with the ready media, or throws.
   */
  async uploadImage(file, onState = () => {}) {
    onState("uploading");
    const form = await this.request("POST", "/v1/media", {
      body: { content_type: file.type, content_length: file.size },
    });
    const data = new FormData();
    for (const [name, value] of Object.entries(form.upload.fields)) data.append(name, value);
    data.append("file", file); // last: S3 ignores fields after the file
    let resp;
    try {
      resp = await fetch(form.upload.url, { method: "POST", body: data });
    } catch (err) {
      throw new ApiError(0, "network", `The upload did not reach storage (${err.message}).`);
    }
    if (!resp.ok) {
      const text = await resp.text().catch(() => "");
      const reason = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] || `${resp.status}`;
      throw new ApiError(resp.status, "upload_failed", `Storage refused the upload: ${reason}`);
    }
    onState("checking");
    const deadline = Date.now() + MEDIA_WAIT_MS;
    for (let wait = 150; ; wait = Math.min(wait * 1.6, 1500)) {
      const media = await this.request("GET", `/v1/media/${form.media_id}`);
      if (media.status === "ready") return media;
      if (media.status === "rejected") {
        throw new ApiError(422, media.reason || "rejected", media.message || "The image was rejected.");
      }
      if (Date.now() > deadline) throw new ApiError(0, "timeout", "The image is taking too long to check.");
      await sleep(wait);
    }
  }
}

function page(limit, cursor) {
  const params = new URLSearchParams({ limit: String(limit) });
  if (cursor) params.set("cursor", cursor);
  return params.toString();
}
