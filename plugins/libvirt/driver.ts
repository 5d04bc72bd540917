/**
 * The libvirt driver of vmanager: domains are partitions of the state dir. Reads
 * come from a cached copy of the state document, re-read whenever the file
 * changes (vmanctl and the daemon share it); every change goes through the
 * partition lifecycle, under the state lock, on the state dir's backend.
 *
 * @module
 */
import { InputError, StateError, VmanError } from "../../core/errors.ts";
import type { Board, PartitionRecord, PartitionSpec } from "../../core/model.ts";
import type { ConsoleOpenOptions, ConsoleSession } from "../../core/monitor/console.ts";
import type { MonitorPlugin, PartitionStats } from "../../core/registry/plugin.ts";
import type { LibvirtArch } from "./arch.ts";
import type { LifecycleContext } from "../../core/partition/lifecycle.ts";
import { createPartition, uuidOf } from "../../core/partition/lifecycle.ts";
import { sameIdentity } from "../../core/partition/identity.ts";
import { settled } from "../../core/partition/definition.ts";
import type { StateDocument } from "../../core/state/store.ts";
import { validateName } from "../../core/partition/name.ts";
import {
  type ObservedRecord,
  type Observer,
  observeRecords,
} from "../../core/partition/observe.ts";
import { DEFAULT_POLICIES } from "../../core/model.ts";
import { parseDomainXml } from "./domain_xml.ts";
import { type PowerOptions, PowerTasks } from "./power.ts";
import { presented } from "./states.ts";
import {
  cannotAsk,
  notRunning,
  redefineDomain,
  requestDomainShutdown,
  resetDomain,
  setDomainAutostart,
  startDefinedWith,
  startDomain,
  stopDomain,
  undefineDomain,
} from "./transactions.ts";

/** How createXML makes a partition: transient, started in the same transaction. */
const TRANSIENT_START = { transient: true, start: true } as const;

/** A domain as the protocol names it. */
export interface DomainRef {
  /** Name. */
  name: string;
  /** UUID, 8-4-4-4-12. */
  uuid: string;
  /** The monitor id while running, else -1. */
  id: number;
}

/** No domain matches a lookup. */
export class NoDomainError extends InputError {}

/** The state dir's backend cannot open consoles (libvirt's NO_SUPPORT). */
export class NoConsoleError extends VmanError {}

/** What the driver needs beyond the lifecycle. */
export interface DriverOptions {
  /**
   * The monitor plugin of a backend (from the plugin registry), for its hooks
   * beyond the `Monitor` interface (`openConsole`, `stats`); undefined when none is known.
   */
  monitorPlugin?(backend: string): Promise<MonitorPlugin | undefined>;
  /** How long a guest asked to power off (shutdown, reboot) is awaited, and how often. */
  power?: PowerOptions;
  /** Log lines of the background tasks (a reboot whose start failed). */
  log?(line: string): void;
}

/** The reference of a record. */
export function refOf(record: PartitionRecord): DomainRef {
  return {
    name: record.name,
    uuid: uuidOf(record),
    id: record.state === "running" ? record.id : -1,
  };
}

/**
 * The state document, re-read when `state.json` changes (another inode, size or
 * time). Each read is kept with the file identity seen before it started, so a
 * slow read can never replace a newer one.
 */
export class StateCache {
  private entry?: { key: string; doc: Promise<StateDocument | undefined> };

  /** Caches the document of `lc.store`. */
  constructor(private readonly lc: LifecycleContext) {}

  private key(): string {
    try {
      // A stat per request: synchronous, as a thread-pool round trip costs more than the call.
      const info = Deno.statSync(this.lc.store.file);
      return `${info.ino}:${info.size}:${info.mtime?.getTime()}:${info.ctime?.getTime()}`;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return "none";
      throw error;
    }
  }

  /** The current document (undefined while the state dir has none). */
  get(): Promise<StateDocument | undefined> {
    const key = this.key();
    if (this.entry?.key !== key) {
      const doc = this.lc.store.read();
      const entry = { key, doc };
      this.entry = entry;
      doc.catch(() => {
        if (this.entry === entry) this.entry = undefined;
      });
    }
    return this.entry.doc;
  }
}

