// The day's list and the calendar keep themselves up to date: every little while they ask whether their visits changed
// (a client checked themselves in, booked or cancelled online, signed a form). If so, it reloads when
// nobody is using the page; while someone is typing or has just clicked, it says so and waits for them.
(function () {
  "use strict";
  const live = document.getElementById("day-live");
  if (!live || !window.fetch) return;
  const every = Math.max(1, Number(live.dataset.every || 30)) * 1000;
  const quietFor = Math.min(15000, every);
  let lastUsed = Date.now();
  for (const type of ["keydown", "pointerdown", "input", "scroll"]) {
    document.addEventListener(type, () => { lastUsed = Date.now(); }, { capture: true, passive: true });
  }

  function changedByHand(field) {
    if (field.type === "hidden" || field.type === "submit" || field.type === "button") return false;
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") {
      const first = Array.from(field.options).findIndex((option) => option.defaultSelected);
      return field.selectedIndex !== (first === -1 ? 0 : first);
    }
    return field.value !== field.defaultValue;
  }

  function inUse() {
    const focused = document.activeElement;
    return (
      Date.now() - lastUsed < quietFor ||
      document.querySelector("dialog[open]") || // asked whether to move a visit
      document.body.classList.contains("dragging-visit") ||
      (focused && focused.matches("input, textarea, select")) ||
      Array.from(document.querySelectorAll("input, textarea, select")).some(changedByHand)
    );
  }

  async function check() {
    if (document.visibilityState !== "visible") return;
    let version;
    try {
      // a poll, not someone's use: a sign-out after a while without use still comes
      const answer = await fetch(live.dataset.url, {
        headers: { Accept: "application/json", "X-Clinic-Poll": "1" },
      });
      if (!answer.ok) return; // signed out, say: the next page asks to sign in
      version = (await answer.json()).version;
    } catch (error) {
      return; // the network was away for a moment: the next check tries again
    }
    if (version === live.dataset.version) return;
    if (inUse()) {
      const banner = document.getElementById("day-changed");
      const shown = new URL(window.location.href);
      shown.searchParams.delete("auto"); // someone's click: their use
      banner.querySelector("a").href = shown.toString();
      banner.hidden = false;
    } else {
      const again = new URL(window.location.href);
      again.searchParams.set("auto", "1"); // reloaded by itself: not someone's use
      window.location.replace(again.toString());
    }
  }

  setInterval(check, every);
  document.addEventListener("visibilitychange", check);
})();
