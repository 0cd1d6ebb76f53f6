// A profile: #/u/<handle> (the account's posts), #/u/<handle>/followers and /following (lists).
// The head shows the counts, follow / unfollow, and block and mute (each asked first; unblock
// and unmute are one click). While you block an account its posts are not shown.

import { avatar, confirmDialog, describe, h, icon, profileHref, toast } from "./dom.js";
import { Feed } from "./feed.js";
import { celebrityBadge, followButton, learnRelationship, peopleList, refreshFollowing } from "./people.js";
import { context, state } from "./state.js";

/** The reader's relationship to `user`, from its `viewer` (absent from an older API: all false). */
function relationshipOf(user) {
  const v = user.viewer ?? {};
  return { followed_by: Boolean(v.followed_by), blocking: Boolean(v.blocking), muting: Boolean(v.muting) };
}

function toggleButton(kind, on, labels, onClick) {
  return h("button", {
    class: `btn btn-small profile-${kind}${on ? " is-on" : ""}`, type: "button", "aria-pressed": String(on),
    title: on ? labels.undoTitle : labels.doTitle, onclick: onClick,
  }, icon(kind), h("span", {}, on ? labels.on : labels.off));
}

/**
 * @param tab  "posts", "followers" or "following"
 */
export function profilePage(handle, tab = "posts") {
  const head = h("div", { class: "card profile-card", "aria-busy": "true" },
    h("span", { class: "spinner", role: "status", "aria-label": "Loading the profile" }));
  const body = h("div", { class: "profile-body" });
  const mount = (user) => {
    const me = state.api.me;
    const mine = user.id === me.id;
    const rel = relationshipOf(user);

    const setBusy = (button, busy) => { button.disabled = busy; };
    const moderate = async (button, action, word, done) => {
      setBusy(button, true);
      try {
        const answer = await action(user.handle);
        done(answer);
        toast(`${word} @${user.handle}.`, "success");
        draw();
      } catch (err) {
        toast(describe(err), "error");
        setBusy(button, false);
      }
    };
    const blockButton = () => toggleButton("block", rel.blocking, {
      on: "Blocked", off: "Block", doTitle: `Block @${user.handle}`, undoTitle: `Unblock @${user.handle}`,
    }, async (event) => {
      const button = event.currentTarget;
      if (rel.blocking) {
        return moderate(button, (who) => state.api.unblock(who), "Unblocked", (a) => { rel.blocking = a.blocking; });
      }
      const sure = await confirmDialog({
        title: `Block @${user.handle}?`,
        body: "You stop following each other, neither of you can follow the other, and you no longer see each other's posts. You can unblock them later.",
        confirm: "Block",
      });
      if (!sure) return;
      return moderate(button, (who) => state.api.block(who), "Blocked", (a) => {
        rel.blocking = a.blocking;
        state.following.delete(user.handle.toLowerCase());
        refreshFollowing();
        if (a.user) Object.assign(user, { followers_count: a.user.followers_count, following_count: a.user.following_count });
      });
    });
    const muteButton = () => toggleButton("mute", rel.muting, {
      on: "Muted", off: "Mute", doTitle: `Mute @${user.handle}`, undoTitle: `Unmute @${user.handle}`,
    }, async (event) => {
      const button = event.currentTarget;
      if (rel.muting) {
        return moderate(button, (who) => state.api.unmute(who), "Unmuted", (a) => { rel.muting = a.muting; });
      }
      const sure = await confirmDialog({
        title: `Mute @${user.handle}?`,
        body: "Their posts and reposts leave your home timeline. They are not told, and you still follow them.",
        confirm: "Mute",
      });
      if (!sure) return;
      return moderate(button, (who) => state.api.mute(who), "Muted", (a) => { rel.muting = a.muting; });
    });

    const draw = () => {
      const base = profileHref(user.handle);
      const tabLink = (which, text, count) => h("a", {
        class: `profile-tab${tab === which ? " is-current" : ""}`, href: which === "posts" ? base : `${base}/${which}`,
        "aria-current": tab === which ? "page" : null,
      }, count, text);
      const followers = h("strong", {}, user.followers_count.toLocaleString());
      const followersWord = h("span", {}, user.followers_count === 1 ? " follower" : " followers");
      head.setAttribute("aria-busy", "false");
      head.replaceChildren(
        h("div", { class: "profile-top" }, avatar(user, "lg"),
          h("div", { class: "profile-names" },
            h("h1", {}, user.display_name, user.celebrity ? celebrityBadge() : null),
            h("p", { class: "muted" }, `@${user.handle}`,
              rel.followed_by ? h("span", { class: "badge badge-follows-you" }, "Follows you") : null)),
          mine || rel.blocking ? null
            : followButton(user, (u) => {
              user.followers_count = u.followers_count;
              followers.textContent = u.followers_count.toLocaleString();
              followersWord.textContent = u.followers_count === 1 ? " follower" : " followers";
            })),
        h("nav", { class: "profile-counts", "aria-label": "Profile" },
          tabLink("posts", "Posts", null),
          tabLink("followers", followersWord, followers),
          tabLink("following", " following", h("strong", {}, user.following_count.toLocaleString())),
          h("span", { class: "muted" }, `joined ${new Date(user.created_at).toLocaleDateString()}`)),
        mine ? null : h("div", { class: "profile-actions" }, muteButton(), blockButton()));
      drawBody();
    };

    const drawBody = () => {
      state.feed?.destroy();
      state.feed = null;
      if (rel.blocking) {
        body.replaceChildren(h("div", { class: "card notice profile-blocked", role: "note" },
          h("p", {}, `You block @${user.handle}. Their posts are hidden from you, and neither of you can follow the other.`),
          h("p", { class: "muted" }, "Unblock them above to see their posts again.")));
        return;
      }
      const notes = rel.muting ? h("p", { class: "card notice profile-muted", role: "note" },
        `You mute @${user.handle}: their posts stay out of your home timeline. They are shown here.`) : null;
      if (tab === "followers" || tab === "following") {
        const load = tab === "followers"
          ? (cursor, limit) => state.api.followers(user.handle, cursor, limit)
          : (cursor, limit) => state.api.following(user.handle, cursor, limit);
        const empty = tab === "followers"
          ? `${mine ? "You have" : `@${user.handle} has`} no followers yet.`
          : `${mine ? "You follow" : `@${user.handle} follows`} nobody yet.`;
        body.replaceChildren(notes ?? "", h("h2", { class: "list-title" }, tab === "followers" ? "Followers" : "Following"),
          peopleList(load, empty));
        return;
      }
      state.feed = new Feed(context(), (cursor, limit) => state.api.userTweets(user.handle, cursor, limit), {
        empty: mine ? "You have not posted yet." : `@${user.handle} has not posted yet.`,
      });
      body.replaceChildren(notes ?? "", state.feed.el);
      state.feed.more();
    };
    draw();
  };

  state.api.profile(handle).then((user) => {
    if (!head.isConnected) return; // the reader has moved on
    learnRelationship(user);
    mount(user);
  }, (err) => {
    head.setAttribute("aria-busy", "false");
    head.replaceChildren(h("p", { class: "feed-error" },
      err.status === 404 ? `No one is called @${handle}.` : describe(err)));
  });
  return h("div", { class: "page page-user" },
    h("div", { class: "section-head" },
      h("a", { class: "btn btn-ghost btn-small", href: "#/" }, icon("back"), h("span", {}, "Home"))),
    head, body);
}
