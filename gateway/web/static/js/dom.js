// Tiny DOM helpers: elements are built from data, never parsed from HTML strings.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

let uid = 0;
export const nextId = (prefix = "f") => `${prefix}-${++uid}`;

// A labelled form control: <div class="field"><label for=id>text</label><control id=id></div>
export function field(label, control, hint) {
  const id = control.id || nextId("ctl");
  control.id = id;
  const parts = [h("label", { for: id, text: label }), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("p", { class: "hint", id: hintId, text: hint }));
  }
  return h("div", { class: "field" }, parts);
}

export function select(name, options, value) {
  return h(
    "select",
    { name },
    options.map(([v, text]) => h("option", { value: v, selected: v === value, text })),
  );
}

// Search highlights are HTML with <b> around the matching words: keep text and <b>, drop the rest.
export function snippet(html) {
  const doc = new DOMParser().parseFromString(`<p>${html}</p>`, "text/html");
  const out = h("span", { class: "snippet" });
  const walk = (node, into) => {
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) into.append(child.textContent);
      else if (child.nodeType === Node.ELEMENT_NODE) {
        if (child.tagName === "B" || child.tagName === "EM" || child.tagName === "MARK") {
          const mark = h("mark");
          walk(child, mark);
          into.append(mark);
        } else walk(child, into);
      }
    }
  };
  walk(doc.body, out);
  return out;
}

const TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : TIME.format(d);
}

export function timeTag(iso) {
  return iso ? h("time", { datetime: iso, text: when(iso) }) : "";
}

// "3 h 20 min left" / "overdue by 2 d 4 h"
export function timeLeft(dueIso, now = Date.now()) {
  if (!dueIso) return "";
  const ms = new Date(dueIso).getTime() - now;
  const span = duration(Math.abs(ms) / 1000);
  return ms >= 0 ? `${span} left` : `overdue by ${span}`;
}

export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const hrs = Math.floor((s % 86400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${hrs} h`;
  if (hrs) return `${hrs} h ${min} min`;
  return `${min} min`;
}

// A captioned, scrollable data table; `columns` is [[key, label], ...].
export function table(caption, columns, rows) {
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h(
      "table",
      {},
      h("caption", { text: caption }),
      h("thead", {}, h("tr", {}, columns.map(([, label]) => h("th", { scope: "col", text: label })))),
      h("tbody", {}, rows.map((r) => h("tr", {}, columns.map(([key]) => h("td", { text: format(r[key]) }))))),
    ),
  );
}

export const format = (v) => (v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));

export function announce(message, kind = "info") {
  const region = $("#toast");
  if (!region) return;
  clear(region, h("p", { class: `toast ${kind}`, text: message }));
  clearTimeout(announce.timer);
  if (kind !== "error") announce.timer = setTimeout(() => region.replaceChildren(), 8000);
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
