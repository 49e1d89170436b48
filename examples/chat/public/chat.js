// The chat page: one WebSocket to /ws on the page's own origin, JSON messages.
const $ = (id) => document.getElementById(id);
const status = (text) => ($("status").textContent = text);

let socket = null;

function connect(name) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${location.host}/ws`);
  status("connecting…");
  socket.addEventListener("open", () => {
    status("connected");
    socket.send(JSON.stringify({ type: "join", name }));
  });
  socket.addEventListener("message", (event) => receive(JSON.parse(event.data)));
  socket.addEventListener("close", (event) => {
    status(`disconnected (${event.code}${event.reason ? ": " + event.reason : ""})`);
    $("join-form").hidden = false;
    $("room").hidden = true;
    socket = null;
  });
}

function receive(message) {
  switch (message.type) {
    case "welcome":
      status(`connected as ${message.name}`);
      $("join-form").hidden = true;
      $("room").hidden = false;
      showPresent(message.present);
      $("message").focus();
      break;
    case "presence":
      showPresent(message.present);
      break;
    case "message": {
      const item = document.createElement("li");
      const from = document.createElement("strong");
      from.textContent = message.from;
      const time = document.createElement("time");
      time.dateTime = new Date(message.at).toISOString();
      time.textContent = new Date(message.at).toLocaleTimeString();
      item.append(time, " ", from, ": ", message.text);
      $("messages").append(item);
      item.scrollIntoView({ block: "end" });
      break;
    }
    case "error":
      status(message.message);
      break;
  }
}

function showPresent(names) {
  $("present").replaceChildren(...names.map((name) => {
    const item = document.createElement("li");
    item.textContent = name;
    return item;
  }));
}

$("join-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("name").value.trim();
  if (name === "") return;
  if (socket === null) connect(name);
  else socket.send(JSON.stringify({ type: "join", name }));
});

$("say-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("message").value.trim();
  if (text === "" || socket === null) return;
  socket.send(JSON.stringify({ type: "say", text }));
  $("message").value = "";
});
