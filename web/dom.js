// Small DOM helpers: elements built with text nodes only (whatever the API returns is shown as
// text, never parsed as HTML), the icon set, toasts, avatars and times.

const SVG_NS = "http://www.w3.org/2000/svg";

/** h("a", {class: "x", href, onclick}, "text", child) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// Stroke icons on a 24x24 grid (constant markup, never data).
const ICONS = {
  repost: '<path d="M17 2l4 4-4 4"/><path d="M3 12v-2a4 4 0 0 1 4-4h14"/><path d="M7 22l-4-4 4-4"/><path d="M21 12v2a4 4 0 0 1-4 4H3"/>',
  image: '<rect x="3" y="3" width="18" height="18" rx="3"/><circle cx="8.5" cy="8.5" r="1.6"/><path d="M21 15l-5-5L5 21"/>',
  trash: '<path d="M3 6h18"/><path d="M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6"/><path d="M10 11v6M14 11v6"/><path d="M9 6V4h6v2"/>',
  refresh: '<path d="M23 4v6h-6"/><path d="M20.5 15a9 9 0 1 1-2.1-9.4L23 10"/>',
  star: '<path d="M12 2l3.1 6.3 6.9 1-5 4.9 1.2 6.8L12 17.8 5.8 21l1.2-6.8-5-4.9 6.9-1z"/>',
  close: '<path d="M18 6L6 18M6 6l12 12"/>',
  search: '<circle cx="11" cy="11" r="7"/><path d="M21 21l-4.3-4.3"/>',
  heart: '<path d="M20.8 4.6a5.5 5.5 0 0 0-7.8 0L12 5.7l-1-1.1a5.5 5.5 0 0 0-7.8 7.8l1 1.1L12 21l7.8-7.5 1-1.1a5.5 5.5 0 0 0 0-7.8z"/>',
  block: '<circle cx="12" cy="12" r="9"/><path d="M5.6 5.6l12.8 12.8"/>',
  mute: '<path d="M11 5L6 9H2v6h4l5 4z"/><path d="M23 9l-6 6M17 9l6 6"/>',
  up: '<path d="M12 19V5M5 12l7-7 7 7"/>',
  reply: '<path d="M9 14l-5-5 5-5"/><path d="M20 20v-7a4 4 0 0 0-4-4H4"/>',
  back: '<path d="M19 12H5M12 19l-7-7 7-7"/>',
  logout: '<path d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4"/><path d="M16 17l5-5-5-5"/><path d="M21 12H9"/>',
  alert: '<path d="M12 9v4M12 17h.01"/><path d="M10.3 3.9L1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z"/>',
};

export function icon(name, label = null) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", `icon icon-${name}`);
  if (label) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
  } else {
    svg.setAttribute("aria-hidden", "true");
  }
  svg.innerHTML = ICONS[name];
  return svg;
}

// ---------------------------------------------------------------- toasts

const MAX_TOASTS = 3;

export function toast(message, kind = "info", ms = 4200) {
  const box = document.getElementById("toasts");
  const item = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  box.append(item);
  // The newest few only: a stack of old news would cover the page.
  const live = [...box.children].filter((t) => !t.classList.contains("leaving"));
  for (const old of live.slice(0, Math.max(0, live.length - MAX_TOASTS))) old.remove();
  setTimeout(() => {
    item.classList.add("leaving");
    setTimeout(() => item.remove(), 300);
  }, ms);
}

/**
 * Ask before something that cannot be taken back: a modal <dialog> with the question, what
 * follows, and two buttons. Resolves true when the person confirms, false otherwise (Cancel,
 * Escape, a click outside).
 */
export function confirmDialog({ title, body = "", confirm = "Confirm", danger = true }) {
  return new Promise((resolve) => {
    const yes = h("button", { class: `btn ${danger ? "btn-danger" : "btn-primary"}`, type: "submit", value: "yes",
      id: "confirm-yes" }, confirm);
    const no = h("button", { class: "btn", type: "submit", value: "no", id: "confirm-no" }, "Cancel");
    const titleId = `dialog-title-${Math.random().toString(36).slice(2, 8)}`;
    const dialog = h("dialog", { class: "dialog card", "aria-labelledby": titleId },
      h("form", { method: "dialog" },
        h("h2", { id: titleId }, title),
        body ? h("p", { class: "muted" }, body) : null,
        h("div", { class: "dialog-buttons" }, no, yes)));
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close("no"); // the backdrop
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "yes");
    });
    document.body.append(dialog);
    dialog.showModal();
    no.focus(); // the safe choice has the focus
  });
}

/** An error as a sentence for a person. */
export function describe(err) {
  if (err?.status === 429) {
    const wait = Number(err.retryAfter);
    return `Slow down: too many requests${wait > 0 ? `, try again in ${wait} s` : ""}.`;
  }
  return err?.message || String(err);
}

// ---------------------------------------------------------------- people and times

function hue(text) {
  let n = 0;
  for (const ch of text) n = (n * 31 + ch.codePointAt(0)) % 360;
  return n;
}

export function avatar(user, size = "md") {
  const name = user.display_name || user.handle;
  const initial = Array.from(name.trim())[0]?.toUpperCase() || "?";
  const el = h("span", { class: `avatar avatar-${size}`, "aria-hidden": "true" }, initial);
  el.style.setProperty("--avatar-hue", String(hue(user.handle.toLowerCase()))); // CSSOM: allowed by the CSP
  return el;
}

export function profileHref(handle) {
  return `#/u/${encodeURIComponent(handle)}`;
}

export function postHref(id) {
  return `#/post/${encodeURIComponent(id)}`;
}

const dateShort = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const dateLong = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });
const dateFull = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function timeAgo(iso, now = Date.now()) {
  const at = new Date(iso);
  const s = Math.max(0, Math.round((now - at.getTime()) / 1000));
  if (s < 45) return "now";
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))}m`;
  if (s < 86400) return `${Math.round(s / 3600)}h`;
  return (at.getFullYear() === new Date(now).getFullYear() ? dateShort : dateLong).format(at);
}

export function timeEl(iso) {
  return h("time", { datetime: iso, title: dateFull.format(new Date(iso)) }, timeAgo(iso));
}

/** Characters as a reader counts them (grapheme clusters), as the API counts a post's 280. */
const graphemes = typeof Intl.Segmenter === "function" ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;

export function characterCount(text) {
  const normalized = text.normalize("NFC");
  if (!graphemes) return Array.from(normalized).length;
  let n = 0;
  for (const _ of graphemes.segment(normalized)) n++;
  return n;
}

export function plural(n, one, many = `${one}s`) {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}
