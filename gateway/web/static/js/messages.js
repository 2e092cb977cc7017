// Messages in the folder: the conversation, and sending an email or SMS from a template.
import { caps, enc, get, missing, post } from "./api.js";
import { announce, clear, field, h, select, timeTag } from "./dom.js";
import { list } from "./queue.js";

let templateNames = null;
async function templates() {
  if (templateNames) return templateNames;
  templateNames = ["acknowledgement", "reply"]; // the templates the notifications service ships
  if (caps.has("GET", "/templates")) {
    try {
      templateNames = list(await get("/templates")).map((t) => (typeof t === "string" ? t : t.name || t.event || t.key)).filter(Boolean);
    } catch {
      /* fall back to free text */
    }
  }
  return [...new Set(templateNames)];
}

export async function messagesPanel(c, slot, reload) {
  if (!caps.has("POST", "/cases/{}/messages") && !caps.has("GET", "/cases/{}/messages")) return;
  let sent = [];
  if (caps.has("GET", "/cases/{}/messages")) {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        sent = list(await get(`/cases/${enc(c.id)}/messages`));
        break;
      } catch (error) {
        if (missing(error)) return;
        if (attempt === 2) announce(`Messages not available right now: ${error.message}`, "error");
        else await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
  const customer = (c.parties || []).find((p) => p.role === "customer") || (c.parties || [])[0];
  const channel = select("channel", [["email", "Email"], ["sms", "SMS"]], "email");
  const to = h("input", { name: "to", autocomplete: "off", value: customer && customer.emails[0] ? customer.emails[0] : "" });
  channel.addEventListener("change", () => {
    if (!customer) return;
    to.value = channel.value === "sms" ? customer.phones[0] || "" : customer.emails[0] || "";
  });
  const names = await templates();
  const mode = select("mode", [["template", "From a template"], ["free", "Write it"]], "template");
  const template = names.length
    ? select("template", names.map((n) => [n, n.replace(/_/g, " ")]), names[0])
    : h("input", { name: "template", autocomplete: "off", value: "acknowledgement" });
  const subject = h("input", { name: "subject", autocomplete: "off" });
  const body = h("textarea", { name: "body", rows: 3 });
  const templateField = field("Template", template);
  const freeFields = h("div", { hidden: true }, field("Subject", subject), field("Message", body));
  mode.addEventListener("change", () => {
    templateField.hidden = mode.value !== "template";
    freeFields.hidden = mode.value === "template";
  });
  const form = h(
    "form",
    {
      class: "message-form",
      onsubmit: async (e) => {
        e.preventDefault();
        const payload = { channel: channel.value };
        if (to.value.trim()) payload.to = to.value.trim();
        if (mode.value === "template") payload.template = template.value.trim();
        else {
          payload.body = body.value.trim();
          if (channel.value === "email") payload.subject = subject.value.trim();
        }
        const button = form.querySelector("button[type=submit]");
        button.disabled = true;
        try {
          await post(`/cases/${enc(c.id)}/messages`, payload);
          announce(`${channel.value === "sms" ? "SMS" : "Email"} to ${payload.to || "the customer"} queued for sending.`);
          await reload();
        } catch (error) {
          const fields = error.fields.map((f) => `${f.field}: ${f.message}`).join("; ");
          announce(`Not sent: ${error.message}${fields ? ` (${fields})` : ""}`, "error");
        } finally {
          button.disabled = false;
        }
      },
    },
    h("div", { class: "row" }, field("Channel", channel), field("To", to), field("Compose", mode)),
    templateField,
    freeFields,
    h("button", { type: "submit", class: "primary", text: "Send" }),
  );
  clear(
    slot,
    h(
      "section",
      { class: "panel", "aria-labelledby": "messages-title" },
      h("h3", { id: "messages-title", text: `Messages (${sent.length})` }),
      sent.length
        ? h(
            "ol",
            { class: "messages" },
            sent.map((m) =>
              h(
                "li",
                { class: `message ${m.direction || "outbound"}` },
                h("p", { class: "note-meta" }, h("strong", { text: `${(m.channel || "").toUpperCase()} ${m.direction === "inbound" ? "from" : "to"} ${m.to || m.from || m.recipient || ""}` }), " · ", timeTag(m.created_at || m.sent_at), m.state || m.status ? h("span", { class: "pill", text: m.state || m.status }) : ""),
                m.subject ? h("p", { text: m.subject }) : "",
                m.body ? h("p", { class: "note-body", text: m.body.slice(0, 600) }) : "",
              ),
            ),
          )
        : h("p", { class: "muted", text: "No messages yet." }),
      c.status === "closed" || !caps.has("POST", "/cases/{}/messages") ? "" : form,
    ),
  );
}