/** Domains over a state dir. */
export class Driver {
  /** The cached state. */
  readonly cache: StateCache;
  private setupBoard?: Promise<Board>;
  private observed?: { doc: StateDocument; observe?: Promise<Observer | undefined> };

  /** Runs after each change the driver makes (the daemon looks for events then). */
  onChange: () => void = () => {};
  /** Where the background tasks' lines go (the daemon's log; else `options.log`). */
  onLog: (line: string) => void = (line) => this.options.log?.(line);
  /** The shutdowns and reboots awaited in the background. */
  private readonly power: PowerTasks;

  /** Drives the partitions of `lc`'s state dir. */
  constructor(readonly lc: LifecycleContext, private readonly options: DriverOptions = {}) {
    this.cache = new StateCache(lc);
    this.power = new PowerTasks({
      lc,
      observed: () => this.observedRecords(),
      changed: () => this.onChange(),
      log: (line) => this.onLog(line),
    }, options.power);
  }

  /**
   * Every partition as libvirt clients see it: in the state its backend observes,
   * shown as its end policy will leave it (plugins/libvirt/states.ts), and a domain
   * being rebooted by the daemon shown running until it runs again.
   */
  async records(): Promise<ObservedRecord[]> {
    return this.power.overlay((await this.observedRecords()).flatMap(settledView).map(presented));
  }

  /**
   * Every partition, in the state its backend observes: a partition whose OS
   * powered off or whose emulator died is `stopped` or `crashed` (with `runtime`),
   * as `vmanctl list` shows it.
   */
  async observedRecords(): Promise<ObservedRecord[]> {
    const doc = await this.cache.get();
    if (!doc) return [];
    if (!doc.partitions.some((p) => p.state === "running")) return doc.partitions;
    // The observer depends on the document only (its backend and board): made once per document.
    if (this.observed?.doc !== doc) {
      const observed = { doc, observe: this.lc.observe?.(doc) };
      this.observed = observed;
      observed.observe?.catch(() => {
        if (this.observed === observed) this.observed = undefined;
      });
    }
    const observe = await this.observed.observe;
    return observe ? await observeRecords(doc.partitions, observe) : doc.partitions;
  }

  /** The board: the state dir's, or the one a new state dir would be set up with. */
  async board(): Promise<Board> {
    const doc = await this.cache.get();
    if (doc) return doc.board;
    return await (this.setupBoard ??= this.lc.setup().then((s) => s.board).catch((error) => {
      this.setupBoard = undefined;
      throw error;
    }));
  }

  /**
   * The arch plugin of `board` (the one {@linkcode board} gave), for libvirt's arch
   * name and word size (a `StateError` when the daemon's context cannot look arch
   * plugins up).
   */
  async arch(board: Board): Promise<LibvirtArch> {
    if (!this.lc.arch) {
      throw new StateError(`no arch plugin '${board.arch}' is known to the daemon`, board.name);
    }
    return await this.lc.arch(board);
  }

  /** The backend of the state dir (empty while it has none). */
  async backend(): Promise<string> {
    return (await this.cache.get())?.backend ?? "";
  }

  /** The partition named `name`. */
  async byName(name: string): Promise<PartitionRecord> {
    const record = (await this.records()).find((r) => r.name === name);
    if (!record) {
      throw new NoDomainError(`Domain not found: no domain with matching name '${name}'`);
    }
    return record;
  }

  /** The partition with `uuid`. */
  async byUuid(uuid: string): Promise<PartitionRecord> {
    const record = (await this.records()).find((r) => uuidOf(r) === uuid);
    if (!record) {
      throw new NoDomainError(`Domain not found: no domain with matching uuid '${uuid}'`);
    }
    return record;
  }

  /** The running partition with monitor id `id`. */
  async byId(id: number): Promise<PartitionRecord> {
    const record = (await this.records()).find((r) => r.state === "running" && r.id === id);
    if (!record) throw new NoDomainError(`Domain not found: no domain with matching id ${id}`);
    return record;
  }

