// Boot, sign-in and the hash router: #/work, #/case/<id>, #/search?q=..., #/supervisor, #/reports.
import { caps, current, hasRole, onSignOut, signIn, signOut } from "./api.js";
import { $, $$, announce } from "./dom.js";
import { openCase, showEmptyFolder } from "./folder.js";
import { initInbox, stopInbox } from "./inbox.js";
import { loadQueue } from "./queue.js";
import { lookup, runSearch } from "./search.js";
import { showReports, showSupervisor } from "./supervisor.js";

function showSignIn(message = "") {
  delete document.body.dataset.ready;
  stopInbox();
  $("#app-view").hidden = true;
  $("#signin-view").hidden = false;
  $("#signin-error").textContent = message;
  $("#signin-username").focus();
}

async function showApp() {
  $("#signin-view").hidden = true;
  $("#app-view").hidden = false;
  caps.paths = null;
  await caps.load();
  const me = current();
  $("#who").textContent = `${me.name} (${me.roles.join(", ") || "no role"})`;
  const supervisor = hasRole("supervisor", "admin");
  $('[data-view="supervisor"]').hidden = !supervisor;
  $('[data-view="reports"]').hidden = !(supervisor || hasRole("auditor")) || !caps.has("GET", "/reports/{}");
  initInbox();
  await route();
  document.body.dataset.ready = "true"; // signed in, capabilities known, first view drawn
}

function setView(name) {
  for (const panel of $$("[data-view-panel]")) panel.hidden = panel.dataset.viewPanel !== name;
  for (const link of $$(".tabs a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

let queueShown = false;
let routes = 0; // only the newest navigation may change the folder pane
async function route() {
  if (!current()) return showSignIn();
  if (!caps.paths) return; // showApp routes once the capabilities are known
  const seq = ++routes;
  const hash = location.hash.replace(/^#/, "") || "/work";
  const [path, query = ""] = hash.split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean);
  const view = parts[0] || "work";
  if (view === "case" && parts[1]) {
    setView("work");
    if (!queueShown) (queueShown = true), loadQueue();
    document.body.classList.add("case-open");
    await openCase(decodeURIComponent(parts[1]));
  } else if (view === "search") {
    setView("search");
    $("#search-input").value = params.get("q") || "";
    await runSearch(params);
  } else if (view === "supervisor" && hasRole("supervisor", "admin")) {
    setView("supervisor");
    await showSupervisor();
  } else if (view === "reports") {
    setView("reports");
    await showReports();
  } else {
    setView("work");
    document.body.classList.remove("case-open");
    queueShown = true;
    await loadQueue();
    if (seq === routes) showEmptyFolder();
  }
}

function wire() {
  $("#signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const button = form.querySelector("button");
    button.disabled = true;
    $("#signin-error").textContent = "";
    try {
      await signIn(form.username.value.trim(), form.password.value);
      form.password.value = "";
      await showApp();
    } catch (error) {
      $("#signin-error").textContent =
        error.status === 401 ? "Wrong username or password." : `Could not sign in: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  });
  $("#signout-button").addEventListener("click", () => signOut("You have signed out."));
  onSignOut((reason) => showSignIn(reason));
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = $("#search-input").value.trim();
    location.hash = `#/search?${new URLSearchParams({ q: q || "*" })}`;
  });
  $("#lookup-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = $("#lookup-key").value;
    const value = $("#lookup-value").value.trim();
    if (value) await lookup(key, value);
  });
  $("#lookup-key").addEventListener("change", (event) => {
    const examples = { reference: "CMP-2026-000001", email: "ann@example.org", phone: "+44 20 7946 0000" };
    $("#lookup-value").placeholder = examples[event.target.value];
  });
  window.addEventListener("hashchange", () => route().catch((e) => announce(e.message, "error")));
}

wire();
if (current()) showApp().catch((e) => announce(e.message, "error"));
else showSignIn();
