// The page: sign-up / sign-in (auth.js), then a hash router over the views, each beside a
// sidebar to find, follow and unfollow people (people.js):
//
//   #/                          the home timeline with a composer
//   #/post/<id>                 a post, the post it answers, its replies (thread.js)
//   #/u/<handle>                a profile and its posts (profile.js)
//   #/u/<handle>/followers      ... whom it is followed by
//   #/u/<handle>/following      ... whom it follows

import { Api, resolveApiBase } from "./api.js";
import { authView } from "./auth.js";
import { composer } from "./composer.js";
import { avatar, describe, h, icon, profileHref, toast } from "./dom.js";
import { Feed } from "./feed.js";
import { findCard, followingCard, loadFollowing, refreshFollowing } from "./people.js";
import { profilePage } from "./profile.js";
import { context, resetState, state } from "./state.js";
import { threadPage } from "./thread.js";

const view = document.getElementById("view");
const sessionBox = document.getElementById("session");
const apiNote = document.getElementById("api-note");

// ---------------------------------------------------------------- boot and routing

function boot() {
  let base, ignored;
  try {
    ({ base, ignored } = resolveApiBase());
  } catch (err) {
    view.replaceChildren(h("section", { class: "card notice notice-error" }, h("h1", {}, "Cannot start"), describe(err)));
    return;
  }
  state.api = new Api(base);
  state.api.onSignedOut = (reason) => {
    resetState();
    render();
    if (reason) toast(reason, "error", 7000);
  };
  if (ignored) {
    // The link's value is not repeated: it is not this site's to show.
    apiNote.hidden = false;
    apiNote.textContent = "Ignored the link's ?api=: not this site's API";
    apiNote.title = `This page only talks to its own API (${base}); a link naming another server is ignored.`;
  } else if (base !== window.location.origin) {
    apiNote.hidden = false;
    apiNote.textContent = `API: ${base}`;
  }
  window.addEventListener("hashchange", render);
  if (state.api.signedIn) {
    // The profile kept with the session may be old (counts): read it again, quietly.
    state.api.refreshMe().then(renderSession, () => {});
  }
  render();
}

export function route(hash = window.location.hash) {
  let m = /^#\/post\/([0-9]+)$/.exec(hash);
  if (m) return { page: "post", id: m[1] };
  m = /^#\/u\/([^/]+)(?:\/(followers|following))?$/.exec(hash);
  if (m) return { page: "user", handle: decodeURIComponent(m[1]), tab: m[2] || "posts" };
  return { page: "home" };
}

function render() {
  state.feed?.destroy();
  state.feed = null;
  document.body.dataset.signedIn = String(state.api.signedIn);
  if (!state.api.signedIn) {
    sessionBox.replaceChildren();
    view.replaceChildren(authView(() => {
      window.location.hash = "#/";
      render();
    }));
    return;
  }
  renderSession();
  if (!state.followingLoaded) state.followingLoaded = loadFollowing();
  const where = route();
  const main = where.page === "user" ? profilePage(where.handle, where.tab)
    : where.page === "post" ? threadPage(where.id)
      : homePage();
  view.replaceChildren(h("div", { class: "layout" },
    h("div", { class: "col-main" }, main),
    h("aside", { class: "col-side" }, findCard(), followingCard())));
  refreshFollowing(); // the new sidebar shows what is known (a spinner only while the first load runs)
  window.scrollTo(0, 0);
}

function renderSession() {
  const me = state.api.me;
  if (!me) return;
  sessionBox.replaceChildren(
    h("a", { class: "session-me", href: profileHref(me.handle), title: "Your profile" }, avatar(me, "sm"),
      h("span", {}, `@${me.handle}`)),
    h("button", {
      id: "signout", class: "btn btn-ghost btn-small", type: "button", title: "Sign out everywhere",
      onclick: async () => {
        await state.api.signOut();
        toast("Signed out.");
      },
    }, icon("logout"), h("span", {}, "Sign out")));
}

// ---------------------------------------------------------------- home: composer and timeline

function homePage() {
  const feedBox = h("div");
  const reload = () => {
    state.feed?.destroy();
    state.feed = new Feed(context({
      // My repost shows at the top of my timeline at once, as the API's answer describes it.
      onReposted: (answer) => state.feed?.add(answer, "start"),
      // So does my reply (my own posts are in my timeline as they are written).
      onReplied: (reply) => state.feed?.add(reply, "start"),
    }), (cursor, limit) => state.api.timeline(cursor, limit), {
      home: true,
      empty: "Your timeline is empty. Find someone to follow: their recent posts arrive here within seconds.",
    });
    state.feed.el.addEventListener("reload", reload);
    feedBox.replaceChildren(state.feed.el);
    state.feed.more();
  };
  // Celebrity badges need the followed accounts; the first page waits for them (briefly).
  Promise.race([state.followingLoaded, new Promise((r) => setTimeout(r, 1500))]).finally(() => {
    if (feedBox.isConnected) reload(); // not if the reader has moved on meanwhile
  });
  return h("div", { class: "page page-home" },
    composer((tweet) => state.feed?.add(tweet, "start")),
    h("div", { class: "section-head" },
      h("h1", {}, "Home"),
      h("button", { id: "refresh", class: "btn btn-ghost btn-small", type: "button", title: "Load the newest posts",
        onclick: reload }, icon("refresh"), h("span", {}, "Refresh"))),
    feedBox);
}

boot();
