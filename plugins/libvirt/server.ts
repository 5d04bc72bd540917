/**
 * The libvirt daemon: the remote protocol on a read-write and a read-only UNIX
 * socket (plugins/libvirt/connection.ts serves each client), and lifecycle
 * events from every change it sees in the partitions. Nothing a client sends can
 * stop the daemon.
 *
 * @module
 */
import type { Driver } from "./driver.ts";
import type { Snapshot } from "./events.ts";
import { diff, settled, snapshotOf } from "./events.ts";
import type { CallContext, Session } from "./procedures.ts";
import {
  Budget,
  Connection,
  type ConnectionHost,
  HANDSHAKE_MS,
  MAX_BUFFERED,
  MAX_READ_ONLY_BUFFERED,
  type SocketLimits,
} from "./connection.ts";
import { bind } from "./socket.ts";
import { CallCollector } from "./call_gc.ts";

export { DaemonError } from "./socket.ts";
export { errorOf } from "./errors.ts";

/** Options of the daemon. */
export interface ServerOptions {
  /** The domains. */
  driver: Driver;
  /** Read-write socket path (mode 0600). */
  socket: string;
  /** Read-only socket path (mode 0666, as libvirt's), or undefined for none. */
  roSocket?: string;
  /** vmanager's version. */
  version: string;
  /** The host UUID of capabilities. */
  hostUuid: string;
  /** Log lines (errors, refused connections). */
  log?: (line: string) => void;
  /** How often `state.json` is checked for changes made by others, in ms (default 200). */
  pollMs?: number;
  /** Most connections on the read-write socket at once (default 512). */
  maxClients?: number;
  /** Most connections on the read-only socket at once (default 256). */
  maxReadOnlyClients?: number;
  /** Time a new connection has to complete its first call, in ms (default 10 000). */
  handshakeMs?: number;
}

/** Default most connections on the read-write socket. */
export const MAX_CLIENTS = 512;
/** Default most connections on the read-only socket (libvirt's `max_anonymous_clients`). */
export const MAX_READ_ONLY_CLIENTS = 256;

/** The connections of one socket and what they share. */
interface Pool extends SocketLimits {
  /** Most connections at once. */
  max: number;
  /** The open ones. */
  connections: Set<Connection>;
}

/** Pause after a failed accept before the next one, in ms. */
const ACCEPT_BACKOFF_MS = 100;

/** The daemon's default read-write socket. */
export const DEFAULT_SOCKET = "/run/vmanager/libvirt-sock";
/** The daemon's default read-only socket. */
export const DEFAULT_RO_SOCKET = "/run/vmanager/libvirt-sock-ro";

/** The daemon. */
export class LibvirtServer implements ConnectionHost {
  private readonly listeners: { listener: Deno.Listener; path: string }[] = [];
  private readonly connections = new Set<Connection>();
  private readonly pools = new Map<Connection, Pool>();
  private count = 0;
  private callbackIds = 0;
  private last?: Snapshot;
  private refreshing: Promise<void> = Promise.resolve();
  private pendingRefresh = false;
  private timer?: ReturnType<typeof setInterval>;
  private readonly done: Promise<void>[] = [];
  private stopping = false;
  private readonly collector = new CallCollector();

  /** Makes the daemon (call {@linkcode listen}). */
  constructor(private readonly options: ServerOptions) {}

  /** Writes a log line. */
  log(line: string): void {
    this.options.log?.(line);
  }

  /** The context of a call on `session`. */
  context(session: Session): CallContext {
    this.collector.note();
    return {
      driver: this.options.driver,
      session,
      hostUuid: this.options.hostUuid,
      version: this.options.version,
      nextCallbackId: () => ++this.callbackIds,
    };
  }

  /** Number of open connections. */
  get clients(): number {
    return this.connections.size;
  }

