// A post's page, #/post/<id>: the post it answers (one level up, linked to its own page, so a
// reader can climb the thread), the post, a composer to reply, and its direct replies, oldest
// first, a page at a time ("Load more replies").

import { describe, h, icon, postHref } from "./dom.js";
import { composer } from "./composer.js";
import { addReplies, atLeastReplies, postCard } from "./post.js";
import { context, state } from "./state.js";

const REPLIES_PAGE = 20;

function notice(text, kind = "muted") {
  return h("p", { class: `card notice thread-note ${kind}`, role: "note" }, text);
}

function whyMissing(err, what) {
  if (err.status === 404) return `${what} was deleted, or never existed.`;
  if (err.status === 403) return `${what} is not shown to you: a block stands between you and its author.`;
  return describe(err);
}

export function threadPage(id) {
  const parentBox = h("div", { class: "thread-parent" });
  const focusBox = h("div", { class: "thread-focus", "aria-busy": "true" },
    h("span", { class: "spinner", role: "status", "aria-label": "Loading the post" }));
  const replyBox = h("div", { class: "thread-reply" });
  const repliesBox = h("section", { class: "thread-replies", "aria-label": "Replies", hidden: true });
  const page = h("div", { class: "page page-thread" },
    h("div", { class: "section-head" },
      h("a", { class: "btn btn-ghost btn-small", href: "#/" }, icon("back"), h("span", {}, "Home")),
      h("h1", { class: "thread-title" }, "Post")),
    parentBox, focusBox, replyBox, repliesBox);

  state.api.tweet(id).then((tweet) => {
    if (!page.isConnected) return;
    mount(tweet);
  }, (err) => {
    focusBox.setAttribute("aria-busy", "false");
    focusBox.replaceChildren(notice(whyMissing(err, "This post"), "feed-error"));
  });

  const mount = (tweet) => {
    const replies = new RepliesList(tweet);
    let threadComposer = null;
    const ctx = context({
      onReplied: (reply, parent) => {
        if (parent.id === tweet.id) replies.addOwn(reply);
      },
      onDeleted: (deletedId) => {
        if (deletedId !== tweet.id) return;
        parentBox.replaceChildren();
        replyBox.replaceChildren();
        repliesBox.hidden = true;
        focusBox.replaceChildren(notice("You deleted this post."), h("a", { class: "btn", href: "#/" }, "Back to your timeline"));
      },
    });
    // The page's composer answers the post; a reply's own button opens one under that reply.
    const focusCtx = { ...ctx, onReply: () => threadComposer.focusText() };
    const otherCtx = ctx;
    focusBox.setAttribute("aria-busy", "false");
    focusBox.replaceChildren(postCard(tweet, focusCtx, null, { focus: true }));
    threadComposer = composer((reply) => {
      addReplies(tweet.id, 1, ctx);
      replies.addOwn(reply);
    }, { replyTo: tweet });
    replyBox.replaceChildren(threadComposer);
    replies.ctx = otherCtx;
    repliesBox.hidden = false;
    repliesBox.replaceChildren(h("h2", { class: "list-title" }, "Replies"), replies.el);
    replies.more();

    const parentId = tweet.reply_to?.id ?? tweet.reply_to_id;
    if (parentId) {
      parentBox.replaceChildren(h("span", { class: "spinner", role: "status", "aria-label": "Loading the post it answers" }));
      state.api.tweet(parentId).then((parent) => {
        if (!page.isConnected) return;
        parentBox.replaceChildren(
          postCard(parent, otherCtx, null),
          h("a", { class: "thread-up", href: postHref(parent.id) }, icon("up"),
            h("span", {}, "Open the post this answers, with its replies")));
      }, (err) => {
        parentBox.replaceChildren(notice(whyMissing(err, "The post this answers")));
      });
    }
  };
  return page;
}

/** The direct replies of a post, oldest first, a page at a time. */
class RepliesList {
  constructor(tweet) {
    this.tweet = tweet;
    this.ctx = null;
    this.cursor = null;
    this.done = false;
    this.loading = false;
    this.seen = new Set();
    this.list = h("div", { class: "feed-list replies-list", "aria-live": "polite" });
    this.status = h("div", { class: "feed-status" });
    this.el = h("div", { class: "feed replies", "aria-busy": "false" }, this.list, this.status);
  }

  async more() {
    if (this.loading || this.done) return;
    this.loading = true;
    this.el.setAttribute("aria-busy", "true");
    this.status.replaceChildren(h("span", { class: "spinner", role: "status", "aria-label": "Loading replies" }));
    try {
      const page = await state.api.replies(this.tweet.id, this.cursor, REPLIES_PAGE);
      for (const reply of page.items) this.add(reply);
      this.cursor = page.next_cursor;
      this.done = !page.next_cursor;
      this.paintStatus();
    } catch (err) {
      const unsupported = err.status === 404 && err.code !== "tweet_not_found";
      this.status.replaceChildren(h("p", { class: "feed-error" },
        unsupported ? "This API does not list replies yet." : describe(err), " ",
        unsupported ? null : h("button", { class: "btn btn-small", type: "button", onclick: () => this.more() }, "Try again")));
    } finally {
      this.loading = false;
      this.el.setAttribute("aria-busy", "false");
    }
  }

  paintStatus() {
    this.status.replaceChildren();
    if (!this.done) {
      this.status.append(h("button", {
        id: "replies-more", class: "btn btn-small load-more", type: "button", onclick: () => this.more(),
      }, "Load more replies"));
    } else if (!this.seen.size) {
      this.status.append(h("p", { class: "feed-empty" }, "No replies yet."));
    }
    if (this.ctx) atLeastReplies(this.tweet.id, this.seen.size, this.ctx); // the count may lag what is listed
  }

  add(reply) {
    if (this.seen.has(reply.id)) return;
    this.seen.add(reply.id);
    const card = postCard(reply, this.ctx, () => {
      card.remove();
      this.seen.delete(reply.id);
      if (this.done) this.paintStatus();
    });
    this.list.append(card);
  }

  /** A reply just posted here: at the end once every reply is shown; else its page brings it. */
  addOwn(reply) {
    this.add(reply); // shown now; should a later page hold it, that page skips it (seen)
    if (this.done) this.paintStatus();
  }
}
