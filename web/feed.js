// A list of posts with infinite scroll (the home timeline, or one account's posts), and the
// post card: who reposted it, the author (a star for a celebrity whose posts are merged in at
// read time), the text, up to four images, and repost / delete.

import { describe, h, icon, profileHref, timeEl, toast, avatar } from "./dom.js";

const PAGE = 20;

export class Feed {
  /**
   * @param ctx      {api, me, isCelebrity(handle), reposted: Set}
   * @param load     (cursor, limit) => Promise<{items, next_cursor, partial?}>
   * @param options  {empty: text when there is nothing at all, home: whether `partial` is explained}
   */
  constructor(ctx, load, { empty = "Nothing here yet.", home = false } = {}) {
    this.ctx = ctx;
    this.load = load;
    this.options = { empty, home };
    this.cursor = null;
    this.done = false;
    this.loading = false;
    this.count = 0;
    this.seen = new Set();
    this.banner = h("div", { class: "feed-banner", hidden: true });
    this.list = h("div", { class: "feed-list", "aria-live": "polite" });
    this.status = h("div", { class: "feed-status" });
    this.sentinel = h("div", { class: "feed-sentinel", "aria-hidden": "true" });
    this.el = h("div", { class: "feed", "aria-busy": "false" }, this.banner, this.list, this.status, this.sentinel);
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.more();
    }, { rootMargin: "0px 0px 900px 0px" });
    this.observer.observe(this.sentinel);
  }

  destroy() {
    this.observer.disconnect();
  }

  async more() {
    if (this.loading || this.done) return;
    this.loading = true;
    this.el.setAttribute("aria-busy", "true");
    this.status.replaceChildren(h("span", { class: "spinner", role: "status", "aria-label": "Loading" }));
    try {
      const page = await this.load(this.cursor, PAGE);
      const first = this.cursor === null;
      if (page.partial && this.options.home) this.markPartial(first, page);
      for (const item of page.items) this.add(item, "end");
      this.cursor = page.next_cursor;
      this.done = !page.next_cursor;
      this.status.replaceChildren();
      if (this.done) {
        this.status.append(this.count
          ? h("p", { class: "feed-end" }, "You're all caught up.")
          : h("p", { class: "feed-empty" }, this.options.empty));
      }
    } catch (err) {
      this.status.replaceChildren(h("p", { class: "feed-error" }, describe(err), " ",
        h("button", { class: "btn btn-small", type: "button", onclick: () => this.more() }, "Try again")));
      this.loading = false;
      this.el.setAttribute("aria-busy", "false");
      return;
    }
    this.loading = false;
    this.el.setAttribute("aria-busy", "false");
    if (!this.done) {
      // Still in view (a short page)? Observing again reports where the sentinel is now.
      this.observer.unobserve(this.sentinel);
      this.observer.observe(this.sentinel);
    }
  }

  /** `partial: true`: the page is not the whole story yet; say so where it happened. */
  markPartial(first, page) {
    const rebuilding = !page.next_cursor;
    const text = rebuilding
      ? "Your timeline is being rebuilt after a while away: you see your own posts and the celebrities you follow first. Check again in a moment."
      : "Some posts were skipped on this page (hidden or not arrived yet); more follow as you scroll.";
    if (first) {
      this.banner.hidden = false;
      this.banner.replaceChildren(icon("alert"), h("div", {},
        h("strong", {}, "Partial timeline. "), text, " ",
        h("button", { class: "btn btn-small", type: "button", onclick: () => this.el.dispatchEvent(new CustomEvent("reload")) },
          "Check again")));
      this.el.classList.add("is-partial");
    } else {
      this.list.append(h("div", { class: "partial-mark", role: "note" }, icon("alert"), "Partial page: ", text));
    }
  }

  /** A post in the list, once (the same entry twice, e.g. a repost seen on two pages, is shown once). */
  add(tweet, where = "end") {
    const key = tweet.repost ? `r${tweet.repost.id}` : `p${tweet.id}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.count++;
    const card = postCard(tweet, this.ctx, () => {
      card.remove();
      this.count--;
    });
    if (where === "start") {
      this.list.prepend(card);
      this.status.querySelector(".feed-empty")?.remove();
    } else {
      this.list.append(card);
    }
  }
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

export function postCard(tweet, ctx, onRemoved) {
  const me = ctx.me;
  const author = tweet.author;
  const mine = author.id === me.id;
  const repostedByMe = tweet.repost?.by.id === me.id || ctx.reposted.has(tweet.id);
  const celebrity = ctx.isCelebrity(author.handle);

  const header = h("header", { class: "post-head" },
    h("a", { class: "post-name", href: profileHref(author.handle) }, author.display_name),
    celebrity ? h("span", {
      class: "badge badge-celebrity",
      title: "Celebrity: their posts are merged into your timeline when you read it, not fanned out",
    }, icon("star"), "celebrity") : null,
    h("a", { class: "post-handle", href: profileHref(author.handle) }, `@${author.handle}`),
    h("span", { class: "dot", "aria-hidden": "true" }, "·"),
    timeEl(tweet.created_at));

  const repostButton = h("button", {
    class: `act act-repost${repostedByMe ? " is-on" : ""}`, type: "button",
    "aria-pressed": String(repostedByMe), title: repostedByMe ? "Undo repost" : "Repost to your followers",
  }, icon("repost"), h("span", {}, repostedByMe ? "Reposted" : "Repost"));
  repostButton.addEventListener("click", async () => {
    const on = repostButton.getAttribute("aria-pressed") === "true";
    repostButton.disabled = true;
    try {
      if (on) {
        await ctx.api.undoRepost(tweet.id);
        ctx.reposted.delete(tweet.id);
        if (tweet.repost?.by.id === me.id) return onRemoved(); // the card was my repost
      } else {
        await ctx.api.repost(tweet.id);
        ctx.reposted.add(tweet.id);
        toast("Reposted to your followers.", "success");
      }
      repostButton.classList.toggle("is-on", !on);
      repostButton.setAttribute("aria-pressed", String(!on));
      repostButton.title = on ? "Repost to your followers" : "Undo repost";
      repostButton.querySelector("span").textContent = on ? "Repost" : "Reposted";
    } catch (err) {
      toast(describe(err), "error");
    } finally {
      repostButton.disabled = false;
    }
  });

  const actions = h("footer", { class: "post-actions" }, repostButton);
  if (mine && !tweet.repost) {
    actions.append(h("button", {
      class: "act act-delete", type: "button", title: "Delete this post",
      onclick: async (event) => {
        if (!window.confirm("Delete this post? Your followers stop seeing it too.")) return;
        event.currentTarget.disabled = true;
        try {
          await ctx.api.deletePost(tweet.id);
          toast("Post deleted.", "success");
          onRemoved();
        } catch (err) {
          event.currentTarget.disabled = false;
          toast(describe(err), "error");
        }
      },
    }, icon("trash"), h("span", {}, "Delete")));
  }

  return h("article", { class: "post", dataset: { id: tweet.id, author: author.handle } },
    tweet.repost ? h("div", { class: "post-repost-line" }, icon("repost"),
      h("a", { href: profileHref(tweet.repost.by.handle) },
        tweet.repost.by.id === me.id ? "You" : tweet.repost.by.display_name),
      " reposted ", h("span", { class: "muted" }, "· ", timeEl(tweet.repost.created_at))) : null,
    h("div", { class: "post-row" },
      h("a", { class: "post-avatar", href: profileHref(author.handle), tabindex: "-1" }, avatar(author)),
      h("div", { class: "post-main" },
        header,
        tweet.reply_to_id ? h("div", { class: "post-reply-note" }, icon("reply"), "Replying to a post") : null,
        tweet.text ? h("p", { class: "post-text" }, tweet.text) : null,
        tweet.media?.length ? mediaGrid(tweet.media) : null,
        actions)));
}
