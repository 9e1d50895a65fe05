// Drag a visit in the calendar to another time, or into another practitioner's column, to move it.
// The drop only asks: a dialog says from what to what, and "Move" posts the visit page's own
// reschedule form, so the server checks the move as it checks one made from the visit's page (hours,
// time off, qualification, room and device, the client's other visits) and the calendar comes back
// saying what happened. A mouse drags once it has moved a few pixels; a finger holds the visit a
// moment first, so a finger that only scrolls the calendar still scrolls it. Escape drops nothing.
(function () {
  "use strict";
  const calendar = document.querySelector(".calendar[data-step]");
  const dialog = document.getElementById("move-dialog");
  if (!calendar || !dialog || typeof dialog.showModal !== "function" || !window.Intl) return;
  const step = Number(calendar.dataset.step);
  const perMinute = Number(calendar.dataset.pixelsPerMinute);
  const zone = calendar.dataset.zone;
  const MOUSE_SLOP = 6;
  const FINGER_SLOP = 10;
  const HOLD_MS = 400;
  // times as the clinic's clock says them, wherever the browser is
  const spoken = new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23",
  });
  const typed = new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23",
  });

  function parts(format, epoch) {
    const part = {};
    for (const piece of format.formatToParts(new Date(epoch * 1000))) part[piece.type] = piece.value;
    return part;
  }
  function said(epoch) {
    const p = parts(spoken, epoch);
    return `${p.weekday} ${p.day} ${p.month} ${p.hour}:${p.minute}`;
  }
  function clockTime(epoch) {
    const p = parts(spoken, epoch);
    return `${p.hour}:${p.minute}`;
  }
  function fieldValue(epoch) {
    const p = parts(typed, epoch);
    return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
  }
  function held(element) {
    return element.dataset.held.split(" ").map(Number);
  }

  let drag = null;

  function end() {
    if (!drag) return;
    clearTimeout(drag.timer);
    drag.block.classList.remove("moving");
    document.body.classList.remove("dragging-visit");
    if (drag.ghost) drag.ghost.remove();
    drag = null;
  }

  function begin() {
    if (!drag || drag.started) return;
    drag.started = true;
    try {
      drag.block.setPointerCapture(drag.pointerId);
    } catch (error) {
      // the pointer already went: moves still reach the document
    }
    drag.block.classList.add("moving");
    document.body.classList.add("dragging-visit");
    drag.ghost = document.createElement("div");
    drag.ghost.className = "move-ghost";
    drag.ghost.setAttribute("aria-hidden", "true");
    if (drag.touch && navigator.vibrate) navigator.vibrate(15);
  }

  // Another visit in the column whose held time (with buffers) the dragged one's would overlap.
  function taken(body, start) {
    const [heldStart, heldEnd] = held(drag.block);
    const from = Number(drag.block.dataset.start);
    const mine = [start - (from - heldStart), start + (heldEnd - from)];
    return Array.from(body.querySelectorAll(".booking[data-held]")).some((other) => {
      if (other === drag.block) return false;
      const [otherStart, otherEnd] = held(other);
      return otherStart < mine[1] && mine[0] < otherEnd;
    });
  }

  function place(x, y) {
    const body = document
      .elementsFromPoint(x, y)
      .map((element) => element.closest(".column-body[data-practitioner]"))
      .find(Boolean);
    if (!body) {
      drag.ghost.remove();
      drag.target = null;
      return;
    }
    const length = Number(drag.block.dataset.end) - Number(drag.block.dataset.start);
    const rect = body.getBoundingClientRect();
    const last = Math.max(0, Math.floor(((rect.height / perMinute) * 60 - length) / step) * step);
    const seconds = ((y - drag.grab - rect.top) / perMinute) * 60;
    const offset = Math.min(last, Math.max(0, Math.round(seconds / step) * step));
    const start = Number(body.dataset.open) + offset;
    const busy = taken(body, start);
    drag.target = {
      start,
      busy,
      practitioner: body.dataset.practitioner,
      name: body.dataset.practitionerName,
    };
    drag.ghost.style.top = `${(offset / 60) * perMinute}px`;
    drag.ghost.style.height = `${Math.max(18, (length / 60) * perMinute)}px`;
    drag.ghost.classList.toggle("taken", busy);
    drag.ghost.textContent = `${clockTime(start)}–${clockTime(start + length)}${busy ? " · taken" : ""}`;
    if (drag.ghost.parentNode !== body) body.appendChild(drag.ghost);
  }

  // The click a drag ends with would open the visit: the drop asked something else.
  function swallowNextClick() {
    const stop = (event) => {
      event.preventDefault();
      event.stopPropagation();
    };
    document.addEventListener("click", stop, { capture: true, once: true });
    setTimeout(() => document.removeEventListener("click", stop, { capture: true }), 0);
  }

  function ask(block, target) {
    const form = dialog.querySelector("form");
    form.action = block.dataset.moveUrl;
    form.elements["reschedule-start"].value = fieldValue(target.start);
    form.elements["reschedule-practitioner"].value = target.practitioner;
    form.elements["reschedule-reason"].value = "";
    const from = Number(block.dataset.start);
    const line = (label, text) => {
      const row = document.createElement("span");
      row.style.display = "block";
      const strong = document.createElement("strong");
      strong.textContent = label;
      row.append(strong, ` ${text}`);
      return row;
    };
    document.getElementById("move-said").replaceChildren(
      line(block.dataset.client, `· ${block.dataset.service}`),
      line("From", `${said(from)} with ${block.dataset.practitionerName}`),
      line("To", `${said(target.start)} with ${target.name}`),
    );
    const warning = document.getElementById("move-taken");
    warning.textContent = target.busy ? `${target.name} has another visit then.` : "";
    warning.hidden = !target.busy;
    dialog.showModal();
    form.querySelector("button[type=submit]").focus();
  }

  calendar.addEventListener("pointerdown", (event) => {
    const block = event.target.closest(".booking[data-move-url]");
    if (!block || event.button !== 0 || drag || dialog.open) return;
    drag = {
      block,
      pointerId: event.pointerId,
      x: event.clientX,
      y: event.clientY,
      grab: event.clientY - block.getBoundingClientRect().top,
      touch: event.pointerType !== "mouse",
      started: false,
      target: null,
      ghost: null,
      timer: 0,
    };
    if (drag.touch) drag.timer = setTimeout(begin, HOLD_MS);
  });

  document.addEventListener("pointermove", (event) => {
    if (!drag || event.pointerId !== drag.pointerId) return;
    if (!drag.started) {
      const moved = Math.hypot(event.clientX - drag.x, event.clientY - drag.y);
      if (drag.touch) {
        if (moved > FINGER_SLOP) end(); // a finger scrolling, not holding
        return;
      }
      if (moved < MOUSE_SLOP) return;
      begin();
    }
    event.preventDefault();
    place(event.clientX, event.clientY);
  });

  document.addEventListener("pointerup", (event) => {
    if (!drag || event.pointerId !== drag.pointerId) return;
    const done = drag;
    end();
    if (!done.started) return; // a click or a tap: the link opens the visit
    swallowNextClick();
    const target = done.target;
    if (!target) return; // dropped outside the practitioners' columns
    const block = done.block;
    if (target.start === Number(block.dataset.start) && target.practitioner === block.dataset.practitioner) return;
    ask(block, target);
  });

  document.addEventListener("pointercancel", (event) => {
    if (drag && event.pointerId === drag.pointerId) end();
  });
  document.addEventListener("keydown", (event) => {
    if (drag && event.key === "Escape") {
      if (drag.started) swallowNextClick();
      end();
    }
  });
  // While a finger drags a visit the page does not scroll under it, nor offer the link's menu.
  document.addEventListener(
    "touchmove",
    (event) => {
      if (drag && drag.started) event.preventDefault();
    },
    { passive: false },
  );
  document.addEventListener("contextmenu", (event) => {
    if (drag) event.preventDefault();
  });
  // A link dragged with a mouse would start the browser's own drag of its address.
  calendar.addEventListener("dragstart", (event) => {
    if (event.target.closest && event.target.closest(".booking[data-move-url]")) event.preventDefault();
  });

  const form = dialog.querySelector("form");
  dialog.querySelector("button[value=keep]").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", () => {
    form.querySelector("button[type=submit]").disabled = true; // one move, however often it is clicked
  });
})();
