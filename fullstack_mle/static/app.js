// Marquee viewer: a click on a tile sends a click event in the event schema to /api/events.
// The event is built from the impression the server logged for that tile; the server validates
// it with the same strict schema data_mle's ingest applies.
function hexId(bytes) {
  const b = new Uint8Array(bytes);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function clickFrom(impression) {
  const shown = Date.parse(impression.event_time);
  return Object.assign({}, impression, {
    event_id: hexId(12),
    event_type: "click",
    event_time: new Date(shown + 3000).toISOString(),
    impression_id: impression.event_id,
  });
}

async function sendClick(button) {
  const impression = JSON.parse(button.dataset.impression);
  const message = document.getElementById("feedback-message");
  const response = await fetch("/api/events", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ events: [clickFrom(impression)] }),
  });
  const body = await response.json();
  if (!response.ok) {
    message.textContent = "not recorded: " + JSON.stringify(body.detail);
    message.className = "error";
    return;
  }
  button.classList.add("clicked");
  button.disabled = true;
  message.textContent = "recorded a click on " + impression.item_id + " (" + impression.surface +
    ", position " + impression.position + ") for " + body.day;
  message.className = "ok";
  const counts = await (await fetch("/api/feedback")).json();
  document.getElementById("feedback-events").textContent = counts.events;
  document.getElementById("feedback-clicks").textContent = counts.by_type.click || 0;
}

document.querySelectorAll("button.item").forEach((button) =>
  button.addEventListener("click", () => sendClick(button)));
