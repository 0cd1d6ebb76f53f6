// Signing up and in: two forms on one card, and on the local stack a note with the demo login.

import { LOCAL_DEMO_LOGIN } from "./config.js";
import { describe, h, toast } from "./dom.js";
import { state } from "./state.js";


function field(id, label, attrs) {
  return h("label", { class: "field", for: id }, h("span", { class: "field-label" }, label),
    h("input", { id, name: id, required: true, ...attrs }));
}

/**
 * The demo login to mention, or null: from the page's own <meta name="timeline-demo-login">
 * (a server that knows it seeded the demo), else config.js's when the page comes from this
 * machine (the local stack, `make run`).
 */
export function demoLogin(loc = window.location) {
  const meta = document.querySelector('meta[name="timeline-demo-login"]')?.content?.trim();
  if (meta) {
    const [handle, password] = meta.split(/\s+/);
    if (handle && password) return { handle, password, sure: true };
  }
  const loopback = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/.test(loc.hostname);
  return loopback && LOCAL_DEMO_LOGIN ? { ...LOCAL_DEMO_LOGIN, sure: false } : null;
}

function demoNote(form) {
  const demo = demoLogin();
  if (!demo) return null;
  const fill = h("button", { id: "demo-fill", class: "btn btn-small", type: "button", onclick: () => {
    form.elements["signin-handle"].value = demo.handle;
    form.elements["signin-password"].value = demo.password;
    form.querySelector("button[type=submit]").focus();
  } }, "Use the demo login");
  return h("div", { id: "demo-login", class: "demo-login", role: "note" },
    h("p", {}, demo.sure ? "This stack has demo data: sign in as " : "On the local stack with its demo data (make run), sign in as ",
      h("code", {}, demo.handle), " with the password ", h("code", {}, demo.password), "."),
    fill);
}

export function authView(onSignedIn) {
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
      onSignedIn();
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
      onSignedIn();
    });
  });

  return h("section", { class: "auth" },
    h("div", { class: "auth-hero" },
      h("div", { class: "brand-mark brand-mark-lg", "aria-hidden": "true" }),
      h("h1", {}, "Your home timeline, written ahead of time."),
      h("p", { class: "lead" }, "Follow people, post with pictures, repost what you like. Posts from the accounts you follow are fanned out to you as they are written; celebrities are merged in when you read.")),
    h("div", { class: "card auth-card" }, tabs, signIn, signUp, demoNote(signIn)));
}
