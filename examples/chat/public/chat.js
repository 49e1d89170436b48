// The chat page: one WebSocket to /ws on the page's own origin, JSON messages.
const $ = (id) => document.getElementById(id);
const status = (text) => ($("status").textContent = text);

let socket = null;
// Who is present, in every instance of the chat: from the welcome, then join, leave and here.
let present = new Set();

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
      present = new Set(message.present);
      showPresent();
      $("message").focus();
      break;
    case "presence": // the whole list
      present = new Set(message.present);
      showPresent();
      break;
    case "join":
      present.add(message.name);
      showPresent();
      break;
    case "here":
      for (const name of message.names) present.add(name);
      showPresent();
      break;
    case "leave":
      present.delete(message.name);
      showPresent();
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

function showPresent() {
  const names = [...present].sort((a, b) => a.localeCompare(b));
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
