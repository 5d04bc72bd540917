/**
 * `dtb NAME [-o FILE] [--dts]`: a partition's device tree.
 *
 * @module
 */
import type { CommandSpec } from "../args.ts";
import type { CliContext } from "../context.ts";
import { InputError, VmanError } from "../../errors.ts";

/** `dtb NAME [-o FILE] [--dts]` */
export const dtbCommand: CommandSpec<CliContext> = {
  name: "dtb",
  summary: "Write a partition's device tree (DTB) to a file, or print it as DTS.",
  args: [{ name: "NAME", required: true, complete: "partition" }],
  options: [
    {
      name: "output",
      short: "o",
      value: "FILE",
      help: "write the DTB (or with --dts, the DTS) to FILE",
    },
    { name: "dts", help: "DTS text instead of a DTB" },
  ],
  async run(ctx, input) {
    const store = await ctx.store();
    const { getPartition } = await import("../../state/lookup.ts");
    const { record, board } = await getPartition(store, input.args.NAME!);
    const { BOARD_DTB } = await import("../../state/store.ts");
    const boardDtb = store.readFile(BOARD_DTB);
    if (!boardDtb) {
      throw new InputError(`board ${board.name} of this state dir has no device tree`, store.dir);
    }
    const { buildPartitionDevicetree, codecOf } = await import("../../devicetree/build.ts");
    // With a kernel, the DTB is the one start writes: with the initrd's planned place
    // (and every arch plugin, to name a kernel of another architecture as such).
    const kernel = record.spec.kernel !== undefined;
    const registry = await ctx.registry(
      kernel ? { kinds: ["arch", "feature"] } : { kinds: ["feature"], arch: board.arch },
    );
    let blob: Uint8Array;
    if (kernel) {
      const { prepareBoot } = await import("../../boot/prepare.ts");
      blob = (await prepareBoot(registry, board, boardDtb, record)).dtb;
    } else blob = buildPartitionDevicetree(registry, board, boardDtb, record).blob;
    const output = input.options.output as string | undefined;
    const write = async (data: Uint8Array) => {
      try {
        await Deno.writeFile(output!, data);
      } catch (error) {
        throw new VmanError(`cannot write the device tree: ${(error as Error).message}`, output);
      }
    };
    if (input.options.dts) {
      const codec = codecOf(registry);
      const text = codec.dts(codec.read(blob));
      if (output) await write(new TextEncoder().encode(text));
      else if (ctx.globals.json) ctx.json({ name: record.name, dts: text });
      else ctx.io.out(text.trimEnd());
    } else if (output) {
      await write(blob);
    } else {
      throw new InputError("a DTB is binary: give -o FILE, or --dts to print DTS", "vmanctl dtb");
    }
    if (output && ctx.globals.json) {
      ctx.json({ name: record.name, file: output, size: blob.length });
    } else if (output) {
      ctx.io.out(`Wrote the device tree of ${record.name} to ${output} (${blob.length} bytes)`);
    }
    return 0;
  },
};
