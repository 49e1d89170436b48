// The chat page: one WebSocket to /ws on the page's own origin, JSON messages.
const $ = (id) => document.getElementById(id);
const status = (text) => ($("status").textContent = text);

let socket = null;
// The name this page joined as (names are unique in the room, so a message from it is one's own).
let me = null;
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
    if (me !== null) logEvent("you left");
    $("join-form").hidden = false;
    $("room").hidden = true;
    socket = null;
    me = null;
  });
}

function receive(message) {
  switch (message.type) {
    case "welcome":
      me = message.name;
      status(`connected as ${me}`);
      $("join-form").hidden = true;
      $("room").hidden = false;
      present = new Set(message.present);
      showPresent();
      logEvent(`you joined as ${me}`);
      $("message").focus();
      break;
    case "presence": // the whole list
      present = new Set(message.present);
      showPresent();
      break;
    case "join":
      present.add(message.name);
      showPresent();
      if (message.name !== me) logEvent(`${message.name} joined`);
      break;
    case "here": // another instance's members, answering a join: already there, so not news for the log
      for (const name of message.names) present.add(name);
      showPresent();
      break;
    case "leave":
      present.delete(message.name);
      showPresent();
      logEvent(`${message.name} left`);
      break;
    case "message":
      logMessage(message);
      break;
    case "error":
      status(message.message);
      break;
  }
}

/** Appends to the log; follows it down only if the reader was at its end (or it is one's own message). */
function append(item, follow) {
  const log = $("messages");
  const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  log.append(item);
  if (atEnd || follow) log.scrollTop = log.scrollHeight;
}

function logMessage(message) {
  const own = message.from === me;
  const item = document.createElement("li");
  item.className = own ? "message own" : "message";
  const meta = document.createElement("div");
  meta.className = "meta";
  const from = document.createElement("strong");
  from.className = "from";
  from.textContent = message.from;
  const time = document.createElement("time");
  time.dateTime = new Date(message.at).toISOString();
  time.textContent = new Date(message.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  meta.append(from, time);
  const text = document.createElement("p");
  text.className = "text";
  text.textContent = message.text;
  item.append(meta, text);
  append(item, own);
}

function logEvent(text) {
  const item = document.createElement("li");
  item.className = "event";
  item.textContent = text;
  append(item, false);
}

function showPresent() {
  const names = [...present].sort((a, b) => a.localeCompare(b));
  $("present").replaceChildren(...names.map((name) => {
    const item = document.createElement("li");
    item.textContent = name;
    if (name === me) item.className = "self";
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
