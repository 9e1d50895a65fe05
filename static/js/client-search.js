// Search clients as you type (name, phone or email) and pick one with the mouse or the keyboard.
(function () {
  const input = document.getElementById("client-search");
  const results = document.getElementById("client-results");
  const hidden = document.getElementById("id_client");
  const chosen = document.getElementById("chosen-client");
  if (!input) return;
  let timer = null;
  let latest = 0;

  function choose(client) {
    hidden.value = client.id;
    chosen.textContent = `${client.first_name} ${client.last_name} · ${client.phone || ""} · ${client.email || ""}`;
    results.innerHTML = "";
    input.value = "";
    document.getElementById("new-client").open = false;
  }

  async function search() {
    const term = input.value.trim();
    const ticket = ++latest;
    if (term.length < 2) { results.innerHTML = ""; return; }
    const response = await fetch(`/api/v1/clients/?search=${encodeURIComponent(term)}&limit=10`,
      { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok || ticket !== latest) return;
    const body = await response.json();
    results.innerHTML = "";
    if (!body.results.length) {
      const none = document.createElement("li");
      none.textContent = "No client found. Add a new client below.";
      results.appendChild(none);
      document.getElementById("new-client").open = true;
      return;
    }
    for (const client of body.results) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.setAttribute("role", "option");
      button.textContent = `${client.first_name} ${client.last_name} · ${client.phone || ""} · ${client.email || ""}`;
      button.addEventListener("click", () => choose(client));
      item.appendChild(button);
      results.appendChild(item);
    }
  }

  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, 150); });
  // Someone quick (or a slow connection) may have typed before this script ran: search for it now.
  if (input.value.trim().length >= 2) search();
  input.addEventListener("keydown", (event) => {
    const first = results.querySelector("button");
    if (event.key === "ArrowDown" && first) { event.preventDefault(); first.focus(); }
    if (event.key === "Enter" && first) { event.preventDefault(); first.click(); }
  });
  results.addEventListener("keydown", (event) => {
    const buttons = [...results.querySelectorAll("button")];
    const index = buttons.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && index < buttons.length - 1) { event.preventDefault(); buttons[index + 1].focus(); }
    if (event.key === "ArrowUp") { event.preventDefault(); (index > 0 ? buttons[index - 1] : input).focus(); }
  });
})();
