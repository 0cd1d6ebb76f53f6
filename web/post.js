// One post as a card: who reposted it, the author (a star for a celebrity whose posts are merged
// in at read time), whom it answers, the text, up to four images, and its actions: reply, repost,
// like (with their counts), delete your own.
//
// Repost and like change at once (optimistic), then take the API's answer; a failure puts them
// back and says why. Every card of the same post on the page (a post and its repost, the thread's
// parent) shows the same state.

import { composer } from "./composer.js";
import { avatar, confirmDialog, describe, h, icon, postHref, profileHref, timeEl, toast } from "./dom.js";

const COUNT_NAMES = { replies: ["reply", "replies"], reposts: ["repost", "reposts"], likes: ["like", "likes"] };

/** The post's state as the page knows it: the API's `viewer` and `counts`, or what was done here. */
function initialState(tweet, ctx) {
  const mine = ctx.me;
  const liked = ctx.liked.has(tweet.id) ? ctx.liked.get(tweet.id) : tweet.viewer?.liked ?? false;
  const reposted = ctx.reposted.has(tweet.id)
    ? ctx.reposted.get(tweet.id)
    : tweet.viewer?.reposted ?? tweet.repost?.by.id === mine.id;
  const counts = tweet.counts ? { replies: 0, reposts: 0, likes: 0, ...tweet.counts } : null;
  return { liked, reposted, counts };
}

/** Every card of post `id` on the page shows `s` (and remembers it for cards drawn later). */
function broadcast(id, s, ctx) {
  ctx.liked.set(id, s.liked);
  ctx.reposted.set(id, s.reposted);
  for (const card of document.querySelectorAll(`article.post[data-id="${CSS.escape(id)}"]`)) card.paint?.(s);
}

/** The state of another card of the same post, if one is on the page (its counts are newer). */
function current(id) {
  return document.querySelector(`article.post[data-id="${CSS.escape(id)}"]`)?.postState ?? null;
}

/** `n` more replies to post `id` (one just posted here), on every card of it. */
export function addReplies(id, n, ctx) {
  const s = current(id);
  if (s?.counts) broadcast(id, { ...s, counts: { ...s.counts, replies: s.counts.replies + n } }, ctx);
}

/** At least `n` replies to post `id` (as many as are shown): counts lag by a few seconds. */
export function atLeastReplies(id, n, ctx) {
  const s = current(id);
  if (s?.counts && s.counts.replies < n) broadcast(id, { ...s, counts: { ...s.counts, replies: n } }, ctx);
}

function countText(n) {
  return n === null || n === undefined ? "" : n.toLocaleString();
}

function label(kind, n) {
  const [one, many] = COUNT_NAMES[kind];
  return n === null || n === undefined ? "" : `, ${n.toLocaleString()} ${n === 1 ? one : many}`;
}

function mediaGrid(media) {
  const grid = h("div", { class: `media-grid media-${media.length}` });
  for (const item of media) {
    const shown = item.preview || item.original;
    grid.append(h("a", {
      class: "media-item", href: item.original.url, target: "_blank", rel: "noopener noreferrer",
      title: `Open the original (${item.original.width}×${item.original.height})`,
    }, h("img", {
      src: shown.url, width: shown.width, height: shown.height, loading: "lazy", decoding: "async",
      alt: "Image attached to the post", referrerpolicy: "no-referrer",
    })));
  }
  return grid;
}

/** "Replying to @handle · the post": whom a reply answers, linked to the profile and the parent. */
export function replyNote(tweet) {
  const parentId = tweet.reply_to?.id ?? tweet.reply_to_id;
  if (!parentId) return null;
  const who = tweet.reply_to?.author;
  if (tweet.reply_to && !who) {
    return h("div", { class: "post-reply-note" }, icon("reply"), "Replying to a post that is not available");
  }
  return h("div", { class: "post-reply-note" }, icon("reply"), "Replying to ",
    who ? h("a", { class: "reply-to-handle", href: profileHref(who.handle) }, `@${who.handle}`) : "a post",
    h("span", { class: "dot", "aria-hidden": "true" }, "·"),
    h("a", { class: "reply-to-post", href: postHref(parentId) }, "show the post"));
}

