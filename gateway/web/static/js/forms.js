// Errors next to the form they belong to: a 422's problem+json errors[] ({field, message}) shown
// under the control each names, which is marked aria-invalid and described by its message;
// whatever names no control (a 409, a whole-body rule) is shown at the top of the form.
import { h, nextId } from "./dom.js";

const PATTERN = /should match pattern/i;

// controls: {"party.email": input, ...} keyed by the API's field names; friendly: a plainer
// message per field for pattern mismatches ("String should match pattern '^[a-z_]+$'").
export function formErrors(form, controls, friendly = {}) {
  const summary = h("p", { class: "error form-error", id: nextId("form-error") });
  form.prepend(summary);
  const shown = new Map(); // control -> {node, describedBy}

  function labelOf(control) {
    const label = form.querySelector(`label[for="${control.id}"]`);
    return label ? label.textContent.trim() : control.name;
  }

  function clearAll() {
    for (const [control, { node, describedBy }] of shown) {
      node.remove();
      control.removeAttribute("aria-invalid");
      if (describedBy) control.setAttribute("aria-describedby", describedBy);
      else control.removeAttribute("aria-describedby");
    }
    shown.clear();
    summary.textContent = "";
  }

  function mark(key, message) {
    const control = controls[key];
    if (shown.has(control)) {
      shown.get(control).node.append(` ${message}`);
      return;
    }
    const node = h("p", { class: "field-error", id: `${control.id}-error`, text: message });
    (control.closest(".field") || control.parentElement).append(node);
    const describedBy = control.getAttribute("aria-describedby");
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", [node.id, describedBy].filter(Boolean).join(" "));
    shown.set(control, { node, describedBy });
  }

  // "body.party.email" -> "party.email" -> "email": the longest name a control answers to
  function find(name) {
    for (let key = name; key; key = key.includes(".") ? key.slice(key.indexOf(".") + 1) : "") {
      if (controls[key] && !controls[key].closest("[hidden]")) return key;
    }
    return null;
  }

  // Show an error (an ApiError, or {fields, message}); answer what to announce.
  function show(error) {
    clearAll();
    const loose = [];
    for (const f of (error && error.fields) || []) {
      const key = find(String(f.field || ""));
      const message = key && friendly[key] && PATTERN.test(f.message || "") ? friendly[key] : f.message || "is not valid";
      if (key) mark(key, message);
      else loose.push(f.field && f.field !== "body" ? `${f.field}: ${message}` : message);
    }
    if (!shown.size && !loose.length) loose.push((error && error.message) || "Something went wrong.");
    summary.textContent = loose.join(" ");
    const first = [...shown.keys()][0];
    if (first) first.focus();
    const parts = [...shown].map(([control, { node }]) => `${labelOf(control)}: ${node.textContent}`).concat(loose);
    return shown.size
      ? `${shown.size === 1 ? "One field needs" : `${shown.size} fields need`} a change: ${parts.join("; ")}`
      : `Not saved: ${parts.join("; ")}`;
  }

  return {
    show,
    clear: clearAll,
    // an error found before asking the API (nothing typed, no such reference)
    field(key, message) {
      return show({ fields: [{ field: key, message }] });
    },
  };
}

// Submit handler that sends once at a time (a double click sends one request).
export function onSubmit(work) {
  let sending = false;
  return async (event) => {
    event.preventDefault();
    if (sending) return;
    sending = true;
    try {
      await work(event.currentTarget);
    } catch {
      /* shown next to the form and announced by change() */
    } finally {
      sending = false;
    }
  };
}
