// The case folder: header, SLA clocks, assignment, stage actions, checklist and tasks, notes,
// messages, documents, parties, links, timeline and audit. Every change sends If-Match.
import { current, enc, get, hasRole, missing, post, request } from "./api.js";
import { assignmentPanel } from "./assign.js";
import { documentsPanel } from "./documents.js";
import { $, announce, clear, field, h, select, timeLeft, timeTag, when } from "./dom.js";
import { messagesPanel } from "./messages.js";
import { notes } from "./notes.js";
import { partiesPanel } from "./parties.js";
import { slaPanel } from "./routing.js";
import { busy, change, folderState, nameOf, references, reload, setReloader, stageName } from "./state.js";
import { checklist } from "./tasks.js";

export { folderState };
const types = new Map();

async function caseType(key, version) {
  const cacheKey = `${key}@${version}`;
  if (!types.has(cacheKey)) {
    types.set(
      cacheKey,
      get(`/case-types/${enc(key)}?version=${version}`).catch(() => ({ definition: {} })),
    );
  }
  return types.get(cacheKey);
}

// Loads are numbered: only the newest one may draw, so a slow answer never overwrites a newer
// folder (or another case opened meanwhile). Parts a slow service could not give in time are
// asked for once more, shortly; the pane stays busy until then, and a newer load cancels it.
let loads = 0;
let retry = null;
function cancelRetry() {
  if (retry) {
    clearTimeout(retry.timer);
    retry.done();
    retry = null;
  }
}
function retrySoon(id) {
  busy(
    new Promise((done) => {
      const timer = setTimeout(() => {
        retry = null;
        openCase(id, { keepFocus: true, again: true }).finally(done);
      }, 1500);
      retry = { timer, done };
    }),
  );
}

export function showEmptyFolder() {
  loads += 1;
  cancelRetry();
  folderState.id = null;
  clear(
    $("#folder-pane"),
    h("div", { class: "empty" }, h("h2", { text: "No case open" }), h("p", { class: "muted", text: "Pick a case from your work, get the next one, or search." })),
  );
}

export function openCase(id, { keepFocus = false, again = false } = {}) {
  const pane = $("#folder-pane");
  const seq = ++loads;
  cancelRetry();
  if (folderState.id !== id) clear(pane, h("p", { class: "muted", text: "Loading the case folder…" }));
  return busy(
    (async () => {
      try {
        const { data, etag } = await request(`/cases/${enc(id)}`);
        const type = (await caseType(data.type, data.type_version)).definition || {};
        if (seq !== loads) return; // a newer load (or another case) took over
        folderState.id = id;
        folderState.folder = data;
        folderState.etag = etag || String(data.version);
        folderState.type = type;
        references.set(data.id, data.reference);
        render(keepFocus);
        if ((data.missing || []).length && !again) retrySoon(id);
      } catch (error) {
        if (seq !== loads) return;
        if (keepFocus && folderState.id === id && error.status !== 404) {
          announce(`Could not refresh the case: ${error.message}`, "error");
          return;
        }
        folderState.id = null;
        clear(
          pane,
          h("div", { class: "empty" }, h("h2", { text: "Case not available" }), h("p", { class: "error", text: error.status === 404 ? "This case does not exist or you may not see it." : error.message })),
        );
      }
    })(),
  );
}

setReloader(() => (folderState.id ? openCase(folderState.id, { keepFocus: true }) : Promise.resolve()));
export { reload };

// Something changed the open case (live event): offer to reload rather than redraw under the
// user's hands (a half-typed note survives).
export function caseChanged() {
  const pane = $("#folder-pane");
  if (!folderState.id || pane.querySelector(".changed-banner")) return;
  pane.prepend(
    h("div", { class: "warning changed-banner", role: "status" }, "This case has changed. ", h("button", { type: "button", text: "Show the changes", onclick: () => reload() })),
  );
}

