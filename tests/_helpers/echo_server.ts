/**
 * Starts `examples/echo.ts` — the conformance testee — under the runtime the
 * tests run in (so `deno test`, `bun test` and `node --test` each drive their
 * own engine), or uses the server at `HYBI_ECHO_PORT` when set.
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

export interface EchoServer {
  port: number;
  /** Everything the server printed. */
  output(): string;
  stop(): Promise<void>;
}

export function runtimeName(): "deno" | "bun" | "node" {
  if ("Deno" in globalThis) return "deno";
  if (process.versions.bun !== undefined) return "bun";
  return "node";
}

/** The command that runs a TypeScript file under the current runtime. */
export function runtimeCommand(file: string): string[] {
  const rt = runtimeName();
  if (rt === "deno") return [process.execPath, "run", "-A", file];
  return [process.execPath, file];
}

/**
 * The `--api` values a suite should run on: all of `apis`, or, against an
 * outside server (`HYBI_ECHO_PORT`), which answers one way only, the one
 * `HYBI_ECHO_API` names (`handlers`, the example's default, when unset).
 */
export function echoApis<T extends string>(apis: readonly T[]): T[] {
  if (!process.env.HYBI_ECHO_PORT) return [...apis];
  const api = process.env.HYBI_ECHO_API ?? "handlers";
  return apis.filter((a) => a === api);
}

/** Starts the echo with `extraArgs` after `--port 0` (e.g. `["--api", "raw"]`). */
export async function startEcho(extraArgs: string[] = []): Promise<EchoServer> {
  const fixed = process.env.HYBI_ECHO_PORT;
  if (fixed) return { port: Number(fixed), output: () => "", stop: () => Promise.resolve() };
  const file = fileURLToPath(new URL("../../examples/echo.ts", import.meta.url));
  const [cmd, ...args] = runtimeCommand(file);
  const child = spawn(cmd, [...args, "--port", "0", ...extraArgs], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`echo server did not start:\n${out}`)), 20_000);
    const onData = (chunk: Uint8Array) => {
      out += new TextDecoder().decode(chunk);
      const i = out.indexOf("listening on ");
      if (i >= 0 && out.indexOf("\n", i) > 0) {
        clearTimeout(timer);
        resolve(Number(out.slice(i + 13, out.indexOf("\n", i)).trim()));
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (c: Uint8Array) => out += new TextDecoder().decode(c));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`echo server exited with ${code}:\n${out}`));
    });
  });
  return {
    port,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
        child.once("exit", () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}
