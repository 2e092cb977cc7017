// Assignment in the folder: claim, renew, release, and for supervisors a picker of the queue's
// people by display name with their load (from the queue overview) that still takes a typed user
// id. Names learnt here replace bare user ids in the folder ("Assigned to Ann Agent").
import { caps, current, del, enc, get, hasRole, missing, post } from "./api.js";
import { announce, clear, field, h, when } from "./dom.js";
import { formErrors, onSubmit } from "./forms.js";
import { list } from "./queue.js";
import { nameOf, people } from "./state.js";

const OTHER = "-other-"; // the picker's "someone else: type a user id"
const refused = new Set(); // queues whose overview this user may not read (not a member)

// The queue's members and assignees with load, capacity and availability; null when unknown.
async function queuePeople(queue) {
  if (!caps.has("GET", "/queues/{}/overview") || refused.has(queue)) return null;
  try {
    const agents = list((await get(`/queues/${enc(queue)}/overview`)).agents || []);
    for (const a of agents) if (a.display_name) people.set(a.user_id, a.display_name);
    return agents;
  } catch (error) {
    if (error.status === 403) refused.add(queue);
    return null;
  }
}

const who = (userId) => (userId === current().user ? "you" : nameOf(userId));
const availability = (a) => (a.availability && a.availability !== "available" ? `, ${a.availability}` : "");

function optionText(a, work) {
  const notes = [a.user_id === current().user ? "you" : "", a.role === "supervisor" ? "supervisor" : "", a.user_id === work.assigned_to ? "assigned now" : ""].filter(Boolean);
  return `${nameOf(a.user_id)} — ${a.load} of ${a.capacity} cases${availability(a)}${notes.length ? ` (${notes.join(", ")})` : ""}`;
}

function describe(a, queue) {
  const inQueue = a.load_in_queue !== undefined ? `, ${a.load_in_queue} of them in ${queue}` : "";
  return `${nameOf(a.user_id)} has ${a.load} open case${a.load === 1 ? "" : "s"} for a capacity of ${a.capacity}${inQueue}; ${a.availability || "available"}.`;
}

function picker(c, work, agents, act) {
  const known = [...(agents || [])].sort((a, b) => nameOf(a.user_id).localeCompare(nameOf(b.user_id)));
  const verb = work.assigned_to ? "Reassign" : "Assign";
  const typed = h("input", { name: "assignee_id", autocomplete: "off", autocapitalize: "none", spellcheck: "false", maxlength: 128 });
  const reason = h("input", { name: "reason", autocomplete: "off", maxlength: 2000 });
  const force = h("input", { type: "checkbox", name: "force" });
  let pick = null;
  let typedField;
  const parts = [];
  if (known.length) {
    const HINT = "Each person is shown with their open cases against their capacity. Choose “Someone else” to type a user id.";
    pick = h(
      "select",
      { name: "assignee" },
      h("option", { value: "", text: "Choose a person…" }),
      known.map((a) => h("option", { value: a.user_id, disabled: a.user_id === work.assigned_to, text: optionText(a, work) })),
      h("option", { value: OTHER, text: "Someone else: type a user id" }),
    );
    const pickField = field(`${verb} to`, pick, HINT);
    const hint = pickField.querySelector(".hint");
    hint.setAttribute("aria-live", "polite");
    typedField = field("User id", typed);
    typedField.hidden = true;
    pick.addEventListener("change", () => {
      typedField.hidden = pick.value !== OTHER;
      const chosen = known.find((a) => a.user_id === pick.value);
      hint.textContent = chosen ? describe(chosen, work.queue) : HINT;
      if (pick.value === OTHER) typed.focus();
    });
    parts.push(pickField, typedField);
  } else {
    typedField = field(`${verb} to (user id)`, typed);
    parts.push(typedField);
  }
  const form = h(
    "form",
    { class: "inline-form reassign-form", novalidate: true },
    parts,
    field("Reason (optional)", reason),
    h("div", { class: "field check" }, h("label", {}, force, " Even if they are off or at capacity")),
    h("button", { type: "submit", text: verb }),
  );
  const usingPick = () => pick && pick.value !== OTHER;
  const errors = formErrors(form, {
    get assignee() {
      return usingPick() ? pick : typed;
    },
    reason,
    force,
  });
  form.addEventListener(
    "submit",
    onSubmit(async () => {
      let assignee = usingPick() ? pick.value : typed.value.trim();
      if (!assignee) return announce(errors.field("assignee", usingPick() ? "Choose the person to assign the case to." : "Type the user id to assign the case to."), "error");
      // a typed display name of someone listed is as good as their id
      const byName = known.find((a) => a.display_name && a.display_name.toLowerCase() === assignee.toLowerCase());
      if (!usingPick() && byName) assignee = byName.user_id;
      const body = { assignee };
      if (reason.value.trim()) body.reason = reason.value.trim();
      if (force.checked) body.force = true;
      await act(() => post(`/cases/${enc(c.id)}/assignment`, body), () => `Assigned to ${who(assignee)}.`, errors.show);
    }),
  );
  return form;
}

export async function assignmentPanel(c, slot, reload) {
  const work = c.work_item;
  if (!work || !caps.has("POST", "/cases/{}/assignment") || c.status === "closed") return;
  const me = current().user;
  const supervisor = hasRole("supervisor", "admin");
  const wanted = supervisor || (work.assigned_to && work.assigned_to !== me && !people.has(work.assigned_to));
  const agents = wanted ? await queuePeople(work.queue) : null;
  if (!slot.isConnected) return; // the folder was drawn again meanwhile
  const fact = document.getElementById("assignee-fact");
  if (fact && work.assigned_to) fact.textContent = nameOf(work.assigned_to);
  const act = async (fn, message, onError) => {
    try {
      await fn();
      await reload();
      announce(typeof message === "function" ? message() : message);
    } catch (error) {
      if (missing(error) && error.problem.code !== "NOT_FOUND") slot.replaceChildren();
      const shown = onError ? onError(error) : null;
      announce(shown || error.message, "error");
    }
  };
  const lease = work.lease_expires_at ? ` until ${when(work.lease_expires_at)}` : "";
  const buttons = [];
  if (!work.assigned_to) buttons.push(h("button", { type: "button", class: "primary", text: "Claim", onclick: () => act(() => post(`/cases/${enc(c.id)}/assignment`, { assignee: me }), "You have claimed this case.") }));
  if (work.assigned_to === me && caps.has("POST", "/cases/{}/assignment/renew")) buttons.push(h("button", { type: "button", text: "Keep it (renew)", onclick: () => act(() => post(`/cases/${enc(c.id)}/assignment/renew`, {}), "Assignment renewed.") }));
  if (work.assigned_to && (work.assigned_to === me || supervisor) && caps.has("DELETE", "/cases/{}/assignment"))
    buttons.push(h("button", { type: "button", text: "Release to queue", onclick: () => act(() => del(`/cases/${enc(c.id)}/assignment`), "Released to the queue.") }));
  clear(
    slot,
    h(
      "section",
      { class: "panel", "aria-labelledby": "assign-title" },
      h("h3", { id: "assign-title", text: "Assignment" }),
      h("p", { class: "assigned", text: work.assigned_to ? `Assigned to ${who(work.assigned_to)}${lease}.` : `Waiting in queue ${work.queue}.` }),
      h("div", { class: "actions" }, buttons),
      supervisor ? picker(c, work, agents, act) : "",
    ),
  );
}