  /** Binds the sockets, starts watching the state and accepting clients. */
  async listen(): Promise<void> {
    this.last = snapshotOf(await this.options.driver.records());
    this.options.driver.onChange = () => void this.refresh();
    this.options.driver.onLog = (line) => this.log(line);
    const sockets: [string, boolean, number][] = [[this.options.socket, false, 0o600]];
    if (this.options.roSocket) sockets.push([this.options.roSocket, true, 0o666]);
    try {
      for (const [path, readOnly, mode] of sockets) {
        const listener = await bind(path, mode);
        this.listeners.push({ listener, path });
        this.done.push(this.accept(listener, readOnly));
      }
    } catch (error) {
      await this.close();
      throw error;
    }
    this.timer = setInterval(() => {
      void this.refresh();
      this.collector.tick();
    }, this.options.pollMs ?? 200);
  }

  /**
   * Accepts clients until the daemon stops. A failed accept (EMFILE when the
   * daemon runs out of file descriptors, ENOMEM, …) is logged once per run of
   * failures and retried after a short pause: it never stops the listener.
   */
  private async accept(listener: Deno.Listener, readOnly: boolean): Promise<void> {
    const which = readOnly ? "read-only" : "read-write";
    // Each socket has its own connections and bytes: the read-only one (mode 0666) cannot
    // take what the read-write one needs.
    const pool: Pool = {
      max: readOnly
        ? this.options.maxReadOnlyClients ?? MAX_READ_ONLY_CLIENTS
        : this.options.maxClients ?? MAX_CLIENTS,
      budget: new Budget(readOnly ? MAX_READ_ONLY_BUFFERED : MAX_BUFFERED),
      handshakeMs: this.options.handshakeMs ?? HANDSHAKE_MS,
      connections: new Set(),
    };
    let failures = 0;
    while (!this.stopping) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.stopping || error instanceof Deno.errors.BadResource) return;
        if (failures++ === 0) {
          this.log(`accept on the ${which} socket: ${(error as Error).message}; retrying`);
        }
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_BACKOFF_MS));
        continue;
      }
      if (failures > 0) {
        this.log(`accepting on the ${which} socket again (after ${failures} failed accepts)`);
        failures = 0;
      }
      if (this.stopping) {
        conn.close();
        return;
      }
      if (pool.connections.size >= pool.max) {
        this.log(
          `refusing a client on the ${which} socket: ${pool.connections.size} connections are open`,
        );
        conn.close();
        continue;
      }
      const connection = new Connection(this, conn, readOnly, ++this.count, pool);
      this.connections.add(connection);
      pool.connections.add(connection);
      this.pools.set(connection, pool);
      connection.serve().catch((error) => this.log(`client: ${(error as Error).message}`));
    }
  }

  /** Forgets a closed connection. */
  forget(connection: Connection): void {
    this.connections.delete(connection);
    this.pools.get(connection)?.connections.delete(connection);
    this.pools.delete(connection);
  }

  /** Looks at the state now and sends the events of what changed (in order, one look at a time). */
  refresh(): Promise<void> {
    if (this.pendingRefresh) return this.refreshing;
    this.pendingRefresh = true;
    this.refreshing = this.refreshing.then(async () => {
      this.pendingRefresh = false;
      const last = this.last ?? new Map();
      const now = settled(last, snapshotOf(await this.options.driver.records()));
      const events = diff(last, now);
      this.last = now;
      for (const event of events) for (const c of this.connections) c.event(event);
    }).catch((error) => this.log(`watching the state: ${(error as Error).message}`));
    return this.refreshing;
  }

  /** Stops listening, closes every connection and removes the sockets. */
  async close(): Promise<void> {
    this.stopping = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const { listener, path } of this.listeners) {
      try {
        listener.close();
      } catch {
        // already closed
      }
      await Deno.remove(path).catch(() => {});
    }
    // A change being made (a start, a define) completes: it is never cut off halfway.
    const open = [...this.connections];
    for (const c of open) c.close();
    await Promise.all(open.map((c) => c.drained()));
    await Promise.all(this.done);
    // Shutdowns and reboots awaited in the background end (a start under way completes);
    // an intent left behind is dropped by the next command, as its process is gone.
    await this.options.driver.close();
    await this.refreshing;
  }
}
