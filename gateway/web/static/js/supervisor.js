// Supervisor views: queue overview with load per agent, reassign and bulk reallocate, the SLA
// risk list, re-applying the routing rules (reroute.js); and the reports with their charts and the process graph.
import { blobUrl, caps, enc, get, missing, post } from "./api.js";
import { $, announce, clear, field, format, h, select, table, timeLeft, when } from "./dom.js";
import { list, priorityName, workRow } from "./queue.js";
import { rerouteSection } from "./reroute.js";

let queueName = "default";
const chartUrls = [];

async function queueNames() {
  if (!caps.has("GET", "/queues")) return ["default"];
  try {
    const names = list(await get("/queues")).map((q) => (typeof q === "string" ? q : q.name || q.key || q.queue));
    return names.length ? names : ["default"];
  } catch {
    return ["default"];
  }
}

async function overviewSection(queue) {
  if (!caps.has("GET", "/queues/{}/overview")) return "";
  try {
    const o = await get(`/queues/${enc(queue)}/overview`);
    const agents = list(o.agents || []).map((a) => ({ ...a, name: a.display_name || a.user_id }));
    const summary = Object.entries(o).filter(([k, v]) => typeof v !== "object" && k !== "queue");
    const columns = [["name", "Agent"], ["role", "Role"], ["availability", "Availability"], ["load_in_queue", "Load here"], ["load", "Load"], ["capacity", "Capacity"]];
    return h(
      "section",
      { class: "panel", "aria-labelledby": "overview-title" },
      h("h3", { id: "overview-title", text: `Load per agent in ${queue}` }),
      summary.length ? h("dl", { class: "facts" }, summary.map(([k, v]) => [h("dt", { text: k.replace(/_/g, " ") }), h("dd", { text: String(v) })])) : "",
      agents.length ? table(`Agents in ${queue}`, columns, agents) : h("p", { class: "muted", text: "No agents staffed on this queue." }),
    );
  } catch (error) {
    return missing(error) ? "" : h("p", { class: "error", text: error.message });
  }
}

async function bulkSection(queue) {
  if (!caps.has("POST", "/assignments/bulk")) return "";
  let items = [];
  try {
    items = list(await get(`/queues/${enc(queue)}/items?limit=50`));
  } catch {
    /* empty */
  }
  const assignee = h("input", { name: "assignee", autocomplete: "off" });
  const reason = h("input", { name: "reason", autocomplete: "off" });
  const boxes = items.map((i) => {
    const box = h("input", { type: "checkbox", name: "case", value: i.case_id });
    return h("li", {}, h("label", {}, box, ` ${i.reference} — ${i.title} (${i.priority_name || priorityName(i.priority)}${i.assigned_to ? `, ${i.assigned_to}` : ""})`));
  });
  return h(
    "section",
    { class: "panel", "aria-labelledby": "bulk-title" },
    h("h3", { id: "bulk-title", text: "Bulk reallocate" }),
    items.length
      ? h(
          "form",
          {
            class: "bulk-form",
            onsubmit: async (e) => {
              e.preventDefault();
              const ids = [...e.currentTarget.querySelectorAll("input[name=case]:checked")].map((b) => b.value);
              const who = assignee.value.split(",").map((x) => x.trim()).filter(Boolean);
              if (!ids.length || !who.length || !reason.value.trim()) return announce("Pick cases, name the agents and give a reason.", "error");
              try {
                const { data } = await post("/assignments/bulk", { case_ids: ids, assignees: who, reason: reason.value.trim() });
                const done = data && data.changed;
                announce(`Reallocated ${done ?? ids.length} case(s) to ${assignee.value.trim()}.`);
                showSupervisor();
              } catch (error) {
                announce(error.message, "error");
              }
            },
          },
          h("fieldset", {}, h("legend", { text: "Cases" }), h("ul", { class: "plain" }, boxes)),
          field("Give them to (user ids, comma-separated, dealt out in turn)", assignee),
          field("Reason (audited)", reason),
          h("button", { type: "submit", class: "primary", text: "Reallocate" }),
        )
      : h("p", { class: "muted", text: "Nothing queued to reallocate." }),
  );
}

