// Supervisors: route the cases already waiting again by the rules in force. A preview (dry run)
// lists what would move; "Move them" applies it. Cases someone holds, and cases a person or an
// SLA action moved by hand, are never touched (the server decides; this only shows its answer).
import { caps, get, missing, post } from "./api.js";
import { announce, clear, h, table } from "./dom.js";
import { list } from "./queue.js";

const PATH = "/routing/rules/reapply";
const MAX_CALLS = 20; // each call examines up to 5,000 cases: 100,000 per click at most
const SHOWN = 200;

// Every page of one pass, summed: {rule_set_version, examined, unchanged, kept_manual, moved, more}
async function pass(dryRun) {
  const total = { rule_set_version: null, examined: 0, unchanged: 0, kept_manual: 0, moved: [], more: false };
  let after = null;
  for (let calls = 0; calls < MAX_CALLS; calls++) {
    const { data } = await post(PATH, after ? { dry_run: dryRun, after } : { dry_run: dryRun });
    total.rule_set_version = data.rule_set_version;
    total.examined += data.examined;
    total.unchanged += data.unchanged;
    total.kept_manual += data.kept_manual;
    total.moved.push(...list(data.moved));
    after = data.next_after;
    if (!after) return total;
  }
  return { ...total, more: true };
}

function movesTable(moves) {
  const rows = moves.slice(0, SHOWN).map((m) => ({ ...m, rule: m.rule || "default" }));
  return [
    table("Cases the rules would move", [["reference", "Case"], ["from", "From"], ["to", "To"], ["rule", "Rule"]], rows),
    moves.length > SHOWN ? h("p", { class: "muted", text: `…and ${moves.length - SHOWN} more.` }) : "",
  ];
}

function summary(r) {
  const kept = r.kept_manual ? `, ${r.kept_manual} kept where a person or an SLA action put them` : "";
  const more = r.more ? " More are waiting: run it again when this is done." : "";
  return `Examined ${r.examined} waiting case(s) routed by older rules: ${r.unchanged} stay${kept}.${more}`;
}

export async function rerouteSection(onDone) {
  if (!caps.has("POST", PATH)) return "";
  let version = null;
  if (caps.has("GET", "/routing/rules")) {
    try {
      version = (await get("/routing/rules")).version;
    } catch (error) {
      if (!missing(error)) return h("p", { class: "error", text: error.message });
    }
  }
  const out = h("div", { class: "reroute-out", "aria-live": "polite" });
  const preview = h("button", { type: "button", text: "Preview" });
  const apply = async () => {
    try {
      const done = await pass(false);
      announce(`Moved ${done.moved.length} case(s) to the queues the rules in force choose.`);
      onDone();
    } catch (error) {
      announce(error.message, "error");
    }
  };
  preview.addEventListener("click", async () => {
    clear(out, h("p", { class: "muted", text: "Looking at the waiting cases…" }));
    try {
      const r = await pass(true);
      clear(
        out,
        h("p", { text: summary(r) }),
        r.moved.length
          ? [movesTable(r.moved), h("button", { type: "button", class: "primary", text: `Move ${r.moved.length} case(s)`, onclick: apply })]
          : h("p", { class: "muted", text: "Nothing to move: every waiting case is where the rules in force would put it." }),
      );
    } catch (error) {
      clear(out, h("p", { class: "error", text: error.message }));
    }
  });
  return h(
    "section",
    { class: "panel", "aria-labelledby": "reroute-title" },
    h("h3", { id: "reroute-title", text: "Re-apply routing rules" }),
    h("p", {
      class: "muted",
      text: `Rules${version ? ` (version ${version})` : ""} apply to cases as they arrive or change. This routes the cases already waiting again; cases someone holds, or that were moved by hand, stay where they are.`,
    }),
    preview,
    out,
  );
}
