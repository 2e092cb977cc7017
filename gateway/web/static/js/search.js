// Search with instant results, facets and highlighted snippets; lookup by reference, email, phone.
import { enc, get } from "./api.js";
import { $, announce, clear, debounce, h, snippet, timeTag } from "./dom.js";
import { priorityName } from "./queue.js";

const FACETS = ["type", "stage", "status", "priority", "queue", "assignee", "sla"];
let lastParams = new URLSearchParams();
let seq = 0;

function hit(item) {
  const first = (item.highlights || []).slice(0, 3);
  return h(
    "li",
    { class: "hit" },
    h("a", { href: `#/case/${enc(item.case_id)}`, class: "work-link" }, h("span", { class: "ref", text: item.reference }), h("span", { class: "title", text: item.title })),
    h(
      "span",
      { class: "meta" },
      h("span", { class: `pill p-${priorityName(item.priority)}`, text: item.priority }),
      h("span", { class: "pill", text: item.status }),
      item.stage ? h("span", { class: "pill", text: item.stage }) : "",
      item.sla && item.sla !== "ok" ? h("span", { class: "sla overdue", text: `SLA ${item.sla}` }) : "",
      timeTag(item.created_at),
    ),
    first.length ? h("ul", { class: "highlights" }, first.map((x) => h("li", {}, h("span", { class: "where", text: `${x.where}: ` }), snippet(x.snippet)))) : "",
  );
}

function facetGroups(facets, params) {
  if (!facets) return "";
  return h(
    "nav",
    { class: "facets", "aria-label": "Refine" },
    h("h3", { text: "Refine" }),
    FACETS.filter((f) => facets[f] && facets[f].length).map((f) =>
      h(
        "fieldset",
        {},
        h("legend", { text: f }),
        facets[f].slice(0, 8).map((bucket) => {
          const value = bucket.value ?? "";
          const active = params.get(f) === value;
          const next = new URLSearchParams(params);
          if (active) next.delete(f);
          else next.set(f, value);
          return h("a", { href: `#/search?${next}`, class: active ? "facet active" : "facet", "aria-current": active ? "true" : false, text: `${value || "none"} (${bucket.count})` });
        }),
      ),
    ),
  );
}

export async function runSearch(params) {
  const pane = $("#search-pane");
  lastParams = params;
  const q = params.get("q") || "";
  if (!q) {
    clear(pane, h("h2", { text: "Search" }), h("p", { class: "muted", text: "Type in the search box: words, a reference, an email or a phone number." }));
    return;
  }
  const mine = ++seq;
  const query = new URLSearchParams(params);
  query.set("facets", "true");
  query.set("limit", "25");
  try {
    const result = await get(`/search?${query}`);
    if (mine !== seq) return;
    clear(
      pane,
      h("h2", { id: "search-title", text: `Results for “${q}”` }),
      h("p", { class: "muted", "aria-live": "polite", text: `${result.total_hits} matching case${result.total_hits === 1 ? "" : "s"}` }),
      h(
        "div",
        { class: "search-layout" },
        facetGroups(result.facets, params),
        h("ol", { class: "items hits", "aria-labelledby": "search-title" }, result.items.map(hit)),
      ),
    );
  } catch (error) {
    if (mine === seq) clear(pane, h("h2", { text: "Search" }), h("p", { class: "error", text: error.message }));
  }
}

export async function lookup(key, value) {
  try {
    const { items } = await get(`/search/lookup?${new URLSearchParams({ [key]: value })}`);
    if (items.length === 1) {
      location.hash = `#/case/${enc(items[0].case_id)}`;
    } else if (!items.length) {
      announce(`Nothing found for ${key} ${value}.`, "error");
    } else {
      location.hash = "#/search";
      clear($("#search-pane"), h("h2", { id: "search-title", text: `${items.length} cases for ${key} ${value}` }), h("ol", { class: "items hits", "aria-labelledby": "search-title" }, items.map(hit)));
    }
  } catch (error) {
    announce(error.message, "error");
  }
}

// Instant results while typing in the search box, once on the search view.
$("#search-input").addEventListener(
  "input",
  debounce(() => {
    const q = $("#search-input").value.trim();
    if (!location.hash.startsWith("#/search") || !q) return;
    const next = new URLSearchParams(lastParams);
    next.set("q", q);
    history.replaceState(null, "", `#/search?${next}`);
    runSearch(next);
  }, 200),
);