async function riskSection(queue) {
  if (!caps.has("GET", "/sla/at-risk")) return "";
  try {
    const risky = list(await get(`/sla/at-risk?${new URLSearchParams({ queue, within: "86400" })}`));
    return h(
      "section",
      { class: "panel", "aria-labelledby": "risk-title" },
      h("h3", { id: "risk-title", text: `SLA risk (${risky.length})` }),
      risky.length
        ? h("ul", { class: "items" }, risky.map((r) => workRow({ ...r, assigned_to: r.assignee }, h("span", { class: r.status === "breached" ? "sla overdue" : "muted", text: `${(r.clock || "").replace(/_/g, " ")} ${r.status}${r.due_at ? `: due ${when(r.due_at)} (${timeLeft(r.due_at)})` : ""}` }))))
        : h("p", { class: "muted", text: "No case is at risk of missing its SLA." }),
    );
  } catch (error) {
    return missing(error) ? "" : h("p", { class: "error", text: error.message });
  }
}

export async function showSupervisor() {
  const pane = $("#supervisor-pane");
  const names = await queueNames();
  if (!names.includes(queueName)) queueName = names[0];
  const queueSel = select("queue", names.map((n) => [n, n]), queueName);
  queueSel.addEventListener("change", () => ((queueName = queueSel.value), showSupervisor()));
  clear(pane, h("h2", { text: "Supervisor" }), field("Queue", queueSel), h("p", { class: "muted", text: "Loading…" }));
  const parts = await Promise.all([
    overviewSection(queueName),
    riskSection(queueName),
    bulkSection(queueName),
    rerouteSection(showSupervisor),
  ]);
  const shown = parts.filter(Boolean);
  clear(
    pane,
    h("h2", { text: "Supervisor" }),
    field("Queue", queueSel),
    shown.length ? h("div", { class: "grid" }, shown) : h("p", { class: "muted", text: "Queue overview, SLA risk and bulk reallocation are not offered by this server yet; reassign from a case folder." }),
  );
}

// ---- reports
const REPORTS = [];
async function reportNames() {
  if (REPORTS.length) return REPORTS;
  if (caps.has("GET", "/reports")) {
    try {
      const catalog = await get("/reports");
      const names = list(catalog.reports || catalog).map((r) => (typeof r === "string" ? r : r.name || r.key));
      REPORTS.push(...names);
    } catch {
      /* fall through */
    }
  }
  if (!REPORTS.length) REPORTS.push("completed");
  return REPORTS;
}

async function chart(path, alt) {
  try {
    const url = await blobUrl(path, "image/svg+xml");
    chartUrls.push(url);
    return h("img", { src: url, alt, class: "chart" });
  } catch (error) {
    return missing(error) ? "" : h("p", { class: "error", text: `${alt}: ${error.message}` });
  }
}

export async function showReports() {
  const pane = $("#reports-pane");
  while (chartUrls.length) URL.revokeObjectURL(chartUrls.pop());
  const names = await reportNames();
  const form = h("form", { class: "filters report-form" });
  const name = select("name", names.map((n) => [n, n.replace(/_/g, " ")]), form.dataset.name || names[0]);
  const from = h("input", { type: "date", name: "from" });
  const to = h("input", { type: "date", name: "to" });
  const out = h("div", { class: "report-out" });
  form.append(field("Report", name), field("From", from), field("To", to), h("button", { type: "submit", class: "primary", text: "Show" }));
  const run = async () => {
    const query = new URLSearchParams();
    if (from.value) query.set("from", from.value);
    if (to.value) query.set("to", to.value);
    clear(out, h("p", { class: "muted", text: "Loading…" }));
    try {
      const data = await get(`/reports/${enc(name.value)}?${query}`);
      const rows = list(data.rows || data.items || data);
      const keys = data.columns || (rows.length ? Object.keys(rows[0]) : []);
      const columns = keys.map((k) => [k, k.replace(/_/g, " ")]);
      clear(
        out,
        caps.has("GET", "/reports/{}/chart.svg") ? await chart(`/reports/${enc(name.value)}/chart.svg?${query}`, `Chart: ${name.value} report`) : "",
        rows.length ? table(data.title || `${name.value} report`, columns, rows.slice(0, 200)) : h("p", { class: "muted", text: "No rows for this period." }),
        data.totals && Object.keys(data.totals).length ? h("dl", { class: "facts" }, Object.entries(data.totals).map(([k, v]) => [h("dt", { text: k.replace(/_/g, " ") }), h("dd", { text: format(v) })])) : "",
      );
    } catch (error) {
      clear(out, h("p", { class: "error", text: error.message }));
    }
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    run();
  });
  clear(
    pane,
    h("h2", { text: "Reports" }),
    form,
    out,
    caps.has("GET", "/process/graph.svg") ? h("section", { class: "panel", "aria-labelledby": "graph-title" }, h("h3", { id: "graph-title", text: "Process graph" }), await chart("/process/graph.svg", "Process graph: how cases move between stages")) : "",
  );
  run();
}