function header(c) {
  const work = c.work_item;
  const facts = [
    ["Type", c.type],
    ["Stage", stageName(c.stage)],
    ["Priority", c.priority],
    ["Status", c.resolution ? `${c.status} (${c.resolution})` : c.status],
    ["Queue", work ? work.queue : "—"],
    ["Assignee", work ? (work.assigned_to ? nameOf(work.assigned_to) : "unassigned") : "—"],
    ["Due", c.due_at ? `${when(c.due_at)} · ${timeLeft(c.due_at)}` : "—"],
    ["Opened", when(c.created_at)],
  ];
  return h(
    "header",
    { class: "folder-head" },
    h("p", { class: "ref", text: c.reference }),
    h("h2", { id: "folder-title", tabindex: "-1", text: c.title }),
    h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", { text: k }), h("dd", { id: k === "Assignee" ? "assignee-fact" : null, text: v })])),
    c.missing && c.missing.length ? h("p", { class: "warning", text: `Not available right now: ${c.missing.join(", ")}` }) : "",
    c.description ? h("p", { class: "description", text: c.description }) : "",
  );
}

function stageActions(c) {
  const def = folderState.type;
  const mine = (current() || {}).roles || [];
  const section = h("section", { class: "panel", "aria-labelledby": "stage-title" }, h("h3", { id: "stage-title", text: "Stage" }));
  if (c.status === "closed") {
    const reason = h("input", { name: "reason" });
    section.append(
      h("p", { text: `Closed ${when(c.closed_at)}.` }),
      h(
        "form",
        {
          class: "inline-form",
          onsubmit: (e) => {
            e.preventDefault();
            change((v) => post(`/cases/${enc(c.id)}/reopen`, { reason: reason.value }, { ifMatch: v }), "Case reopened.").catch(() => {});
          },
        },
        field("Reason to reopen", reason),
        h("button", { type: "submit", text: "Reopen" }),
      ),
    );
    return section;
  }
  const allowed = (def.transitions || []).filter((t) => t.from === c.stage && (t.roles || []).some((r) => mine.includes(r)));
  const buttons = allowed.map((t) =>
    h("button", {
      type: "button",
      class: "primary",
      text: `Move to ${stageName(t.to)}`,
      onclick: () => change((v) => post(`/cases/${enc(c.id)}/transitions`, { to: t.to }, { ifMatch: v }), `Moved to ${stageName(t.to)}.`).catch(() => {}),
    }),
  );
  section.append(h("div", { class: "actions" }, buttons.length ? buttons : h("p", { class: "muted", text: "No stage move is open to you here." })));
  if (hasRole("supervisor", "admin")) {
    const others = (def.stages || []).filter((s) => s.key !== c.stage).map((s) => [s.key, s.name || s.key]);
    const to = select("to", others, others[0] && others[0][0]);
    const reason = h("textarea", { name: "reason", rows: 2 });
    section.append(
      h(
        "details",
        { class: "override" },
        h("summary", { text: "Supervisor override" }),
        h(
          "form",
          {
            onsubmit: (e) => {
              e.preventDefault();
              if (!reason.value.trim()) return announce("An override needs a reason.", "error");
              change((v) => post(`/cases/${enc(c.id)}/transitions`, { to: to.value, reason: reason.value.trim() }, { ifMatch: v }), "Stage overridden.").catch(() => {});
            },
          },
          field("Move to stage", to),
          field("Reason (audited)", reason),
          h("button", { type: "submit", text: "Override" }),
        ),
      ),
    );
  }
  const resolutions = (def.resolutions || []).map((r) => [r.key, r.name || r.key]);
  if (resolutions.length) {
    const resolution = select("resolution", resolutions, resolutions[0][0]);
    const reason = h("input", { name: "reason" });
    section.append(
      h(
        "details",
        { class: "close-case" },
        h("summary", { text: "Close the case" }),
        h(
          "form",
          {
            onsubmit: (e) => {
              e.preventDefault();
              const body = { resolution: resolution.value };
              if (reason.value.trim()) body.reason = reason.value.trim();
              change((v) => post(`/cases/${enc(c.id)}/close`, body, { ifMatch: v }), "Case closed.").catch(() => {});
            },
          },
          field("Resolution", resolution),
          field("Reason (needed when required items are open)", reason),
          h("button", { type: "submit", text: "Close case" }),
        ),
      ),
    );
  }
  return section;
}

