// Working the case: the checklist and tasks (tick, add a discretionary or ad-hoc task) and notes.
import { enc, patch, post } from "./api.js";
import { announce, field, h, select, timeTag, when } from "./dom.js";
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

export function notes(c) {
  const body = h("textarea", { name: "body", rows: 3 });
  const visibility = select("visibility", [["internal", "Internal"], ["customer", "Visible to the customer"]], "internal");
  const items = [...(c.notes || [])].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  return h(
    "section",
    { class: "panel", "aria-labelledby": "notes-title" },
    h("h3", { id: "notes-title", text: "Notes" }),
    h(
      "form",
      {
        class: "note-form",
        onsubmit: (e) => {
          e.preventDefault();
          const text = body.value.trim();
          if (!text) return announce("Write the note first.", "error");
          change((v) => post(`/cases/${enc(c.id)}/notes`, { body: text, visibility: visibility.value }, { ifMatch: v }), "Note added.").catch(() => {});
        },
      },
      field("New note", body),
      field("Visibility", visibility),
      h("button", { type: "submit", class: "primary", text: "Add note" }),
    ),
    items.length
      ? h(
          "ol",
          { class: "notes" },
          items.map((n) =>
            h(
              "li",
              { class: `note ${n.visibility}` },
              h("p", { class: "note-meta" }, h("strong", { text: n.author || "system" }), " · ", timeTag(n.created_at), n.visibility === "customer" ? h("span", { class: "pill", text: "customer" }) : "", n.revision > 1 ? h("span", { class: "muted", text: ` (edited, rev ${n.revision})` }) : ""),
              h("p", { class: "note-body", text: n.body }),
            ),
          ),
        )
      : h("p", { class: "muted", text: "No notes yet." }),
  );
}
