// kulisse dashboard: the few things pages need a script for. Everything else is plain HTML
// forms, with htmx for partial updates.

// The relation picker: a chosen record's id goes into the relation's field (replacing a
// single relation's, added to a multiple one's), and focus goes back to the field.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-pick]");
  if (!button) return;
  const input = document.getElementById(button.dataset.pick);
  if (!input) return;
  const id = button.dataset.id;
  if (input.dataset.multiple === "true") {
    const ids = input.value.split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (!ids.includes(id)) ids.push(id);
    input.value = ids.join(", ");
  } else {
    input.value = id;
  }
  input.focus();
});

// Rich text: an editor field's textarea (which stays the form's value, and the way to
// edit the HTML itself) gets a formatting toolbar over an editable area. The area starts
// from the server's cleaned copy of the HTML, never from the raw text, so nothing in a
// stored value can run here.
function enhanceRichText(root) {
  for (const textarea of root.querySelectorAll("textarea[data-rich]")) {
    if (textarea.dataset.enhanced) continue;
    textarea.dataset.enhanced = "true";
    const cleaned = document.getElementById(textarea.dataset.rich);
    const area = document.createElement("div");
    area.className = "rich-area";
    area.contentEditable = "true";
    area.setAttribute("role", "textbox");
    area.setAttribute("aria-multiline", "true");
    area.setAttribute("aria-label", `${textarea.name} (formatted)`);
    area.innerHTML = cleaned ? cleaned.innerHTML : "";
    const toolbar = document.createElement("div");
    toolbar.className = "rich-toolbar";
    toolbar.setAttribute("role", "toolbar");
    toolbar.setAttribute("aria-label", `Formatting of ${textarea.name}`);
    const commands = [
      ["bold", "Bold"],
      ["italic", "Italic"],
      ["insertUnorderedList", "Bulleted list"],
      ["insertOrderedList", "Numbered list"],
      ["createLink", "Link"],
      ["removeFormat", "Clear formatting"],
    ];
    for (const [command, label] of commands) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "quiet";
      button.textContent = label;
      button.addEventListener("click", () => {
        area.focus();
        const value = command === "createLink" ? window.prompt("Link address") : null;
        if (command === "createLink" && !value) return;
        document.execCommand(command, false, value);
        textarea.value = area.innerHTML;
      });
      toolbar.append(button);
    }
    area.addEventListener("input", () => {
      textarea.value = area.innerHTML;
    });
    // Edited as HTML: the formatted area steps aside, so it can never overwrite that.
    textarea.addEventListener("input", () => {
      area.hidden = true;
      toolbar.hidden = true;
    });
    textarea.before(toolbar, area);
  }
}
document.addEventListener("DOMContentLoaded", () => enhanceRichText(document));
document.addEventListener("htmx:load", (event) => enhanceRichText(event.target));
