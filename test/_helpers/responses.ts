// Reading what a raw connection received, for the drain tests (keepalive-drain, attach-runtimes).
import type { RawConnection } from "./raw-http.ts";

/** Reads responses until the connection closes; returns them (a close mid-response ends the list). */
export async function readAll(conn: RawConnection): Promise<Awaited<ReturnType<RawConnection["response"]>>[]> {
  const out = [];
  for (;;) {
    try {
      out.push(await conn.response());
    } catch {
      return out;
    }
  }
}
