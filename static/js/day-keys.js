// Keyboard shortcuts for pages that step through days (the day's list, the calendar):
// ← and → go to the previous and next day (or week), T to today. A link opts in with data-key.
// Keys typed into a field, or pressed with Ctrl, Alt or Meta, are left alone.
(function () {
  "use strict";
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.altKey || event.metaKey || event.defaultPrevented) return;
    const target = event.target;
    if (target.closest("input, select, textarea, [contenteditable]")) return;
    if (document.querySelector("dialog[open]")) return; // a question on screen (moving a visit) keeps the day
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const link = document.querySelector(`a[data-key="${key}"]`);
    if (!link) return;
    event.preventDefault();
    link.click();
  });
})();

// "Print this day": the browser's print, which the print stylesheet turns into a day sheet.
(function () {
  "use strict";
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-print]")) window.print();
  });
})();
