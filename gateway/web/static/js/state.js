// The open case folder's state and what every folder panel shares: the busy marker, changes sent
// with If-Match, and the reload hook (set by folder.js).
import { ApiError, current } from "./api.js";
import { $, announce } from "./dom.js";

export const folderState = { id: null, folder: null, etag: null, type: null };

// What the console has learnt on the way: display names of users (from queue overviews) and the
// references of cases (opened, looked up or linked), to show a name or reference, not a bare id.
export const people = new Map();
export const references = new Map();
export function nameOf(userId) {
  if (!userId) return "";
  if (people.get(userId)) return people.get(userId);
  const me = current();
  return me && me.user === userId && me.name ? me.name : userId;
}

let reloader = () => Promise.resolve();
export const setReloader = (fn) => (reloader = fn);
export const reload = () => reloader();

// The folder pane says aria-busy while any load, retry or panel of the folder is still coming,
// so a user (or a test) waits for it to stop changing before the next click.
let pending = 0;
export function busy(work) {
  pending += 1;
  $("#folder-pane").setAttribute("aria-busy", "true");
  return Promise.resolve(work).finally(() => {
    pending -= 1;
    if (pending === 0) $("#folder-pane").removeAttribute("aria-busy");
  });
}

export const stageName = (key) => ((folderState.type.stages || []).find((s) => s.key === key) || {}).name || key;

// Run a change to the case with If-Match; on 412 reload and say so; always reload after.
// ``onError(error)`` (a form's field errors, see forms.js) may show the error next to the form
// and answer the message to announce instead of the default one.
export async function change(fn, success, { onError } = {}) {
  try {
    const result = await fn(folderState.etag);
    await reload();
    if (success) announce(success);
    return result;
  } catch (error) {
    const shown = !(error instanceof ApiError && error.status === 412) && onError ? onError(error) : null;
    if (error instanceof ApiError && error.status === 412) {
      announce("Someone changed this case meanwhile: the folder is reloaded, please try again.", "error");
      await reload();
    } else if (shown) {
      announce(shown, "error");
    } else {
      const fields = error.fields && error.fields.length ? ` (${error.fields.map((f) => `${f.field}: ${f.message}`).join("; ")})` : "";
      announce(`${error.message}${fields}`, "error");
    }
    throw error;
  }
}
