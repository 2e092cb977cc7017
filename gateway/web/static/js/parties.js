// The folder's parties panel: the parties with their roles, linked cases and the case data; add
// a party (name, role, kind, email, phone) and link another case (by reference or id), each with
// the API's field errors shown next to the field they name.
import { caps, enc, get, hasRole, post } from "./api.js";
import { announce, field, h, nextId, select } from "./dom.js";
import { formErrors, onSubmit } from "./forms.js";
import { change, references } from "./state.js";

const ROLES = ["customer", "complainant", "representative", "witness", "third_party", "supplier"];
// LinkIn.kind, read from this case's side: "this case is <kind> the other one"
const LINK_KINDS = [
  ["related", "related to"],
  ["parent_of", "the parent of"],
  ["child_of", "a child of"],
  ["duplicate_of", "a duplicate of"],
];
const LINK_NAMES = {
  related: "Related to",
  parent_of: "Parent of",
  child_of: "Child of",
  duplicate_of: "Duplicate of",
  duplicated_by: "Duplicated by",
  merged_into: "Merged into",
  merged_from: "Merged from",
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const words = (key) => String(key || "").replace(/_/g, " ");
const canChange = (c, route) => c.status !== "closed" && hasRole("agent", "supervisor", "admin") && caps.has("POST", route);

function partyItem(p) {
  return h(
    "li",
    { class: "party" },
    h("strong", { text: p.name }),
    h("span", { class: "pill", text: words(p.role) }),
    p.kind === "organisation" ? h("span", { class: "pill", text: "organisation" }) : "",
    (p.emails || []).length ? ` · ${p.emails.join(", ")}` : "",
    (p.phones || []).length ? ` · ${p.phones.join(", ")}` : "",
  );
}

function linkItem(l) {
  const reference = references.get(l.case_id);
  return h(
    "li",
    { class: "link-item" },
    `${LINK_NAMES[l.kind] || words(l.kind)}: `,
    h("a", { href: `#/case/${enc(l.case_id)}`, text: reference || `case ${l.case_id}` }),
  );
}

function addPartyForm(c) {
  const name = h("input", { name: "name", autocomplete: "off", maxlength: 200 });
  const rolesId = nextId("party-roles");
  const role = h("input", { name: "role", autocomplete: "off", list: rolesId, autocapitalize: "none", spellcheck: "false" });
  const kind = select("kind", [["person", "Person"], ["organisation", "Organisation"]], "person");
  const email = h("input", { name: "email", type: "email", autocomplete: "off", autocapitalize: "none", spellcheck: "false" });
  const phone = h("input", { name: "phone", type: "tel", autocomplete: "off" });
  const form = h(
    "form",
    { class: "party-form", novalidate: true },
    h("div", { class: "row" }, field("Name", name), field("Role", role, "Lower-case words joined by _, e.g. representative."), field("Person or organisation", kind)),
    h("datalist", { id: rolesId }, ROLES.map((r) => h("option", { value: r }))),
    h("div", { class: "row" }, field("Email", email), field("Phone", phone)),
    h("button", { type: "submit", class: "primary", text: "Add party" }),
  );
  const errors = formErrors(
    form,
    { role, "party.name": name, "party.kind": kind, "party.email": email, "party.phone": phone },
    { role: "Use lower-case letters and _ only, e.g. third_party.", "party.phone": "Use digits, spaces, ( ) and -, with an optional + in front." },
  );
  form.addEventListener(
    "submit",
    onSubmit(async () => {
      const party = { name: name.value.trim(), kind: kind.value };
      const body = { role: role.value.trim(), party };
      if (email.value.trim()) party.email = email.value.trim();
      if (phone.value.trim()) party.phone = phone.value.trim();
      const local = [];
      if (!party.name) local.push({ field: "party.name", message: "Give the party's name." });
      if (!body.role) local.push({ field: "role", message: "Give the party's role on this case, e.g. representative." });
      if (local.length) return announce(errors.show({ fields: local }), "error");
      await change((v) => post(`/cases/${enc(c.id)}/parties`, body, { ifMatch: v }), `Added ${party.name} as ${words(body.role)}.`, { onError: errors.show });
    }),
  );
  return h("details", { class: "subform", id: "party-add" }, h("summary", { text: "Add a party" }), form);
}

function linkForm(c) {
  const kind = select("kind", LINK_KINDS, "related");
  const target = h("input", { name: "target", autocomplete: "off", autocapitalize: "characters", spellcheck: "false", maxlength: 64 });
  const form = h(
    "form",
    { class: "link-form", novalidate: true },
    h("div", { class: "row" }, field("This case is", kind), field("Other case (reference or id)", target, "For example CMP-2026-000042.")),
    h("button", { type: "submit", class: "primary", text: "Link case" }),
  );
  const errors = formErrors(form, { kind, target_id: target });
  form.addEventListener(
    "submit",
    onSubmit(async () => {
      const given = target.value.trim();
      if (!given) return announce(errors.field("target_id", "Give the other case's reference or id."), "error");
      let targetId = given;
      if (!UUID.test(given) && caps.has("GET", "/search/lookup")) {
        let items;
        try {
          ({ items } = await get(`/search/lookup?${new URLSearchParams({ reference: given })}`));
        } catch (error) {
          return announce(errors.show(error), "error");
        }
        if (!items.length) return announce(errors.field("target_id", `No case has the reference ${given}, or you may not see it.`), "error");
        targetId = items[0].case_id;
        references.set(targetId, items[0].reference);
      }
      const shown = references.get(targetId) || given;
      await change((v) => post(`/cases/${enc(c.id)}/links`, { target_id: targetId, kind: kind.value }, { ifMatch: v }), `Linked: this case is ${LINK_KINDS.find(([k]) => k === kind.value)[1]} ${shown}.`, {
        onError: errors.show,
      });
    }),
  );
  return h("details", { class: "subform", id: "link-add" }, h("summary", { text: "Link another case" }), form);
}

export function partiesPanel(c) {
  const parties = c.parties || [];
  const links = c.links || [];
  const data = Object.entries(c.data || {});
  return h(
    "details",
    { class: "panel", id: "parties-panel", open: parties.length + links.length > 0 },
    h("summary", {}, h("h3", { text: `Parties (${parties.length}) and linked cases (${links.length})` })),
    parties.length ? h("ul", { class: "plain", "aria-label": "Parties" }, parties.map(partyItem)) : h("p", { class: "muted", text: "No parties." }),
    canChange(c, "/cases/{}/parties") ? addPartyForm(c) : "",
    h("h4", { text: "Linked cases" }),
    links.length ? h("ul", { class: "plain", "aria-label": "Linked cases" }, links.map(linkItem)) : h("p", { class: "muted", text: "No linked cases." }),
    canChange(c, "/cases/{}/links") ? linkForm(c) : "",
    data.length
      ? [h("h4", { text: "Case data" }), h("dl", { class: "facts" }, data.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: typeof v === "object" ? JSON.stringify(v) : String(v) })]))]
      : "",
  );
}
