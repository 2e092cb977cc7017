// The open case folder's state and what every folder panel shares: the busy marker, changes sent
// with If-Match, and the reload hook (set by folder.js).
import { ApiError } from "./api.js";
import { $, announce } from "./dom.js";

export const folderState = { id: null, folder: null, etag: null, type: null };

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
export async function change(fn, success) {
  try {
    const result = await fn(folderState.etag);
    await reload();
    if (success) announce(success);
    return result;
  } catch (error) {
    if (error instanceof ApiError && error.status === 412) {
      announce("Someone changed this case meanwhile: the folder is reloaded, please try again.", "error");
      await reload();
    } else {
      const fields = error.fields && error.fields.length ? ` (${error.fields.map((f) => `${f.field}: ${f.message}`).join("; ")})` : "";
      announce(`${error.message}${fields}`, "error");
    }
    throw error;
  }
}
