// Where the clinic asks for it, a staff screen nobody uses signs itself out: a page left open stops
// showing clients' records to whoever walks past. A minute before, it says so; any key, click, touch,
// scroll or mouse movement keeps it, and tells the server (at most once a minute) that someone is
// here. Tabs share the last use, so working in one tab keeps the others signed in.
(function () {
  "use strict";
  const limit = Number(document.body.dataset.idleSeconds || 0) * 1000;
  const form = document.querySelector("form.signout");
  if (!limit || !form) return;
  const SHARED = "clinic-last-used";
  const warnFor = Math.min(60000, limit / 5);
  let lastUsed = Date.now();
  let lastTold = Date.now(); // the page's own request told the server
  let lastShared = 0;

  const warning = document.createElement("p");
  warning.id = "idle-warning";
  warning.className = "warning";
  warning.setAttribute("role", "alert");
  warning.hidden = true;
  warning.textContent =
    "Nobody has used this screen for a while: it signs out in a minute to keep clients' records " +
    "private. Move the mouse or press a key to stay.";
  document.querySelector("main").prepend(warning);

  function used() {
    const now = Date.now();
    lastUsed = now;
    warning.hidden = true;
    if (now - lastShared > 1000) {
      lastShared = now;
      try { localStorage.setItem(SHARED, String(now)); } catch (error) { /* private mode: this tab only */ }
    }
    if (now - lastTold > 60000) {
      lastTold = now;
      fetch(document.body.dataset.stillHereUrl).catch(() => {});
    }
  }
  for (const type of ["keydown", "pointerdown", "pointermove", "scroll", "input", "touchstart"]) {
    document.addEventListener(type, used, { capture: true, passive: true });
  }

  function lastUseAnywhere() {
    let shared = 0;
    try { shared = Number(localStorage.getItem(SHARED) || 0); } catch (error) { shared = 0; }
    return Math.max(lastUsed, shared);
  }

  const ticking = setInterval(() => {
    const idle = Date.now() - lastUseAnywhere();
    if (idle >= limit) {
      clearInterval(ticking); // once: a second sign-out would cut the first one's page short
      const next = document.createElement("input");
      next.type = "hidden";
      next.name = "next";
      next.value = form.dataset.idleNext;
      form.append(next);
      form.submit();
    } else if (idle >= limit - warnFor) {
      warning.hidden = false;
    } else {
      warning.hidden = true;
    }
  }, 1000);
})();
