/**
 * The options that describe a partition, shared by `create` and `plan`.
 *
 * @module
 */
import type { OptionSpec } from "../args.ts";

/** Options describing a partition. */
export const specOptions: OptionSpec[] = [
  {
    name: "file",
    short: "f",
    value: "SPEC.yaml",
    help: "read the spec from a YAML file (options override it)",
  },
  { name: "cpus", value: "N", help: "number of cores, picked by the allocator" },
  { name: "cpu-ids", value: "LIST", help: "exact core ids, e.g. 2,3 or 2-3" },
  { name: "memory", value: "SIZE", help: "memory size, e.g. 512M, 1G (default 256M)" },
  { name: "memory-base", value: "ADDR", help: "memory window base, e.g. 0x60000000" },
  {
    name: "device",
    value: "NAME",
    repeat: true,
    help: "give a board device (default: the board's defaults)",
  },
  { name: "kernel", value: "FILE", help: "kernel image" },
  { name: "initrd", value: "FILE", help: "initial ramdisk" },
  { name: "cmdline", value: "TEXT", help: "kernel command line" },
  {
    name: "net",
    value: "NET",
    repeat: true,
    help: "a network interface on a virtio slot: user[,forward=tcp:HOSTPORT:GUESTPORT]… " +
      "or network=NAME (qemu backend), each with [,device=SLOT]",
  },
  {
    name: "disk",
    value: "FILE[,ro]",
    repeat: true,
    help: "a raw disk image on a virtio slot (qemu backend), [,device=SLOT]",
  },
  {
    name: "on-poweroff",
    value: "POLICY",
    help: "when its OS powers off: destroy (default), restart or preserve",
  },
  {
    name: "on-reboot",
    value: "POLICY",
    help: "when its OS reboots: restart (default), destroy or preserve",
  },
  {
    name: "on-crash",
    value: "POLICY",
    help: "when it crashes or panics: destroy (default), restart or preserve",
  },
];
