// Working the case: the checklist and tasks (tick, add a discretionary or ad-hoc task).
import { enc, patch, post } from "./api.js";
import { announce, field, h, select, when } from "./dom.js";
import { change, folderState, stageName } from "./state.js";

export function checklist(c) {
  const def = folderState.type;
  const tasks = c.tasks || [];
  const stageItems = tasks.filter((t) => t.kind === "checklist");
  const others = tasks.filter((t) => t.kind !== "checklist");
  const row = (t) => {
    const box = h("input", { type: "checkbox", checked: !!t.done_at, disabled: c.status === "closed" });
    box.addEventListener("change", () =>
      change((v) => patch(`/cases/${enc(c.id)}/tasks/${enc(t.id)}`, { done: box.checked }, { ifMatch: v }), box.checked ? `Done: ${t.title}` : `Reopened: ${t.title}`).catch(() => {}),
    );
    const label = h("label", {}, box, ` ${t.title}`);
    return h(
      "li",
      { class: t.done_at ? "task done" : "task" },
      label,
      t.required ? h("span", { class: "pill required", text: "required" }) : "",
      t.stage ? h("span", { class: "pill", text: stageName(t.stage) }) : "",
      t.due_at ? h("span", { class: "muted", text: ` due ${when(t.due_at)}` }) : "",
      t.done_by ? h("span", { class: "muted", text: ` · ${t.done_by}` }) : "",
    );
  };
  const menu = [["", "Ad-hoc task (type a title)"], ...(def.tasks || []).map((t) => [t.key, t.title || t.key])];
  const key = select("key", menu, "");
  const title = h("input", { name: "title", autocomplete: "off" });
  const add = h(
    "form",
    {
      class: "inline-form",
      onsubmit: (e) => {
        e.preventDefault();
        const body = key.value ? { key: key.value } : { title: title.value.trim() };
        if (!body.key && !body.title) return announce("Give the task a title or pick one.", "error");
        change((v) => post(`/cases/${enc(c.id)}/tasks`, body, { ifMatch: v }), "Task added.").catch(() => {});
      },
    },
    field("Add a task", key),
    field("Title", title),
    h("button", { type: "submit", text: "Add task" }),
  );
  return h(
    "section",
    { class: "panel", "aria-labelledby": "tasks-title" },
    h("h3", { id: "tasks-title", text: "Checklist and tasks" }),
    stageItems.length ? h("ul", { class: "tasks", "aria-label": "Checklist" }, stageItems.map(row)) : h("p", { class: "muted", text: "No checklist items." }),
    others.length ? h("ul", { class: "tasks", "aria-label": "Tasks" }, others.map(row)) : "",
    c.status === "closed" ? "" : add,
  );
}
