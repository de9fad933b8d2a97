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