const CATEGORIES = [
  ["all", "Everything"],
  ["note", "Notes"],
  ["task", "Tasks"],
  ["stage", "Stage changes"],
  ["document", "Documents"],
  ["message", "Messages"],
  ["assign", "Assignments"],
];
const category = (action) => {
  if (/note/.test(action)) return "note";
  if (/task|checklist/.test(action)) return "task";
  if (/stage|transition|close|reopen|created/.test(action)) return "stage";
  if (/document|attachment/.test(action)) return "document";
  if (/message|email|sms|inbound/.test(action)) return "message";
  if (/assign|queue/.test(action)) return "assign";
  return "other";
};
function summary(detail) {
  const keys = ["to", "from", "title", "body", "filename", "reason", "resolution", "assignee", "queue", "subject"];
  return keys.filter((k) => detail && detail[k] !== undefined && detail[k] !== null && typeof detail[k] !== "object").map((k) => `${k}: ${String(detail[k]).slice(0, 140)}`).join(" · ");
}

function timeline(c) {
  const listEl = h("ol", { class: "timeline", "aria-live": "off" });
  const filter = select("category", CATEGORIES, "all");
  const section = h(
    "details",
    { class: "panel", id: "timeline-panel" },
    h("summary", {}, h("h3", { text: "Timeline" })),
    field("Show", filter),
    listEl,
  );
  let items = [];
  const draw = () =>
    clear(
      listEl,
      items
        .filter((i) => filter.value === "all" || category(i.action) === filter.value)
        .map((i) => h("li", {}, timeTag(i.at), " ", h("strong", { text: i.action.replace(/_/g, " ") }), i.actor_id ? ` by ${i.actor_id}` : "", h("span", { class: "muted", text: summary(i.detail) ? ` — ${summary(i.detail)}` : "" }))),
    );
  filter.addEventListener("change", draw);
  section.addEventListener("toggle", async () => {
    if (!section.open || items.length) return;
    try {
      items = (await get(`/cases/${enc(c.id)}/timeline?limit=500`)).items.reverse();
      draw();
    } catch (error) {
      clear(listEl, h("li", { class: "error", text: error.message }));
    }
  });
  return section;
}

function audit(c) {
  const status = h("p", { class: "muted", text: "Not checked yet." });
  const trail = h("ol", { class: "timeline" });
  const section = h(
    "details",
    { class: "panel", id: "audit-panel" },
    h("summary", {}, h("h3", { text: "Audit trail" })),
    status,
    trail,
  );
  section.addEventListener("toggle", async () => {
    if (!section.open) return;
    try {
      const v = await get(`/cases/${enc(c.id)}/audit/verify`);
      status.className = v.ok ? "ok" : "error";
      status.textContent = v.ok ? `Verified: ${v.entries} entries, chain intact.` : `Chain broken at entry ${v.first_bad_seq}: ${v.reason}`;
      const entries = await get(`/cases/${enc(c.id)}/audit`);
      clear(trail, entries.slice(-50).reverse().map((e) => h("li", {}, timeTag(e.at || e.created_at), " ", h("strong", { text: e.action || e.kind || "" }), e.actor_id || e.actor ? ` by ${e.actor_id || e.actor}` : "")));
    } catch (error) {
      status.className = "error";
      status.textContent = missing(error) ? "The audit trail is not available." : error.message;
    }
  });
  return section;
}

function render(keepFocus) {
  const c = folderState.folder;
  const pane = $("#folder-pane");
  const openDetails = new Set([...pane.querySelectorAll("details[id]")].filter((d) => d.open).map((d) => d.id));
  const active = keepFocus && document.activeElement && pane.contains(document.activeElement) ? document.activeElement : null;
  const activeKey = active && (active.name || active.textContent);
  clear(
    pane,
    h("a", { href: "#/work", class: "back-link", text: "← Back to my work" }),
    header(c),
    h("div", { id: "sla-slot" }),
    h("div", { id: "assignment-slot" }),
    stageActions(c),
    checklist(c),
    notes(c),
    h("div", { id: "messages-slot" }),
    documentsPanel(c, reload),
    partiesPanel(c),
    timeline(c),
    audit(c),
  );
  busy(slaPanel(c, $("#sla-slot")));
  busy(assignmentPanel(c, $("#assignment-slot"), reload));
  busy(messagesPanel(c, $("#messages-slot"), reload));
  for (const id of openDetails) {
    const d = document.getElementById(id);
    if (d) d.open = true;
  }
  if (!keepFocus) $("#folder-title").focus({ preventScroll: false });
  else if (activeKey) {
    const again = [...pane.querySelectorAll("button, input, select, textarea")].find((el) => (el.name || el.textContent) === activeKey);
    if (again) again.focus();
  }
  document.title = `${c.reference} · Casework console`;
}
