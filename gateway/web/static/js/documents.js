// Documents in the folder: drag-and-drop upload with progress, inline preview of PDFs and images.
import { blobUrl, enc, upload } from "./api.js";
import { announce, clear, field, h, select, timeTag } from "./dom.js";

const KINDS = ["other", "scanned_post", "email", "web_form", "photo", "fax", "call_record", "third_party", "video", "sms"];
let previewUrl = null;

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1048576) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

async function preview(doc, into) {
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = null;
  clear(into, h("p", { class: "muted", text: `Loading ${doc.filename}…` }));
  try {
    const type = doc.media_type || "";
    previewUrl = await blobUrl(`/documents/${enc(doc.id)}/content`, type || "*/*");
    let view;
    if (type.startsWith("image/")) view = h("img", { src: previewUrl, alt: `Preview of ${doc.filename}`, class: "preview-img" });
    else if (type === "application/pdf") view = h("iframe", { src: previewUrl, title: `Preview of ${doc.filename}`, class: "preview-pdf" });
    else if (type.startsWith("text/")) {
      const text = await (await fetch(previewUrl)).text();
      view = h("pre", { class: "preview-text", tabindex: "0", "aria-label": `Text of ${doc.filename}`, text: text.slice(0, 20000) });
    } else view = h("p", { class: "muted", text: "No inline preview for this type: download it instead." });
    const download = h("a", { href: previewUrl, download: doc.filename, text: `Download ${doc.filename}` });
    const close = h("button", { type: "button", text: "Close preview", onclick: () => clear(into) });
    clear(into, h("div", { class: "preview", role: "region", "aria-label": `Preview: ${doc.filename}` }, h("div", { class: "actions" }, download, close), view));
  } catch (error) {
    clear(into, h("p", { class: "error", text: `Could not open ${doc.filename}: ${error.message}` }));
  }
}

export function documentsPanel(c, reload) {
  const docs = c.documents || [];
  const previewArea = h("div", { class: "preview-area" });
  const progress = h("progress", { max: 1, value: 0, hidden: true, "aria-label": "Upload progress" });
  const status = h("p", { class: "muted upload-status", "aria-live": "polite" });
  const kind = select("kind", KINDS.map((k) => [k, k.replace(/_/g, " ")]), "other");
  const input = h("input", { type: "file", name: "file", multiple: true, class: "file-input" });

  async function send(files) {
    for (const file of files) {
      progress.hidden = false;
      progress.value = 0;
      status.textContent = `Uploading ${file.name}…`;
      try {
        await upload(`/cases/${enc(c.id)}/documents?${new URLSearchParams({ filename: file.name, kind: kind.value })}`, file, (p) => {
          progress.value = p;
          status.textContent = `Uploading ${file.name}: ${Math.round(p * 100)} %`;
        });
        status.textContent = `Uploaded ${file.name}.`;
        announce(`Uploaded ${file.name}.`);
      } catch (error) {
        status.textContent = `Could not upload ${file.name}: ${error.message}`;
        announce(status.textContent, "error");
      }
    }
    progress.hidden = true;
    await reload();
  }

  input.addEventListener("change", () => input.files.length && send([...input.files]));
  const zone = h(
    "div",
    { class: "dropzone" },
    h("p", { text: "Drop files here, or choose them:" }),
    field("Files to upload", input),
    field("Kind", kind),
    progress,
    status,
  );
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    if (e.dataTransfer.files.length) send([...e.dataTransfer.files]);
  });

  return h(
    "section",
    { class: "panel", "aria-labelledby": "docs-title" },
    h("h3", { id: "docs-title", text: `Documents (${docs.length})` }),
    c.documents === null ? h("p", { class: "warning", text: "Documents are not available right now." }) : "",
    docs.length
      ? h(
          "ul",
          { class: "docs" },
          docs.map((d) =>
            h(
              "li",
              {},
              h("button", { type: "button", class: "link", text: d.filename, "aria-label": `Preview ${d.filename}`, onclick: () => preview(d, previewArea) }),
              h("span", { class: "muted", text: ` ${d.kind.replace(/_/g, " ")} · ${d.media_type} · ${size(d.size)} · ` }),
              timeTag(d.created_at),
            ),
          ),
        )
      : h("p", { class: "muted", text: "No documents yet." }),
    previewArea,
    c.status === "closed" ? "" : zone,
  );
}
