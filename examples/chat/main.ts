/**
 * Starts the chat room (`npm start` on Deno, `npm run start:bun`,
 * `npm run start:node`):
 *
 *     deno run -A examples/chat/main.ts [--port 8080] [--hostname 127.0.0.1]
 *
 * then open http://127.0.0.1:8080/ in two browser windows.
 *
 * With `REDIS_URL` in the environment, instances form one chat through that
 * Redis (rooms on topics, carried by the Redis backplane):
 *
 *     REDIS_URL=redis://127.0.0.1:6379 npm start -- --port 8081
 *     REDIS_URL=redis://127.0.0.1:6379 npm start -- --port 8082
 *
 * @module
 */
import process from "node:process";
import { option, runtime } from "../runtime.ts";
import { startChat } from "./chat_server.ts";

const hostname = option("hostname", "127.0.0.1");
const redisUrl = process.env.REDIS_URL || undefined;
const server = await startChat({ port: Number(option("port", "8080")), hostname, redisUrl });
const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
console.log(`chat room on http://${shown}:${server.port}/ (${runtime})`);
if (redisUrl !== undefined) {
  const shownUrl = new URL(redisUrl);
  if (shownUrl.password !== "") shownUrl.password = "***";
  console.log(`shared through Redis at ${shownUrl}: one chat with the other instances on it`);
}

let stopping = false;
const stop = async () => {
  if (stopping) process.exit(130);
  stopping = true;
  await server.shutdown({ timeout: 3000 });
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
