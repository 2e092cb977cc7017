// My work: my cases and my queues in routing's order, SLA time left, "get next case", filters.
import { ApiError, caps, enc, get, missing, post } from "./api.js";
import { $, announce, clear, debounce, field, h, select, timeLeft } from "./dom.js";

export const PRIORITY_NAMES = { 1: "low", 2: "normal", 3: "high", 4: "urgent" };
export const priorityName = (p) => (typeof p === "number" ? PRIORITY_NAMES[p] || String(p) : p || "normal");
export const list = (data) => (Array.isArray(data) ? data : (data && (data.items || data.cases)) || []);

const state = { queue: "default", text: "", priority: "", queues: [] };

function dueOf(item) {
  return item.sla_due_at || item.due_at || (item.sla && item.sla.due_at) || null;
}

export function workRow(item, extra = []) {
  const caseId = item.case_id || item.id;
  const priority = item.priority_name || priorityName(item.priority);
  const due = dueOf(item);
  const overdue = due && new Date(due).getTime() < Date.now();
  return h(
    "li",
    { class: "work-item", dataset: { caseId } },
    h(
      "a",
      { href: `#/case/${enc(caseId)}`, class: "work-link" },
      h("span", { class: "ref", text: item.reference || caseId }),
      h("span", { class: "title", text: item.title || "" }),
    ),
    h(
      "span",
      { class: "meta" },
      h("span", { class: `pill p-${priority}`, text: priority }),
      item.stage ? h("span", { class: "pill", text: item.stage }) : "",
      item.assigned_to || item.assignee ? h("span", { text: `→ ${item.assigned_to || item.assignee}` }) : "",
      due
        ? h("span", { class: overdue ? "sla overdue" : "sla", text: `SLA ${timeLeft(due)}` })
        : item.sla && typeof item.sla === "string" && item.sla !== "ok"
          ? h("span", { class: "sla overdue", text: `SLA ${item.sla}` })
          : "",
    ),
    extra,
  );
}

function matches(item) {
  if (state.priority && (item.priority_name || priorityName(item.priority)) !== state.priority) return false;
  if (!state.text) return true;
  const hay = `${item.reference || ""} ${item.title || ""}`.toLowerCase();
  return hay.includes(state.text.toLowerCase());
}

function listSection(title, id, items, empty) {
  const shown = items.filter(matches);
  return h(
    "section",
    { class: "work-list", "aria-labelledby": id },
    h("h3", { id, text: `${title} (${shown.length})` }),
    shown.length ? h("ul", { class: "items" }, shown.map((i) => workRow(i))) : h("p", { class: "muted", text: empty }),
  );
}

async function getNext() {
  const button = $("#next-case");
  button.disabled = true;
  try {
    const { status, data } = await post("/work/next", {});
    if (status === 204 || !data) {
      announce("Nothing is waiting in your queues.");
    } else {
      const item = data.item || data.work_item || data;
      announce(`Assigned to you: ${item.reference || item.case_id}`);
      location.hash = `#/case/${enc(item.case_id || item.id)}`;
      loadQueue();
    }
  } catch (error) {
    if (missing(error)) button.hidden = true;
    announce(`Could not get the next case: ${error.message}`, "error");
  } finally {
    button.disabled = false;
  }
}

async function loadQueues() {
  if (!caps.has("GET", "/queues")) return;
  try {
    state.queues = list(await get("/queues")).map((q) => (typeof q === "string" ? q : q.name || q.key || q.queue));
  } catch (error) {
    if (!missing(error)) throw error;
  }
}

let mine = [];
let queued = [];
let openCases = [];

export async function loadQueue() {
  const pane = $("#queue-pane");
  if (!pane.firstChild) buildShell(pane);
  if (!state.queues.length) await loadQueues();
  syncQueueSelect();
  const tasks = [];
  const hasMine = caps.has("GET", "/me/work");
  if (hasMine)
    tasks.push(
      get("/me/work")
        .then((d) => (mine = list(d)))
        .catch((e) => (missing(e) ? (mine = null) : Promise.reject(e))),
    );
  else mine = null;
  tasks.push(
    get(`/queues/${enc(state.queue)}/items?limit=50`)
      .then((d) => (queued = list(d)))
      .catch((e) => (e instanceof ApiError && e.status === 404 ? (queued = []) : Promise.reject(e))),
  );
  tasks.push(get("/cases?status=open&sort=priority&limit=50").then((d) => (openCases = list(d))));
  try {
    await Promise.all(tasks);
  } catch (error) {
    announce(`Could not load your work: ${error.message}`, "error");
  }
  render();
}

function render() {
  const lists = $("#work-lists");
  if (!lists) return;
  clear(
    lists,
    mine ? listSection("Assigned to me", "mine-title", mine, "Nothing assigned to you.") : "",
    listSection(`Queue: ${state.queue}`, "queued-title", queued, "The queue is empty."),
    listSection("Open cases", "open-title", openCases, "No open cases."),
  );
}

function syncQueueSelect() {
  const sel = $("#queue-select");
  if (!sel) return;
  const names = state.queues.length ? state.queues : ["default"];
  if (sel.options.length !== names.length)
    clear(sel, names.map((n) => h("option", { value: n, selected: n === state.queue, text: n })));
}

function buildShell(pane) {
  const text = h("input", { type: "search", name: "filter", autocomplete: "off" });
  text.addEventListener(
    "input",
    debounce(() => ((state.text = text.value.trim()), render()), 150),
  );
  const prio = select("priority", [["", "Any"], ["urgent", "Urgent"], ["high", "High"], ["normal", "Normal"], ["low", "Low"]], "");
  prio.addEventListener("change", () => ((state.priority = prio.value), render()));
  const queueSel = h("select", { name: "queue", id: "queue-select" });
  queueSel.addEventListener("change", () => ((state.queue = queueSel.value), loadQueue()));
  const next = h("button", { id: "next-case", type: "button", class: "primary", text: "Get next case" });
  next.addEventListener("click", getNext);
  next.hidden = !caps.has("POST", "/work/next");
  const refresh = h("button", { type: "button", text: "Refresh", onclick: () => loadQueue() });
  clear(
    pane,
    h("div", { class: "pane-head" }, h("h2", { id: "queue-title", text: "My work" }), h("div", { class: "actions" }, next, refresh)),
    h(
      "div",
      { class: "filters", role: "group", "aria-label": "Filters" },
      field("Filter", text),
      field("Priority", prio),
      field("Queue", queueSel),
    ),
    h("div", { id: "work-lists" }),
  );
}

export const refreshQueueSoon = debounce(() => loadQueue().catch(() => {}), 500);
