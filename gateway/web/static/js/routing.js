// Routing in the folder: SLA clocks with their story (assignment is in assign.js).
import { caps, enc, get, missing } from "./api.js";
import { clear, duration, h, timeLeft, timeTag, when } from "./dom.js";
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
