// A list of posts with infinite scroll (the home timeline, or one account's posts); each post is
// a card (post.js).

import { describe, h, icon } from "./dom.js";
import { postCard } from "./post.js";

const PAGE = 20;

export class Feed {
  /**
   * @param ctx      what a post card needs (state.js context())
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
      this.seen.delete(key);
      this.count--;
      if (!this.count && this.done) {
        this.status.replaceChildren(h("p", { class: "feed-empty" }, this.options.empty));
      }
    });
    if (where === "start") {
      this.list.prepend(card);
      this.status.querySelector(".feed-empty")?.remove();
    } else {
      this.list.append(card);
    }
  }
}
