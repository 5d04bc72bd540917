/**
 * Where the `qemu` backend keeps a partition's run-time files in the state dir:
 * `qemu/<id>/` holds the QEMU process's pid, its exit status, its QMP socket, the
 * monitor stub it runs, its own messages and the partition's console.
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
  /** QEMU's QMP socket. */
  qmp: string;
  /** The monitor stub QEMU loads for the stub core. */
  stub: string;
  /** QEMU's own stdout and stderr. */
  messages: string;
  /** The partition's console (its first UART). */
  console: string;
}

/** The files of partition `id` under `stateDir`. */
export function qemuFiles(stateDir: string, id: number): QemuFiles {
  const dir = `${stateDir}/qemu/${id}`;
  return {
    dir,
    pid: `${dir}/qemu.pid`,
    exit: `${dir}/qemu.exit`,
    qmp: `${dir}/qmp.sock`,
    stub: `${dir}/stub.bin`,
    messages: `${dir}/qemu.log`,
    console: `${dir}/console.log`,
  };
}

/** The board's memory file, shared by every partition's QEMU (the sim's layout). */
export function memoryFile(stateDir: string): string {
  return `${stateDir}/memory.img`;
}
