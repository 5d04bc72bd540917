/**
 * The spec options shared by `create` and `plan`, and the spec they make.
 *
 * @module
 */
import type { OptionValues } from "../args.ts";
import type { PartitionSpec } from "../../model.ts";
import { InputError } from "../../errors.ts";
import type { SpecText } from "../../partition/spec.ts";
import { readSpecFile, resolveImages, specFromText } from "../../partition/spec.ts";
import { validateName } from "../../partition/name.ts";

/** Builds a spec from a name (or the file's) and the option values. */
export async function specFromInput(
  name: string | undefined,
  options: OptionValues,
): Promise<PartitionSpec> {
  const file = options.file !== undefined ? await readSpecFile(options.file as string) : undefined;
  const str = (key: string) => options[key] as string | undefined;
  const flags: SpecText = {
    cpus: str("cpus"),
    cpuIds: str("cpu-ids"),
    memory: str("memory"),
    memoryBase: str("memory-base"),
    devices: options.device as string[] | undefined,
    kernel: str("kernel"),
    initrd: str("initrd"),
    cmdline: str("cmdline"),
    onPoweroff: str("on-poweroff"),
    onReboot: str("on-reboot"),
    onCrash: str("on-crash"),
    net: options.net as string[] | undefined,
    disks: options.disk as string[] | undefined,
  };
  const values: SpecText = { ...file?.values };
  for (const [key, value] of Object.entries(flags) as [keyof SpecText, string & string[]][]) {
    if (value !== undefined) values[key] = value;
  }
  // A count on the command line replaces ids from the file, and the other way round.
  if (flags.cpus !== undefined && flags.cpuIds === undefined) delete values.cpuIds;
  if (flags.cpuIds !== undefined && flags.cpus === undefined) delete values.cpus;
  const partitionName = name ?? file?.name;
  if (partitionName === undefined) {
    throw new InputError(
      "the partition has no name: give NAME or a 'name' field in the spec file",
      "NAME",
    );
  }
  // Checked before anything else is done with it, so a bad name changes nothing.
  validateName(partitionName);
  return await resolveImages(specFromText(partitionName, values));
}
