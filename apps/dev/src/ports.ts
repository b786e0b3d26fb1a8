import type { AddressInfo } from "node:net";
import { createServer } from "node:net";

/**
 * `preferred` when nothing listens on it (on 127.0.0.1), otherwise a free port the kernel picks.
 * A Mosquitto already on 1883 or a second dev stack must not stop `bun run dev` from starting.
 * `0` means "any free port".
 */
export async function pickPort(preferred: number): Promise<{ port: number; preferredTaken: boolean }> {
  if (preferred !== 0 && (await canListen(preferred))) return { port: preferred, preferredTaken: false };
  return { port: await freePort(), preferredTaken: preferred !== 0 };
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A port that was free a moment ago (tests use it to start `bun run dev` on free ports). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
