// A page whose work a worker is doing (a file of visits being booked) asks every few seconds whether it
// is done, and shows the result when it is. Without JavaScript, its "Check now" link does the same.
(function () {
  "use strict";
  const waiting = document.getElementById("wait-until-done");
  if (!waiting || !window.fetch) return;
  const every = Math.max(1, Number(waiting.dataset.every || 5)) * 1000;

  async function check() {
    let state;
    try {
      // a poll, not someone's use: a sign-out after a while without use still comes
      const answer = await fetch(waiting.dataset.url, {
        headers: { Accept: "application/json", "X-Clinic-Poll": "1" },
      });
      if (!answer.ok) return;
      state = (await answer.json()).status;
    } catch (error) {
      return; // the network was away for a moment: the next check tries again
    }
    if (state !== waiting.dataset.status) window.location.reload();
  }

  setInterval(check, every);
})();
