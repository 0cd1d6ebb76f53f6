// People: whom the reader follows (loaded once per session, kept in state.following), follow
// buttons, a row per account, the sidebar's "Find people" and "Following" cards, and a paged
// list of an account's followers or followings.

import { avatar, describe, h, icon, plural, profileHref, toast } from "./dom.js";
import { isFollowing, state } from "./state.js";

const FOLLOWING_PAGES = 5; // the sidebar lists up to 500 followed accounts
const LIST_PAGE = 50;

export function celebrityBadge(compact = false) {
  return h("span", {
    class: `badge badge-celebrity${compact ? " badge-compact" : ""}`,
    title: "Celebrity: their posts are merged into timelines at read time",
  }, icon("star", compact ? "celebrity" : null), compact ? null : "celebrity");
}

// ---------------------------------------------------------------- whom the reader follows

/** Load whom the reader follows (up to FOLLOWING_PAGES pages); never rejects. */
export async function loadFollowing() {
  const me = state.api.me;
  let cursor = null;
  state.followingError = null;
  try {
    for (let n = 0; n < FOLLOWING_PAGES; n++) {
      const page = await state.api.following(me.handle, cursor);
      for (const user of page.items) state.following.set(user.handle.toLowerCase(), user);
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    state.followingComplete = !cursor;
  } catch (err) {
    state.followingError = describe(err);
    if (state.api.signedIn) toast(`Could not load whom you follow: ${describe(err)}`, "error");
  }
  state.followingDone = true;
  refreshFollowing();
}

/** What a profile's `viewer` says about following it, kept for every follow button. */
export function learnRelationship(user) {
  if (typeof user.viewer?.following !== "boolean") return;
  if (user.viewer.following) state.following.set(user.handle.toLowerCase(), user);
  else state.following.delete(user.handle.toLowerCase());
  refreshFollowing();
}

/**
 * Redraw what depends on whom the reader follows: the sidebar list, and every follow button.
 * The list is drawn from what is known whenever the sidebar is drawn anew (every view change):
 * before, it was only drawn when the first load finished, so any view after the first kept its
 * spinner for ever.
 */
export function refreshFollowing() {
  const list = document.getElementById("following-list");
  if (list && state.followingDone) {
    const users = [...state.following.values()].sort((a, b) => a.handle.localeCompare(b.handle));
    list.replaceChildren(...users.map((u) => userRow(u)));
    if (!users.length) {
      list.append(h("li", { class: "muted list-empty" }, state.followingError
        ? `Could not load whom you follow: ${state.followingError}`
        : "You follow nobody yet. Find someone above."));
    }
    document.querySelector("#following-card .count").textContent =
      users.length ? `${users.length}${state.followingComplete ? "" : "+"}` : "";
  }
  for (const button of document.querySelectorAll(".follow-button")) button.paint?.();
}

export function followButton(user, onChange = () => {}) {
  const button = h("button", { class: "btn btn-small follow-button", type: "button", dataset: { handle: user.handle } });
  const paint = () => {
    const on = isFollowing(user.handle);
    button.textContent = on ? "Following" : "Follow";
    button.classList.toggle("btn-primary", !on);
    button.classList.toggle("is-following", on);
    button.title = on ? `Unfollow @${user.handle}` : `Follow @${user.handle}`;
    button.setAttribute("aria-pressed", String(on));
  };
  button.addEventListener("click", async () => {
    const on = isFollowing(user.handle);
    button.disabled = true;
    try {
      const rel = on ? await state.api.unfollow(user.handle) : await state.api.follow(user.handle);
      if (rel.following) {
        state.following.set(rel.user.handle.toLowerCase(), rel.user);
        toast(`Following @${rel.user.handle}. Their recent posts reach your timeline in a moment.`, "success");
      } else {
        state.following.delete(rel.user.handle.toLowerCase());
        toast(`Unfollowed @${rel.user.handle}.`);
      }
      refreshFollowing();
      onChange(rel.user);
    } catch (err) {
      toast(describe(err), "error");
    } finally {
      button.disabled = false;
    }
  });
  button.addEventListener("mouseenter", () => {
    if (isFollowing(user.handle)) button.textContent = "Unfollow";
  });
  button.addEventListener("mouseleave", paint);
  button.paint = paint;
  paint();
  return button;
}

export function userRow(user, { counts = false } = {}) {
  const meta = counts ? h("span", { class: "user-meta muted" }) : null;
  const paintMeta = (u) => {
    if (meta) meta.textContent = `${plural(u.followers_count, "follower")} · ${u.following_count.toLocaleString()} following`;
  };
  paintMeta(user);
  return h("li", { class: "user-row", dataset: { handle: user.handle } },
    h("a", { class: "user-link", href: profileHref(user.handle) }, avatar(user, "sm"),
      h("span", { class: "user-names" },
        h("span", { class: "user-name" }, user.display_name, user.celebrity ? celebrityBadge(true) : null),
        h("span", { class: "user-handle" }, `@${user.handle}`))),
    user.id === state.api.me.id ? null : followButton(user, paintMeta),
    meta);
}

// ---------------------------------------------------------------- the sidebar

export function findCard() {
  const input = h("input", {
    id: "find-handle", type: "search", placeholder: "handle", autocomplete: "off", spellcheck: "false",
    "aria-label": "Handle to find", maxlength: 16,
  });
  const result = h("ul", { id: "find-result", class: "user-list" });
  const form = h("form", { id: "find-form", class: "find-form" },
    h("span", { class: "find-at", "aria-hidden": "true" }, "@"), input,
    h("button", { class: "btn btn-small", type: "submit" }, icon("search"), h("span", {}, "Find")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const handle = input.value.trim().replace(/^@/, "");
    if (!/^[A-Za-z0-9_]{1,15}$/.test(handle)) {
      result.replaceChildren(h("li", { class: "muted" }, "Handles are 1–15 letters, digits or _."));
      return;
    }
    result.replaceChildren(h("li", {}, h("span", { class: "spinner", role: "status", "aria-label": "Looking" })));
    try {
      const user = await state.api.profile(handle);
      learnRelationship(user);
      result.replaceChildren(userRow(user, { counts: true }));
    } catch (err) {
      result.replaceChildren(h("li", { class: "muted" }, err.status === 404 ? `No one is called @${handle}.` : describe(err)));
    }
  });
  return h("section", { class: "card side-card", id: "find-card" },
    h("h2", {}, "Find people"), form, result);
}

export function followingCard() {
  const card = h("section", { class: "card side-card", id: "following-card" },
    h("h2", {}, "Following ", h("span", { class: "count muted" })),
    h("ul", { id: "following-list", class: "user-list" },
      h("li", {}, h("span", { class: "spinner", role: "status", "aria-label": "Loading whom you follow" }))));
  return card;
}

// ---------------------------------------------------------------- an account's followers or followings

/** A paged list of profiles (`load(cursor, limit)`), with a "Load more" button and an empty text. */
export function peopleList(load, empty) {
  const list = h("ul", { class: "user-list people-list" });
  const status = h("div", { class: "feed-status" });
  let cursor = null;
  let count = 0;
  const more = async () => {
    status.replaceChildren(h("span", { class: "spinner", role: "status", "aria-label": "Loading" }));
    try {
      const page = await load(cursor, LIST_PAGE);
      for (const user of page.items) list.append(userRow(user, { counts: true }));
      count += page.items.length;
      cursor = page.next_cursor;
      status.replaceChildren();
      if (cursor) {
        status.append(h("button", { class: "btn btn-small load-more", type: "button", onclick: more }, "Load more"));
      } else if (!count) {
        status.append(h("p", { class: "feed-empty" }, empty));
      }
    } catch (err) {
      status.replaceChildren(h("p", { class: "feed-error" }, describe(err), " ",
        h("button", { class: "btn btn-small", type: "button", onclick: more }, "Try again")));
    }
  };
  more();
  return h("div", { class: "card people-card" }, list, status);
}
