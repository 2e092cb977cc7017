// Notes in the folder: add one, edit one in place (its author, supervisors and admins; with
// If-Match like every change), and read the earlier revisions of an edited note.
import { caps, current, enc, get, hasRole, patch, post } from "./api.js";
import { announce, clear, field, h, nextId, select, timeTag } from "./dom.js";
import { formErrors, onSubmit } from "./forms.js";
import { busy, change, nameOf } from "./state.js";

const VISIBILITIES = [
  ["internal", "Internal"],
  ["customer", "Visible to the customer"],
];
const WRITERS = ["agent", "supervisor", "admin"];

const canEdit = (c, note) =>
  c.status !== "closed" && hasRole(...WRITERS) && (note.author === (current() || {}).user || hasRole("supervisor", "admin"));

function revisionItem(rev) {
  return h(
    "li",
    { class: "revision" },
    h(
      "p",
      { class: "note-meta" },
      h("strong", { text: `Revision ${rev.revision}` }),
      rev.written_by ? ` by ${nameOf(rev.written_by)}` : "",
      rev.written_at ? [" · ", timeTag(rev.written_at)] : "",
      rev.visibility === "customer" ? h("span", { class: "pill", text: "customer" }) : "",
      rev.edited_by ? h("span", { class: "muted" }, ` · replaced by ${nameOf(rev.edited_by)}`, rev.edited_at ? [" · ", timeTag(rev.edited_at)] : "") : "",
    ),
    h("p", { class: "note-body", text: rev.body }),
  );
}

// "History" under an edited note: the earlier revisions, newest first, read when first opened.
function historyToggle(c, n) {
  const listId = nextId("note-history");
  const area = h("div", { id: listId, class: "note-history", hidden: true });
  let loaded = false;
  const button = h("button", {
    type: "button",
    class: "link",
    "aria-expanded": "false",
    "aria-controls": listId,
    text: `History (${n.revision - 1} earlier)`,
    onclick: () => {
      const open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", String(open));
      area.hidden = !open;
      if (!open || loaded) return;
      loaded = true;
      clear(area, h("p", { class: "muted", text: "Loading the earlier revisions…" }));
      busy(
        get(`/cases/${enc(c.id)}/notes/${enc(n.id)}`)
          .then((full) => {
            const earlier = [...(full.history || [])].reverse();
            clear(
              area,
              earlier.length
                ? h("ol", { class: "revisions", "aria-label": "Earlier revisions of this note" }, earlier.map(revisionItem))
                : h("p", { class: "muted", text: "No earlier revision is kept." }),
            );
          })
          .catch((error) => {
            loaded = false;
            clear(area, h("p", { class: "error", text: `Could not read the history: ${error.message}` }));
          }),
      );
    },
  });
  return [button, area];
}

function noteItem(c, n) {
  const li = h("li", { class: `note ${n.visibility}`, dataset: { noteId: n.id } });
  const edited = n.revision > 1;
  const meta = h(
    "p",
    { class: "note-meta" },
    h("strong", { text: n.author ? nameOf(n.author) : "system" }),
    " · ",
    timeTag(n.created_at),
    n.visibility === "customer" ? h("span", { class: "pill", text: "customer" }) : "",
    edited ? h("span", { class: "muted edited" }, " · edited, rev ", String(n.revision), n.updated_at ? [" · ", timeTag(n.updated_at)] : "") : "",
  );
  const view = () => {
    const actions = [];
    if (canEdit(c, n)) {
      actions.push(
        h("button", { type: "button", class: "link note-edit", onclick: edit }, "Edit", h("span", { class: "visually-hidden", text: ` the note by ${n.author ? nameOf(n.author) : "system"}` })),
      );
    }
    const history = edited && caps.has("GET", "/cases/{}/notes/{}") ? historyToggle(c, n) : [];
    clear(
      li,
      meta,
      h("p", { class: "note-body", text: n.body }),
      actions.length || history.length ? h("div", { class: "note-actions" }, actions, history[0] || "") : "",
      history[1] || "",
    );
  };
  function edit() {
    const body = h("textarea", { name: "body", rows: 4 });
    body.value = n.body;
    const visibility = select("visibility", VISIBILITIES, n.visibility);
    const cancel = () => {
      view();
      const again = li.querySelector(".note-edit");
      if (again) again.focus();
    };
    const form = h(
      "form",
      {
        class: "note-edit-form",
        novalidate: true,
        onkeydown: (e) => e.key === "Escape" && (e.preventDefault(), cancel()),
      },
      field("Edit the note", body),
      field("Visibility of this note", visibility),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", text: "Save note" }), h("button", { type: "button", text: "Cancel", onclick: cancel })),
    );
    const errors = formErrors(form, { body, visibility });
    form.addEventListener(
      "submit",
      onSubmit(async () => {
        const text = body.value.trim();
        const given = {};
        if (text !== n.body) given.body = text;
        if (visibility.value !== n.visibility) given.visibility = visibility.value;
        if (!text) return announce(errors.field("body", "Write the note first: an empty note cannot be saved."), "error");
        if (!Object.keys(given).length) {
          announce("Nothing changed in the note.");
          return cancel();
        }
        await change((v) => patch(`/cases/${enc(c.id)}/notes/${enc(n.id)}`, given, { ifMatch: v }), `Note saved (revision ${n.revision + 1}).`, { onError: errors.show });
        const saved = document.querySelector(`[data-note-id="${CSS.escape(n.id)}"] .note-edit`);
        if (saved) saved.focus();
      }),
    );
    clear(li, meta, form);
    body.focus();
  }
  view();
  return li;
}

export function notes(c) {
  const body = h("textarea", { name: "body", rows: 3 });
  const visibility = select("visibility", VISIBILITIES, "internal");
  const items = [...(c.notes || [])].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  const form = h(
    "form",
    { class: "note-form", novalidate: true },
    field("New note", body),
    field("Visibility", visibility),
    h("button", { type: "submit", class: "primary", text: "Add note" }),
  );
  const errors = formErrors(form, { body, visibility });
  form.addEventListener(
    "submit",
    onSubmit(async () => {
      const text = body.value.trim();
      if (!text) return announce(errors.field("body", "Write the note first."), "error");
      await change((v) => post(`/cases/${enc(c.id)}/notes`, { body: text, visibility: visibility.value }, { ifMatch: v }), "Note added.", { onError: errors.show });
    }),
  );
  return h(
    "section",
    { class: "panel", "aria-labelledby": "notes-title" },
    h("h3", { id: "notes-title", text: "Notes" }),
    c.status === "closed" || !hasRole(...WRITERS) ? "" : form,
    items.length ? h("ol", { class: "notes" }, items.map((n) => noteItem(c, n))) : h("p", { class: "muted", text: "No notes yet." }),
  );
}
