// The composer: text with a live character count (as the API counts: grapheme clusters), up to
// four images uploaded and checked before posting, one Idempotency-Key per draft (so a retry
// cannot post twice). The home page has one; a reply has its own, saying whom it answers.

import { randomKey } from "./api.js";
import { avatar, characterCount, describe, h, icon, profileHref, toast } from "./dom.js";
import { state } from "./state.js";

export const MAX_CHARACTERS = 280;
const MAX_IMAGES = 4;
const IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/** What to say once a post is accepted: true, for this author (whose followers are counted now). */
export async function postedMessage(reply) {
  if (reply) return "Reply posted.";
  let me = state.api.me;
  try {
    me = await state.api.refreshMe();
  } catch {
    /* the count kept with the session */
  }
  return me?.followers_count > 0
    ? "Posted. Your followers see it in a moment."
    : "Posted. It is on your profile and your timeline.";
}

/**
 * @param onPosted  (post) => void, with the API's answer
 * @param replyTo   the post answered (its author is named above the text), or null for a post
 * @param main      the home page's composer (ids for the page's tests and labels), or a reply's
 */
export function composer(onPosted, { replyTo = null, main = !replyTo, autofocus = false } = {}) {
  const me = state.api.me;
  const draft = { key: randomKey(), images: [], posting: false };
  const ids = (name) => (main ? { id: `compose-${name}` } : {});
  const text = h("textarea", {
    ...ids("text"), class: "compose-text", rows: 2,
    placeholder: replyTo ? "Post your reply" : "What's happening?",
    "aria-label": replyTo ? `Reply to @${replyTo.author.handle}` : "Post text",
  });
  const counter = h("span", { class: "counter", "aria-live": "polite" });
  const thumbs = h("div", { class: "thumbs" });
  const files = h("input", {
    ...ids("files"), class: "visually-hidden compose-files", type: "file", multiple: true,
    accept: IMAGE_TYPES.join(","), tabindex: "-1", "aria-label": "Images to attach",
  });
  const addImages = h("button", { class: "btn btn-ghost btn-icon", type: "button", title: "Add up to four images",
    onclick: () => files.click() }, icon("image", "Add images"));
  const label = replyTo ? "Reply" : "Post";
  const submit = h("button", { ...ids("submit"), class: "btn btn-primary compose-submit", type: "submit" }, label);
  const replying = replyTo ? h("p", { class: "composer-replying muted" }, "Replying to ",
    h("a", { href: profileHref(replyTo.author.handle) }, `@${replyTo.author.handle}`)) : null;
  const form = h("form", {
    id: main ? "composer" : null, class: `card composer${replyTo ? " reply-composer" : ""}`,
    dataset: replyTo ? { replyTo: replyTo.id } : {},
  },
  replying,
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
    submit.textContent = draft.posting ? "Posting…" : busy ? "Checking images…" : label;
  };

  const addFile = (file) => {
    const image = { file, url: URL.createObjectURL(file), state: "uploading", media: null };
    const status = h("span", { class: "thumb-state" }, "Uploading…");
    const remove = h("button", { class: "thumb-remove", type: "button", title: "Remove" }, icon("close", "Remove image"));
    image.el = h("div", { class: "thumb is-busy" }, h("img", { src: image.url, alt: file.name }), status, remove);
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
      status.textContent = s === "checking" ? "Checking…" : "Uploading…";
      update();
    }).then((media) => {
      image.state = "ready";
      image.media = media;
      image.el.classList.remove("is-busy");
      image.el.dataset.mediaId = media.media_id;
      status.textContent = "";
      update();
    }, (err) => {
      image.state = "error";
      image.el.classList.remove("is-busy");
      image.el.classList.add("is-error");
      status.textContent = "Not accepted";
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
      const tweet = await state.api.post(text.value, draft.images.map((i) => i.media.media_id), draft.key,
        replyTo?.id ?? null);
      for (const image of draft.images) URL.revokeObjectURL(image.url);
      draft.images = [];
      thumbs.replaceChildren();
      text.value = "";
      draft.key = randomKey();
      onPosted(tweet);
      postedMessage(Boolean(replyTo)).then((message) => toast(message, "success"));
    } catch (err) {
      toast(describe(err), "error", 7000); // the same draft and key: trying again cannot post twice
    } finally {
      draft.posting = false;
      update();
    }
  });
  update();
  form.focusText = () => text.focus();
  if (autofocus) queueMicrotask(() => text.focus());
  return form;
}
