// Notifications: the inbox panel, and live updates from GET /notifications/stream read with
// fetch streaming (the token goes in the Authorization header, never in the URL).
import { authHeaders, BASE, caps, enc, get, missing, post } from "./api.js";
import { $, clear, h, timeTag } from "./dom.js";
import { caseChanged, folderState } from "./folder.js";
import { list, refreshQueueSoon } from "./queue.js";

let controller = null;
let pollTimer = null;
let wired = false;

async function refreshInbox() {
  try {
    const inbox = await get("/notifications?limit=30");
    $("#inbox-count").textContent = String(inbox.unread || 0);
    $("#inbox-button").setAttribute("aria-label", `Notifications, ${inbox.unread || 0} unread`);
    renderInbox(list(inbox));
  } catch (error) {
    if (missing(error)) $("#inbox-button").hidden = true;
  }
}

function renderInbox(items) {
  const panel = $("#inbox-panel");
  const canMark = caps.has("POST", "/notifications/read");
  clear(
    panel,
    h("div", { class: "pane-head" }, h("h2", { text: "Notifications" }), canMark && items.some((n) => !n.read) ? h("button", { type: "button", text: "Mark all read", onclick: () => markRead(items.filter((n) => !n.read).map((n) => n.id)) }) : ""),
    items.length
      ? h(
          "ul",
          { class: "plain inbox-items" },
          items.map((n) =>
            h(
              "li",
              { class: n.read ? "read" : "unread" },
              n.case_id ? h("a", { href: `#/case/${enc(n.case_id)}`, text: n.title }) : h("strong", { text: n.title }),
              n.read ? "" : h("span", { class: "pill", text: "new" }),
              h("p", { class: "muted" }, n.body, " · ", timeTag(n.created_at)),
            ),
          ),
        )
      : h("p", { class: "muted", text: "Nothing new." }),
  );
}

async function markRead(ids) {
  try {
    await post("/notifications/read", { ids });
  } finally {
    refreshInbox();
  }
}

// Server-sent events over fetch: "event:", "data:" and "id:" lines, blank line ends an event.
async function stream() {
  if (!caps.has("GET", "/notifications/stream")) return false;
  const mine = new AbortController();
  controller = mine;
  let lastId = null;
  while (!mine.signal.aborted) {
    try {
      const headers = authHeaders({ Accept: "text/event-stream" });
      if (lastId) headers["Last-Event-ID"] = lastId;
      const response = await fetch(`${BASE}/notifications/stream`, { headers, signal: mine.signal, cache: "no-store" });
      if (response.status === 404 || response.status === 501) return false;
      if (!response.ok || !response.body) throw new Error(`stream ${response.status}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
          const event = { type: "message", data: "" };
          for (const line of block.split(/\r?\n/)) {
            if (line.startsWith(":")) continue;
            const [field, ...rest] = line.split(":");
            const text = rest.join(":").replace(/^ /, "");
            if (field === "event") event.type = text;
            else if (field === "data") event.data += (event.data ? "\n" : "") + text;
            else if (field === "id") lastId = text;
          }
          if (event.data || event.type !== "message") onEvent(event);
        }
      }
    } catch (error) {
      if (mine.signal.aborted) return true;
    }
    await new Promise((r) => setTimeout(r, 3000));
  }
  return true;
}

function onEvent(event) {
  let data = {};
  try {
    data = JSON.parse(event.data || "{}");
  } catch {
    /* keep-alive or plain text */
  }
  if (event.type === "ping" || event.type === "heartbeat") return;
  document.body.dataset.lastEvent = event.type;
  refreshInbox();
  refreshQueueSoon();
  const caseId = data.case_id || (data.data && data.data.case_id);
  if (caseId && caseId === folderState.id) caseChanged();
}

export function initInbox() {
  if (!wired) {
    wired = true;
    $("#inbox-button").addEventListener("click", () => {
      const panel = $("#inbox-panel");
      panel.hidden = !panel.hidden;
      $("#inbox-button").setAttribute("aria-expanded", String(!panel.hidden));
      if (!panel.hidden) refreshInbox();
    });
  }
  refreshInbox();
  stopInbox();
  stream().then((streaming) => {
    if (!streaming) pollTimer = setInterval(() => (refreshInbox(), refreshQueueSoon()), 30000);
  });
}

export function stopInbox() {
  if (controller) controller.abort();
  controller = null;
  clearInterval(pollTimer);
}