  /** The partition a client's domain reference names (by UUID: the client's id may be stale). */
  async resolve(ref: DomainRef): Promise<PartitionRecord> {
    return await this.byUuid(ref.uuid);
  }

  /**
   * Opens a session on the console of `record` (running) through its backend's
   * monitor plugin, as `vmanctl console` does. Throws {@linkcode NoConsoleError}
   * when the backend has no consoles, and what the plugin's `openConsole` throws
   * (`ConsoleBusyError`, `StateError`).
   */
  async openConsole(
    record: PartitionRecord,
    options: ConsoleOpenOptions,
  ): Promise<ConsoleSession> {
    const doc = await this.cache.get();
    const backend = doc?.backend ?? "";
    const plugin = doc ? await this.options.monitorPlugin?.(backend) : undefined;
    if (!doc || !plugin?.openConsole) {
      throw new NoConsoleError(`backend ${backend || "(none)"} has no console`, record.name);
    }
    return await plugin.openConsole(
      { stateDir: this.lc.store.dir, board: doc.board },
      record.id,
      options,
    );
  }

  /**
   * What the backend measures of `record` (CPU time per core, its start), through
   * its monitor plugin's `stats` hook, as `vmanctl stats` does; undefined when the
   * partition does not run, the backend has no statistics, or it cannot be asked
   * now (a QEMU that does not answer), so a reading never fails a call.
   */
  async stats(record: ObservedRecord): Promise<PartitionStats | undefined> {
    if (record.state !== "running") return undefined;
    const doc = await this.cache.get();
    const plugin = doc ? await this.options.monitorPlugin?.(doc.backend) : undefined;
    if (!doc || !plugin?.stats) return undefined;
    try {
      return await plugin.stats(
        { stateDir: this.lc.store.dir, board: doc.board },
        record.id,
        record.allocation.cores,
      );
    } catch {
      return undefined;
    }
  }

  /**
   * Defines a partition from domain XML (libvirt's define): a new one, or — for a
   * name that exists with the same UUID or none — a new definition of it
   * (core/partition/update.ts: a running one gets it at its next start). A name or
   * UUID another domain holds is refused (core/partition/identity.ts). The state is
   * unchanged when anything is wrong.
   */
  async define(xml: string): Promise<PartitionRecord> {
    const spec = await this.specOf(xml);
    const same = sameIdentity(await this.cache.get(), spec.name, spec.uuid);
    if (!same) return await this.changed(createPartition(this.lc, spec));
    return await this.changed(redefineDomain(this.lc, uuidOf(same), spec).then((r) => r.record));
  }

  /**
   * Defines a transient partition from domain XML and starts it (libvirt's
   * createXML): it is removed once it stops, and nothing is left when its start
   * fails. A domain of that name that runs is refused (`already active`); one that
   * does not is started with this definition, its own coming back when it stops.
   */
  async createTransient(xml: string): Promise<PartitionRecord> {
    const spec = await this.specOf(xml);
    const same = sameIdentity(await this.cache.get(), spec.name, spec.uuid);
    if (!same) return await this.changed(createPartition(this.lc, spec, TRANSIENT_START));
    return await this.changed(startDefinedWith(this.lc, uuidOf(same), spec));
  }

  /** The spec of a domain XML document, its name checked and its images resolved. */
  private async specOf(xml: string): Promise<PartitionSpec> {
    const board = await this.board();
    const { spec } = await parseDomainXml(xml, board, this.lc.arch && await this.arch(board));
    validateName(spec.name);
    const { resolveImages } = await import("../../core/partition/spec.ts");
    return await resolveImages(spec);
  }

  // Each change finds the partition by its UUID and checks its state under the state lock
  // (plugins/libvirt/transactions.ts): what the client named is what is changed.

  /** Starts a partition. */
  async start(record: PartitionRecord): Promise<PartitionRecord> {
    return await this.changed(startDomain(this.lc, uuidOf(record)));
  }

