// Routing in the folder: SLA clocks with their story, and claim / assign / reassign / release.
import { caps, current, del, enc, get, hasRole, missing, post } from "./api.js";
import { announce, clear, duration, field, h, timeLeft, timeTag, when } from "./dom.js";
import { list } from "./queue.js";

function storyLine(line) {
  if (typeof line === "string") return h("li", { text: line });
  const text = line.text || line.story || line.message || line.event || line.reason || "";
  return h("li", {}, line.at ? [timeTag(line.at), " "] : "", text);
}

const BAD = ["warning", "breached", "missed"];

export async function slaPanel(c, slot) {
  if (!caps.has("GET", "/cases/{}/sla")) return;
  let data;
  try {
    data = await get(`/cases/${enc(c.id)}/sla`);
  } catch (error) {
    if (!missing(error)) clear(slot, h("p", { class: "warning", text: `SLA clocks not available: ${error.message}` }));
    return;
  }
  const clocks = list(data.clocks ? data.clocks : data);
  if (!clocks.length) return;
  const story = list(data.story || []);
  clear(
    slot,
    h(
      "section",
      { class: "panel sla-panel", "aria-labelledby": "sla-title" },
      h("h3", { id: "sla-title", text: "SLA clocks" }),
      data.paused_by ? h("p", { class: "warning", text: `Paused: ${data.paused_by}` }) : "",
      h(
        "ul",
        { class: "clocks" },
        clocks.map((k) => {
          const status = k.status || k.state || "ok";
          const bad = BAD.includes(status);
          const left =
            k.state === "stopped"
              ? k.met === false ? "missed" : "met"
              : k.remaining_seconds !== undefined
                ? k.remaining_seconds >= 0 ? `${duration(k.remaining_seconds)} left` : `overdue by ${duration(-k.remaining_seconds)}`
                : timeLeft(k.due_at);
          return h(
            "li",
            { class: bad ? "clock breached" : "clock" },
            h("p", {}, h("strong", { text: (k.name || k.clock || "").replace(/_/g, " ") }), h("span", { class: `pill ${status === "breached" || status === "missed" ? "p-urgent" : status === "warning" ? "p-high" : ""}`, text: status })),
            h("p", { class: bad ? "sla overdue" : "sla", text: left }),
            h(
              "p",
              { class: "muted" },
              k.target ? `target ${k.target}` : k.target_seconds ? `target ${duration(k.target_seconds)}` : "",
              k.due_at && k.state !== "stopped" ? ` · due ${when(k.due_at)}` : "",
              k.calendar ? ` · ${k.calendar} calendar` : "",
            ),
            (k.story || []).length ? h("details", {}, h("summary", { text: "Story" }), h("ol", { class: "story" }, k.story.map(storyLine))) : "",
          );
        }),
      ),
      story.length
        ? h("details", { id: "sla-story" }, h("summary", { text: "The whole story" }), h("ol", { class: "story" }, story.map(storyLine)))
        : "",
    ),
  );
}

export function assignmentPanel(c, slot, reload) {
  const work = c.work_item;
  const canAssign = caps.has("POST", "/cases/{}/assignment");
  if (!work || !canAssign || c.status === "closed") return;
  const me = current().user;
  const mineNow = work.assigned_to === me;
  const parts = [h("h3", { id: "assign-title", text: "Assignment" })];
  parts.push(h("p", { text: work.assigned_to ? `Assigned to ${work.assigned_to}${work.lease_expires_at ? ` until ${when(work.lease_expires_at)}` : ""}.` : `Waiting in queue ${work.queue}.` }));
  const act = async (fn, message) => {
    try {
      await fn();
      await reload();
      announce(message);
    } catch (error) {
      if (missing(error) && error.problem.code !== "NOT_FOUND") slot.replaceChildren();
      announce(error.message, "error");
    }
  };
  const buttons = [];
  if (!work.assigned_to) buttons.push(h("button", { type: "button", class: "primary", text: "Claim", onclick: () => act(() => post(`/cases/${enc(c.id)}/assignment`, { assignee: me }), "You have claimed this case.") }));
  if (mineNow && caps.has("POST", "/cases/{}/assignment/renew")) buttons.push(h("button", { type: "button", text: "Keep it (renew)", onclick: () => act(() => post(`/cases/${enc(c.id)}/assignment/renew`, {}), "Assignment renewed.") }));
  if (work.assigned_to && (mineNow || hasRole("supervisor", "admin")) && caps.has("DELETE", "/cases/{}/assignment"))
    buttons.push(h("button", { type: "button", text: "Release to queue", onclick: () => act(() => del(`/cases/${enc(c.id)}/assignment`), "Released to the queue.") }));
  parts.push(h("div", { class: "actions" }, buttons));
  if (hasRole("supervisor", "admin")) {
    const who = h("input", { name: "assignee", autocomplete: "off", list: "agent-names" });
    const names = h("datalist", { id: "agent-names" });
    const reason = h("input", { name: "reason", autocomplete: "off" });
    parts.push(
      h(
        "form",
        {
          class: "inline-form reassign-form",
          onsubmit: (e) => {
            e.preventDefault();
            const assignee = who.value.trim();
            if (!assignee) return announce("Name the agent to assign to.", "error");
            const body = { assignee };
            if (reason.value.trim()) body.reason = reason.value.trim();
            act(() => post(`/cases/${enc(c.id)}/assignment`, body), `Assigned to ${assignee}.`);
          },
        },
        field(work.assigned_to ? "Reassign to (user id)" : "Assign to (user id)", who),
        names,
        field("Reason (optional)", reason),
        h("button", { type: "submit", text: work.assigned_to ? "Reassign" : "Assign" }),
      ),
    );
    if (caps.has("GET", "/queues/{}/overview"))
      get(`/queues/${enc(work.queue)}/overview`)
        .then((o) => clear(names, list(o.agents || []).map((a) => h("option", { value: a.user_id, label: `${a.display_name || a.user_id} (load ${a.load})` }))))
        .catch(() => {});
  }
  clear(slot, h("section", { class: "panel", "aria-labelledby": "assign-title" }, parts));
}
