/**
 * What a benchmark run records about the machine and the tools beside its
 * figures, shared by the drivers (`load.ts`, `client_load.ts`) and their
 * reports: the pinned binaries, their versions, the load before and after.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, realpathSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const modules = resolve(root, "node_modules");

/** The pinned binary `name` (node, deno, bun) by absolute path, so that a spawned PID is the runtime itself. */
export function bin(name: string): string {
  return realpathSync(resolve(modules, ".bin", name));
}

/** The first line `command args` prints (a version), or a note that it failed. */
export function firstLine(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: "utf8" });
  return (r.stdout ?? "").split("\n")[0].trim() || `(${command} ${args.join(" ")} failed)`;
}

/** The installed version of the npm package `name`, or `not installed`. */
export function packageVersion(name: string): string {
  try {
    return JSON.parse(readFileSync(resolve(modules, name, "package.json"), "utf8")).version;
  } catch {
    return "not installed";
  }
}

/** `YYYYMMDD-HHMMSS` in local time, for a run's folder name. */
export function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${
    p(d.getSeconds())
  }`;
}

/** `loadavg a b c, cpu pressure some avg60=x%`, as wsbench's run.sh prints it. */
export function systemLoad(): string {
  let text = "";
  try {
    text = `loadavg ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`;
    const psi = readFileSync("/proc/pressure/cpu", "utf8").split("\n")[0];
    const at = psi.indexOf("avg60=");
    if (at >= 0) text += `, cpu pressure some avg60=${psi.slice(at + 6).split(" ")[0]}%`;
  } catch {
    // Not Linux, or no PSI: what was read so far is all there is.
  }
  return text || "unknown";
}

/** The 1-minute load average in a {@linkcode systemLoad} text. */
export function loadavgOf(load: string): number {
  return Number(load.split("loadavg ")[1]?.split(" ")[0]);
}

/**
 * Whether other work ran when the benchmark started: 1-minute load above 1.5 or CPU pressure above 10 %. (At the end
 * the benchmark's own server and client make a load of about 2, so only a load above 3 says anything there.)
 */
export function busyAtStart(load: string): boolean {
  return loadavgOf(load) > 1.5 || Number(load.split("avg60=")[1]?.split("%")[0]) > 10;
}