  /**
   * Stops a running partition (libvirt's destroy), or one kept crashed. A reboot
   * under way is cancelled first; one cancelled while its partition was off between
   * its power-off and its start leaves it off, which is what was asked.
   */
  async stop(record: PartitionRecord): Promise<PartitionRecord> {
    const uuid = uuidOf(record);
    const cancelled = await this.power.cancel(uuid);
    try {
      return await this.changed(stopDomain(this.lc, uuid));
    } catch (error) {
      if (cancelled?.restart && isNotRunning(error)) return await this.byUuid(uuid);
      throw error;
    }
  }

  /**
   * Asks a running partition's OS to power off (libvirt's shutdown): its power
   * button is pressed and the call returns; the daemon awaits the power-off in the
   * background. A partition whose on_poweroff is `restart` is rebooted instead, as
   * libvirt's qemu driver does.
   */
  async shutdown(record: PartitionRecord): Promise<PartitionRecord> {
    const restart = (record.spec.onPoweroff ?? DEFAULT_POLICIES.onPoweroff) === "restart";
    return await this.changed(this.powerOff(record, restart));
  }

  /**
   * Reboots a running partition (libvirt's reboot): its OS is asked to power off,
   * and once it did the daemon starts it again, images loaded again. A partition
   * whose on_reboot is `destroy` or `preserve` is only shut down, as libvirt's qemu
   * driver does.
   */
  async reboot(record: PartitionRecord): Promise<PartitionRecord> {
    const restart = (record.spec.onReboot ?? DEFAULT_POLICIES.onReboot) === "restart";
    return await this.changed(this.powerOff(record, restart));
  }

  /**
   * Restarts a running (or crashed) partition hard (libvirt's reset): stopped,
   * started again; clients see it restart (shown as it was until it runs again).
   */
  async reset(record: ObservedRecord): Promise<PartitionRecord> {
    const uuid = uuidOf(record);
    await this.power.cancel(uuid);
    return await this.changed(this.power.holding(record, () => resetDomain(this.lc, uuid)));
  }

  /** Presses the power button of `record` and awaits the power-off in the background. */
  private async powerOff(record: PartitionRecord, restart: boolean): Promise<PartitionRecord> {
    if (record.state !== "running") throw notRunning();
    const backend = await this.backend();
    if (this.options.monitorPlugin) {
      const plugin = await this.options.monitorPlugin(backend);
      if (!plugin?.requestShutdown) {
        throw cannotAsk(record.name, `backend ${backend} cannot press a partition's power button`);
      }
    }
    const asked = await requestDomainShutdown(this.lc, uuidOf(record), restart);
    this.power.watch(asked, restart);
    return asked;
  }

  /** Removes a partition (libvirt's undefine); one that runs becomes transient. */
  async undefine(record: PartitionRecord): Promise<PartitionRecord> {
    const uuid = uuidOf(record);
    await this.power.cancel(uuid);
    return await this.changed(undefineDomain(this.lc, uuid));
  }

  /** Ends the background tasks (the daemon stops); a start under way completes. */
  async close(): Promise<void> {
    await this.power.close();
  }

  /** Sets autostart. */
  async autostart(record: PartitionRecord, on: boolean): Promise<PartitionRecord> {
    return await this.changed(setDomainAutostart(this.lc, uuidOf(record), on));
  }

  private async changed(work: Promise<PartitionRecord>): Promise<PartitionRecord> {
    try {
      return await work;
    } finally {
      this.onChange();
    }
  }
}

/**
 * A record as it is once its definition is settled (core/partition/definition.ts),
 * which the next change converges: a transient one that no longer runs is gone,
 * one that stopped has its next definition.
 */
function settledView(record: ObservedRecord): ObservedRecord[] {
  if (record.state === "running") return [record];
  return record.transient ? [] : [settled(record)];
}

/** True for the refusals of an operation on a domain that does not run. */
function isNotRunning(error: unknown): boolean {
  return error instanceof Error && /is not running/.test(error.message);
}
