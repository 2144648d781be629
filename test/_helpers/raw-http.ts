// A minimal HTTP/1.1 client over node:net (available on Node, Deno and Bun alike). Tests that care
// about `Connection` headers, socket closes and truncated bodies need to see the bytes, which
// fetch() and pooled agents hide.
import net from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body ended where its framing said it would (content-length reached / last chunk seen). */
  complete: boolean;
}

export type CloseKind = "end" | "reset";

export class RawConnection {
  readonly socket: net.Socket;
  #buffer = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  #ended = false;
  /** How the socket closed: a clean FIN ("end") or an error such as ECONNRESET ("reset"). */
  readonly closed: Promise<CloseKind>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    let kind: CloseKind = "end";
    this.closed = new Promise((resolve) => {
      socket.on("error", () => (kind = "reset"));
      socket.on("close", () => resolve(kind));
    });
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
  }

  /** Connects; rejects with the socket error (e.g. ECONNREFUSED). */
  static open(port: number, host = "127.0.0.1"): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RawConnection(socket));
      });
      socket.once("error", reject);
    });
  }

  /** Writes a request; `headers` are added after Host. */
  send(path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): void {
    const method = options.method ?? "GET";
    let head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
    for (const [k, v] of Object.entries(options.headers ?? {})) head += `${k}: ${v}\r\n`;
    if (options.body !== undefined) head += `Content-Length: ${Buffer.byteLength(options.body)}\r\n`;
    this.socket.write(head + "\r\n" + (options.body ?? ""));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #more(): Promise<boolean> {
    if (this.#ended) return Promise.resolve(false);
    return new Promise((resolve) => this.#waiters.push(() => resolve(true)));
  }

  /** Reads the next response. Rejects if the socket closes before a status line arrives. */
  async response(options: { head?: boolean } = {}): Promise<RawResponse> {
    let headEnd: number;
    while ((headEnd = this.#buffer.indexOf("\r\n\r\n")) < 0) {
      if (!(await this.#more())) throw new Error(`connection closed before a response (${this.#buffer.length} bytes)`);
    }
    const lines = this.#buffer.subarray(0, headEnd).toString("latin1").split("\r\n");
    const status = Number(lines[0]!.split(" ")[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(":");
      const name = line.slice(0, i).trim().toLowerCase();
      const value = line.slice(i + 1).trim();
      headers[name] = name in headers ? `${headers[name]}\n${value}` : value;
    }
    this.#buffer = this.#buffer.subarray(headEnd + 4);
    if (options.head || status === 204 || status === 304) return { status, headers, body: "", complete: true };

    if (headers["content-length"] !== undefined) {
      const length = Number(headers["content-length"]);
      while (this.#buffer.length < length) if (!(await this.#more())) break;
      const body = this.#buffer.subarray(0, length).toString();
      const complete = this.#buffer.length >= length;
      this.#buffer = this.#buffer.subarray(Math.min(length, this.#buffer.length));
      return { status, headers, body, complete };
    }
    if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
      let body = "";
      for (;;) {
        let lineEnd: number;
        while ((lineEnd = this.#buffer.indexOf("\r\n")) < 0) {
          if (!(await this.#more())) return { status, headers, body, complete: false };
        }
        const size = parseInt(this.#buffer.subarray(0, lineEnd).toString(), 16);
        while (this.#buffer.length < lineEnd + 2 + size + 2) {
          if (!(await this.#more())) return { status, headers, body, complete: false };
        }
        body += this.#buffer.subarray(lineEnd + 2, lineEnd + 2 + size).toString();
        this.#buffer = this.#buffer.subarray(lineEnd + 2 + size + 2);
        if (size === 0) return { status, headers, body, complete: true };
      }
    }
    // Delimited by close.
    while (await this.#more());
    const body = this.#buffer.toString();
    this.#buffer = Buffer.alloc(0);
    return { status, headers, body, complete: true };
  }

  /** Bytes received so far that no response() call has consumed. */
  get pending(): string {
    return this.#buffer.toString();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One request on a fresh connection that is closed afterwards. */
export async function request(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; head?: boolean } = {},
): Promise<RawResponse & { closed: Promise<CloseKind> }> {
  const connection = await RawConnection.open(port);
  connection.send(path, options);
  try {
    const response = await connection.response({ head: options.head ?? options.method === "HEAD" });
    return { ...response, closed: connection.closed };
  } finally {
    connection.close();
  }
}

/** Resolves with the error code when connecting is refused (or "connected" when it is not). */
export function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}