/**
 * @param ctx  {api, me, liked: Map, reposted: Map, isCelebrity(handle),
 *              onReply?(tweet): the page's own reply composer instead of one under the card,
 *              onReplied?(reply, parent), onReposted?(answer), onDeleted?(tweetId)}
 * @param onRemoved  this card is to go (deleted, or my repost undone)
 */
export function postCard(tweet, ctx, onRemoved = null, { focus = false } = {}) {
  const me = ctx.me;
  const author = tweet.author;
  const mine = author.id === me.id;
  const myRepost = tweet.repost?.by.id === me.id;
  const celebrity = ctx.isCelebrity(author.handle);
  const seen = current(tweet.id);
  const s = seen ? { ...seen, counts: seen.counts && { ...seen.counts } } : initialState(tweet, ctx);

  const header = h("header", { class: "post-head" },
    h("a", { class: "post-name", href: profileHref(author.handle) }, author.display_name),
    celebrity ? h("span", {
      class: "badge badge-celebrity",
      title: "Celebrity: their posts are merged into your timeline when you read it, not fanned out",
    }, icon("star"), "celebrity") : null,
    h("a", { class: "post-handle", href: profileHref(author.handle) }, `@${author.handle}`),
    h("span", { class: "dot", "aria-hidden": "true" }, "·"),
    h("a", { class: "post-time", href: postHref(tweet.id), title: "Open the post and its replies" },
      timeEl(tweet.created_at)));

  // ------------------------------------------------------------ the buttons
  const act = (kind, iconName, extra = {}) => h("button", {
    class: `act act-${kind}`, type: "button", ...extra,
  }, icon(iconName), h("span", { class: "act-count", "aria-hidden": "true" }));
  const replyButton = act("reply", "reply", ctx.onReply ? {} : { "aria-expanded": "false" });
  const repostButton = act("repost", "repost");
  const likeButton = act("like", "heart");

  const paint = (next) => {
    Object.assign(s, next, { counts: next.counts ? { ...next.counts } : s.counts });
    const c = s.counts;
    replyButton.querySelector(".act-count").textContent = countText(c?.replies);
    replyButton.setAttribute("aria-label", `Reply to @${author.handle}${label("replies", c?.replies)}`);
    replyButton.title = "Reply";
    repostButton.classList.toggle("is-on", s.reposted);
    repostButton.setAttribute("aria-pressed", String(s.reposted));
    repostButton.querySelector(".act-count").textContent = countText(c?.reposts);
    repostButton.setAttribute("aria-label", `${s.reposted ? "Reposted" : "Repost"}${label("reposts", c?.reposts)}`);
    repostButton.title = s.reposted ? "Undo repost" : "Repost to your followers";
    likeButton.classList.toggle("is-on", s.liked);
    likeButton.setAttribute("aria-pressed", String(s.liked));
    likeButton.querySelector(".act-count").textContent = countText(c?.likes);
    likeButton.setAttribute("aria-label", `${s.liked ? "Liked" : "Like"}${label("likes", c?.likes)}`);
    likeButton.title = s.liked ? "Unlike" : "Like";
  };

  /** Flip `flag` at once (its count by one), ask the API, take its answer or put it all back. */
  const toggle = async (button, flag, countName, doIt, undo, after = () => {}) => {
    const before = { liked: s.liked, reposted: s.reposted, counts: s.counts && { ...s.counts } };
    const on = !s[flag];
    const counts = s.counts && { ...s.counts, [countName]: Math.max(0, s.counts[countName] + (on ? 1 : -1)) };
    broadcast(tweet.id, { ...s, [flag]: on, counts }, ctx);
    button.disabled = true;
    try {
      const answer = on ? await doIt(tweet.id) : await undo(tweet.id);
      if (answer?.counts || answer?.viewer) {
        // The answer to one's own action shows it at once: it is the truth to keep.
        broadcast(tweet.id, {
          ...s,
          [flag]: answer.viewer?.[flag] ?? on,
          counts: answer.counts ? { replies: 0, reposts: 0, likes: 0, ...answer.counts } : s.counts,
        }, ctx);
      }
      after(on, answer);
    } catch (err) {
      broadcast(tweet.id, before, ctx);
      toast(describe(err), "error");
    } finally {
      button.disabled = false;
    }
  };

  likeButton.addEventListener("click", () => toggle(likeButton, "liked", "likes",
    (id) => ctx.api.like(id), (id) => ctx.api.unlike(id)));

  repostButton.addEventListener("click", () => toggle(repostButton, "reposted", "reposts",
    (id) => ctx.api.repost(id), (id) => ctx.api.undoRepost(id), (on, answer) => {
      if (on) {
        toast(ctx.api.me?.followers_count > 0 ? "Reposted: your followers see it in a moment." : "Reposted.", "success");
        if (answer?.repost) ctx.onReposted?.(answer);
      } else {
        // My repost's own cards go: the post is no longer reposted by me.
        for (const card of document.querySelectorAll(`article.post[data-id="${CSS.escape(tweet.id)}"][data-reposted-by-me]`)) {
          card.onRemoved?.();
        }
      }
    }));

  let replyBox = null;
  replyButton.addEventListener("click", () => {
    if (ctx.onReply) return ctx.onReply(tweet);
    if (replyBox) {
      replyBox.remove();
      replyBox = null;
      replyButton.setAttribute("aria-expanded", "false");
      return;
    }
    replyBox = composer((reply) => {
      replyBox?.remove();
      replyBox = null;
      replyButton.setAttribute("aria-expanded", "false");
      addReplies(tweet.id, 1, ctx);
      ctx.onReplied?.(reply, tweet);
    }, { replyTo: tweet, autofocus: true });
    replyButton.setAttribute("aria-expanded", "true");
    card.append(replyBox);
  });

  const actions = h("footer", { class: "post-actions" }, replyButton, repostButton, likeButton);
  if (mine && !tweet.repost) {
    const deleteButton = h("button", {
      class: "act act-delete", type: "button", title: "Delete this post", "aria-label": "Delete this post",
    }, icon("trash"), h("span", {}, "Delete"));
    deleteButton.addEventListener("click", async () => {
      const sure = await confirmDialog({
        title: "Delete this post?",
        body: "It goes from your profile, your followers' timelines and search. This cannot be undone.",
        confirm: "Delete",
      });
      if (!sure) return;
      deleteButton.disabled = true;
      try {
        await ctx.api.deletePost(tweet.id);
        toast("Post deleted.", "success");
        for (const other of document.querySelectorAll(`article.post[data-id="${CSS.escape(tweet.id)}"]`)) {
          if (other !== card) other.onRemoved?.();
        }
        card.onRemoved();
        ctx.onDeleted?.(tweet.id);
      } catch (err) {
        deleteButton.disabled = false;
        toast(describe(err), "error");
      }
    });
    actions.append(deleteButton);
  }

  const card = h("article", {
    class: `post${focus ? " post-focus" : ""}`,
    dataset: { id: tweet.id, author: author.handle, ...(myRepost ? { repostedByMe: "" } : {}) },
  },
  tweet.repost ? h("div", { class: "post-repost-line" }, icon("repost"),
    h("a", { href: profileHref(tweet.repost.by.handle) }, myRepost ? "You" : tweet.repost.by.display_name),
    " reposted ", h("span", { class: "muted" }, "· ", timeEl(tweet.repost.created_at))) : null,
  h("div", { class: "post-row" },
    h("a", { class: "post-avatar", href: profileHref(author.handle), tabindex: "-1" }, avatar(author)),
    h("div", { class: "post-main" },
      header,
      replyNote(tweet),
      tweet.text ? h("p", { class: "post-text" }, tweet.text) : null,
      tweet.media?.length ? mediaGrid(tweet.media) : null,
      actions)));
  card.paint = paint;
  card.postState = s;
  card.onRemoved = onRemoved ?? (() => card.remove());
  paint(s);
  return card;
}
