// The page: sign-up / sign-in, then the home timeline with a composer and a sidebar to find,
// follow and unfollow people; #/u/<handle> shows one account's posts.

import { Api, randomKey, resolveApiBase } from "./api.js";
import { avatar, characterCount, describe, h, icon, plural, profileHref, toast } from "./dom.js";
import { Feed } from "./feed.js";

const MAX_CHARACTERS = 280;
const MAX_IMAGES = 4;
const IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];
const FOLLOWING_PAGES = 5; // the sidebar lists up to 500 followed accounts

const view = document.getElementById("view");
const sessionBox = document.getElementById("session");
const apiNote = document.getElementById("api-note");

const state = {
  api: null,
  following: new Map(), // handle (lower case) -> profile, for follow buttons and celebrity badges
  followingComplete: false,
  followingLoaded: null, // the promise of the first load
  reposted: new Set(), // posts reposted from this page
  feed: null, // the feed on screen
};

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
    state.following.clear();
    state.followingLoaded = null;
    state.reposted.clear();
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
  render();
}

function route() {
  const m = /^#\/u\/([^/]+)$/.exec(window.location.hash);
  return m ? { page: "user", handle: decodeURIComponent(m[1]) } : { page: "home" };
}

function render() {
  state.feed?.destroy();
  state.feed = null;
  document.body.dataset.signedIn = String(state.api.signedIn);
  if (!state.api.signedIn) {
    sessionBox.replaceChildren();
    view.replaceChildren(authView());
    return;
  }
  renderSession();
  if (!state.followingLoaded) state.followingLoaded = loadFollowing();
  const where = route();
  const main = where.page === "user" ? userPage(where.handle) : homePage();
  view.replaceChildren(h("div", { class: "layout" },
    h("div", { class: "col-main" }, main),
    h("aside", { class: "col-side" }, findCard(), followingCard())));
  window.scrollTo(0, 0);
}

function renderSession() {
  const me = state.api.me;
  sessionBox.replaceChildren(
    h("a", { class: "session-me", href: profileHref(me.handle), title: "Your posts" }, avatar(me, "sm"),
      h("span", {}, `@${me.handle}`)),
    h("button", {
      id: "signout", class: "btn btn-ghost btn-small", type: "button", title: "Sign out everywhere",
      onclick: async () => {
        await state.api.signOut();
        toast("Signed out.");
      },
    }, icon("logout"), h("span", {}, "Sign out")));
}

function context() {
  return {
    api: state.api,
    me: state.api.me,
    reposted: state.reposted,
    isCelebrity: (handle) => Boolean(state.following.get(handle.toLowerCase())?.celebrity),
  };
}

// ---------------------------------------------------------------- sign up, sign in

function field(id, label, attrs) {
  return h("label", { class: "field", for: id }, h("span", { class: "field-label" }, label),
    h("input", { id, name: id, required: true, ...attrs }));
}

function authView() {
  const signIn = h("form", { id: "signin-form", class: "auth-form", novalidate: false },
    field("signin-handle", "Handle", { autocomplete: "username", maxlength: 15, placeholder: "alice", autofocus: true }),
    field("signin-password", "Password", { type: "password", autocomplete: "current-password" }),
    h("p", { class: "form-error", role: "alert" }),
    h("button", { class: "btn btn-primary btn-block", type: "submit" }, "Sign in"));
  const signUp = h("form", { id: "signup-form", class: "auth-form", hidden: true },
    field("signup-name", "Display name", { autocomplete: "name", maxlength: 50, placeholder: "Alice Liddell" }),
    field("signup-handle", "Handle", {
      autocomplete: "username", maxlength: 15, pattern: "[A-Za-z0-9_]{1,15}", placeholder: "alice",
      title: "1-15 letters, digits or _",
    }),
    field("signup-password", "Password", { type: "password", autocomplete: "new-password", minlength: 8 }),
    h("p", { class: "field-hint" }, "At least 8 characters. Handles are 1–15 letters, digits or _."),
    h("p", { class: "form-error", role: "alert" }),
    h("button", { class: "btn btn-primary btn-block", type: "submit" }, "Create account"));

  const tabs = h("div", { class: "tabs", role: "tablist" });
  const show = (which) => {
    signIn.hidden = which !== "signin";
    signUp.hidden = which !== "signup";
    for (const tab of tabs.children) tab.setAttribute("aria-selected", String(tab.dataset.tab === which));
    (which === "signin" ? signIn : signUp).querySelector("input").focus();
  };
  tabs.append(
    h("button", { id: "tab-signin", type: "button", role: "tab", "aria-selected": "true", dataset: { tab: "signin" },
      onclick: () => show("signin") }, "Sign in"),
    h("button", { id: "tab-signup", type: "button", role: "tab", "aria-selected": "false", dataset: { tab: "signup" },
      onclick: () => show("signup") }, "Create account"));

  const busy = async (form, work) => {
    const button = form.querySelector("button[type=submit]");
    const error = form.querySelector(".form-error");
    error.textContent = "";
    button.disabled = true;
    try {
      await work();
    } catch (err) {
      error.textContent = describe(err);
    } finally {
      button.disabled = false;
    }
  };
  signIn.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(signIn, async () => {
      await state.api.signIn(signIn.elements["signin-handle"].value.trim(), signIn.elements["signin-password"].value);
      window.location.hash = "#/";
      render();
    });
  });
  signUp.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(signUp, async () => {
      const handle = signUp.elements["signup-handle"].value.trim();
      const password = signUp.elements["signup-password"].value;
      await state.api.signUp(handle, signUp.elements["signup-name"].value.trim(), password);
      await state.api.signIn(handle, password);
      toast(`Welcome, @${state.api.me.handle}! Find people to follow on the right.`, "success");
      window.location.hash = "#/";
      render();
    });
  });

  return h("section", { class: "auth" },
    h("div", { class: "auth-hero" },
      h("div", { class: "brand-mark brand-mark-lg", "aria-hidden": "true" }),
      h("h1", {}, "Your home timeline, written ahead of time."),
      h("p", { class: "lead" }, "Follow people, post with pictures, repost what you like. Posts from the accounts you follow are fanned out to you as they are written; celebrities are merged in when you read.")),
    h("div", { class: "card auth-card" }, tabs, signIn, signUp));
}

