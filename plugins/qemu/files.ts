/**
 * Where the `qemu` backend keeps a partition's run-time files in the state dir:
 * `qemu/<id>/` holds the QEMU process's pid, its exit status, its QMP socket, the
 * monitor stub it runs, its own messages, the partition's console (QEMU's serial
 * socket, the console broker's socket and the capture).
 *
 * @module
 */
/** The run-time files of one partition's QEMU process. */
export interface QemuFiles {
  /** The directory, `<state-dir>/qemu/<id>`. */
  dir: string;
  /** QEMU's `-pidfile`. */
  pid: string;
  /** Written by the supervising shell when QEMU exits: its exit status. */
  exit: string;
  /** Locked (flock) by the supervising shell and QEMU while either runs. */
  runLock: string;
  /** QEMU's QMP socket. */
  qmp: string;
  /** The monitor stub QEMU loads for the stub core. */
  stub: string;
  /** QEMU's own stdout and stderr. */
  messages: string;
  /** The capture of the partition's console (its first UART), rotated into `console.log.1`. */
  console: string;
  /** QEMU's serial character device: a UNIX socket QEMU listens on, the broker's only client. */
  serial: string;
  /** The console broker's socket, where vmanager's console sessions connect. */
  consoleSocket: string;
  /** The console broker's own messages (and the end hook's). */
  brokerMessages: string;
  /** QEMU's second QMP socket, where the broker hears how the guest ends. */
  events: string;
  /** What ended the partition, as the broker saw it (`ending.ts`). */
  ended: string;
}

/** The files of partition `id` under `stateDir`. */
export function qemuFiles(stateDir: string, id: number): QemuFiles {
  const dir = `${stateDir}/qemu/${id}`;
  return {
    dir,
    pid: `${dir}/qemu.pid`,
    exit: `${dir}/qemu.exit`,
    runLock: `${dir}/run.lock`,
    qmp: `${dir}/qmp.sock`,
    stub: `${dir}/stub.bin`,
    messages: `${dir}/qemu.log`,
    console: `${dir}/console.log`,
    serial: `${dir}/serial.sock`,
    consoleSocket: `${dir}/console.sock`,
    brokerMessages: `${dir}/broker.log`,
    events: `${dir}/events.sock`,
    ended: `${dir}/ended.json`,
  };
}

/** The board's memory file, shared by every partition's QEMU (the sim's layout). */
export function memoryFile(stateDir: string): string {
  return `${stateDir}/memory.img`;
}