// ---------------------------------------------------------------- home: composer and timeline

function homePage() {
  const feedBox = h("div");
  const reload = () => {
    state.feed?.destroy();
    state.feed = new Feed(context(), (cursor, limit) => state.api.timeline(cursor, limit), {
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

function composer(onPosted) {
  const me = state.api.me;
  const draft = { key: randomKey(), images: [], posting: false };
  const text = h("textarea", {
    id: "compose-text", rows: 2, placeholder: "What's happening?", "aria-label": "Post text",
  });
  const counter = h("span", { class: "counter", "aria-live": "polite" });
  const thumbs = h("div", { class: "thumbs" });
  const files = h("input", {
    id: "compose-files", class: "visually-hidden", type: "file", multiple: true, accept: IMAGE_TYPES.join(","),
    tabindex: "-1",
  });
  const addImages = h("button", { class: "btn btn-ghost btn-icon", type: "button", title: "Add up to four images",
    onclick: () => files.click() }, icon("image", "Add images"));
  const submit = h("button", { id: "compose-submit", class: "btn btn-primary", type: "submit" }, "Post");
  const form = h("form", { id: "composer", class: "card composer" },
    h("div", { class: "composer-row" }, avatar(me), h("div", { class: "composer-main" }, text, thumbs)),
    h("div", { class: "composer-bar" }, addImages, files, h("span", { class: "grow" }), counter, submit));

  const changed = () => {
    draft.key = randomKey(); // a different post: a different Idempotency-Key
    update();
  };
  const update = () => {
    const n = characterCount(text.value);
    counter.textContent = `${n} / ${MAX_CHARACTERS}`;
    counter.className = `counter${n > MAX_CHARACTERS ? " over" : n > MAX_CHARACTERS - 20 ? " near" : ""}`;
    const ready = draft.images.every((i) => i.state === "ready");
    const busy = draft.images.some((i) => i.state === "uploading" || i.state === "checking");
    const something = text.value.trim() !== "" || draft.images.length > 0;
    submit.disabled = draft.posting || !something || !ready || n > MAX_CHARACTERS;
    addImages.disabled = draft.posting || draft.images.length >= MAX_IMAGES;
    submit.textContent = draft.posting ? "Posting…" : busy ? "Checking images…" : "Post";
  };

  const addFile = (file) => {
    const image = { file, url: URL.createObjectURL(file), state: "uploading", media: null };
    const label = h("span", { class: "thumb-state" }, "Uploading…");
    const remove = h("button", { class: "thumb-remove", type: "button", title: "Remove" }, icon("close", "Remove image"));
    image.el = h("div", { class: "thumb is-busy" }, h("img", { src: image.url, alt: file.name }), label, remove);
    remove.addEventListener("click", () => {
      draft.images = draft.images.filter((i) => i !== image);
      URL.revokeObjectURL(image.url);
      image.el.remove();
      changed();
    });
    draft.images.push(image);
    thumbs.append(image.el);
    state.api.uploadImage(file, (s) => {
      image.state = s;
      label.textContent = s === "checking" ? "Checking…" : "Uploading…";
      update();
    }).then((media) => {
      image.state = "ready";
      image.media = media;
      image.el.classList.remove("is-busy");
      image.el.dataset.mediaId = media.media_id;
      label.textContent = "";
      update();
    }, (err) => {
      image.state = "error";
      image.el.classList.remove("is-busy");
      image.el.classList.add("is-error");
      label.textContent = "Not accepted";
      image.el.title = describe(err);
      toast(`${file.name}: ${describe(err)}`, "error", 7000);
      update();
    });
  };

  files.addEventListener("change", () => {
    for (const file of Array.from(files.files)) {
      if (draft.images.length >= MAX_IMAGES) {
        toast("A post takes up to four images.", "error");
        break;
      }
      if (!IMAGE_TYPES.includes(file.type)) {
        toast(`${file.name}: only JPEG, PNG, GIF or WebP images.`, "error");
        continue;
      }
      addFile(file);
    }
    files.value = "";
    changed();
  });
  text.addEventListener("input", changed);
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !submit.disabled) form.requestSubmit();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    draft.posting = true;
    update();
    try {
      const tweet = await state.api.post(text.value, draft.images.map((i) => i.media.media_id), draft.key);
      for (const image of draft.images) URL.revokeObjectURL(image.url);
      draft.images = [];
      thumbs.replaceChildren();
      text.value = "";
      draft.key = randomKey();
      onPosted(tweet);
      toast("Posted. Your followers see it in a moment.", "success");
    } catch (err) {
      toast(describe(err), "error", 7000); // the same draft and key: trying again cannot post twice
    } finally {
      draft.posting = false;
      update();
    }
  });
  update();
  return form;
}

// ---------------------------------------------------------------- one account's posts

function userPage(handle) {
  const head = h("div", { class: "card profile-card" }, h("span", { class: "spinner" }));
  const feedBox = h("div");
  state.api.profile(handle).then((user) => {
    if (!head.isConnected) return; // the reader has moved on
    const mine = user.id === state.api.me.id;
    const followers = h("strong", {}, user.followers_count.toLocaleString());
    head.replaceChildren(
      h("div", { class: "profile-top" }, avatar(user, "lg"),
        h("div", { class: "profile-names" },
          h("h1", {}, user.display_name, user.celebrity ? celebrityBadge() : null),
          h("p", { class: "muted" }, `@${user.handle}`)),
        mine ? null : followButton(user, (u) => { followers.textContent = u.followers_count.toLocaleString(); })),
      h("p", { class: "profile-counts" },
        h("span", {}, followers, " followers"),
        h("span", {}, h("strong", {}, user.following_count.toLocaleString()), " following"),
        h("span", { class: "muted" }, `joined ${new Date(user.created_at).toLocaleDateString()}`)));
    state.feed = new Feed(context(), (cursor, limit) => state.api.userTweets(user.handle, cursor, limit), {
      empty: mine ? "You have not posted yet." : `@${user.handle} has not posted yet.`,
    });
    feedBox.replaceChildren(state.feed.el);
    state.feed.more();
  }, (err) => {
    head.replaceChildren(h("p", { class: "feed-error" }, describe(err)));
  });
  return h("div", { class: "page page-user" },
    h("div", { class: "section-head" },
      h("a", { class: "btn btn-ghost btn-small", href: "#/" }, icon("back"), h("span", {}, "Home"))),
    head, feedBox);
}

function celebrityBadge(compact = false) {
  return h("span", {
    class: `badge badge-celebrity${compact ? " badge-compact" : ""}`,
    title: "Celebrity: their posts are merged into timelines at read time",
  }, icon("star", compact ? "celebrity" : null), compact ? null : "celebrity");
}

// ---------------------------------------------------------------- follow and unfollow

async function loadFollowing() {
  const me = state.api.me;
  let cursor = null;
  try {
    for (let n = 0; n < FOLLOWING_PAGES; n++) {
      const page = await state.api.following(me.handle, cursor);
      for (const user of page.items) state.following.set(user.handle.toLowerCase(), user);
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    state.followingComplete = !cursor;
  } catch (err) {
    if (state.api.signedIn) toast(`Could not load whom you follow: ${describe(err)}`, "error");
  }
  refreshFollowing();
}

function isFollowing(handle) {
  return state.following.has(handle.toLowerCase());
}

function followButton(user, onChange = () => {}) {
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

function userRow(user, { counts = false } = {}) {
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

function findCard() {
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
    result.replaceChildren(h("li", {}, h("span", { class: "spinner" })));
    try {
      const user = await state.api.profile(handle);
      result.replaceChildren(userRow(user, { counts: true }));
    } catch (err) {
      result.replaceChildren(h("li", { class: "muted" }, err.status === 404 ? `No one is called @${handle}.` : describe(err)));
    }
  });
  return h("section", { class: "card side-card", id: "find-card" },
    h("h2", {}, "Find people"), form, result);
}

function followingCard() {
  return h("section", { class: "card side-card", id: "following-card" },
    h("h2", {}, "Following ", h("span", { class: "count muted" })),
    h("ul", { id: "following-list", class: "user-list" }, h("li", {}, h("span", { class: "spinner" }))));
}

/** Redraw what depends on whom the reader follows: the list, and every follow button. */
function refreshFollowing() {
  const list = document.getElementById("following-list");
  if (list) {
    const users = [...state.following.values()].sort((a, b) => a.handle.localeCompare(b.handle));
    list.replaceChildren(...users.map(userRow));
    if (!users.length) list.append(h("li", { class: "muted" }, "Nobody yet. Find someone above."));
    document.querySelector("#following-card .count").textContent =
      users.length ? `${users.length}${state.followingComplete ? "" : "+"}` : "";
  }
  for (const button of document.querySelectorAll(".follow-button")) button.paint?.();
}

boot();
