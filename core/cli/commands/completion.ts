/**
 * `completion bash`: a bash completion script generated from the command table,
 * completing commands, options, partition names (through `vmanctl list --name`),
 * board names and files.
 *
 * @module
 */
import type { CommandSpec, OptionSpec } from "../args.ts";
import type { CliContext } from "../context.ts";
import { InputError } from "../../errors.ts";

/**
 * Makes the `completion` command for a command table and global options. The
 * table is asked for when the script is made: it holds the plugins' commands too.
 *
 * @example
 * ```ts
 * import { completionCommand } from "./completion.ts";
 * import { GLOBAL_OPTIONS } from "../app.ts";
 * const completion = completionCommand(() => Promise.resolve(commands), GLOBAL_OPTIONS);
 * ```
 */
export function completionCommand(
  commands: (ctx: CliContext) => Promise<readonly CommandSpec<CliContext>[]>,
  globals: readonly OptionSpec[],
): CommandSpec<CliContext> {
  return {
    name: "completion",
    summary: 'Print a shell completion script: eval "$(vmanctl completion bash)".',
    args: [{ name: "SHELL", required: true }],
    options: [],
    async run(ctx, input) {
      if (input.args.SHELL !== "bash") {
        throw new InputError(
          `no completion for shell '${input.args.SHELL}' (supported: bash)`,
          "SHELL",
        );
      }
      ctx.io.out(bashScript(await commands(ctx), globals));
      return 0;
    },
  };
}

function flags(options: readonly OptionSpec[]): string {
  return options.flatMap((o) => [`--${o.name}`, ...(o.short ? [`-${o.short}`] : [])]).join(" ");
}

function bashScript(
  commands: readonly CommandSpec<CliContext>[],
  globals: readonly OptionSpec[],
): string {
  const valued = [...globals, ...commands.flatMap((c) => c.options)].filter((o) => o.value);
  const fileOptions = [
    ...new Set(
      valued.filter((o) => o.name !== "board" && /FILE|SPEC|DIR/.test(o.value!)).map((o) =>
        `--${o.name}`
      ),
    ),
  ];
  const valueOptions = [
    ...new Set(valued.flatMap((o) => [`--${o.name}`, ...(o.short ? [`-${o.short}`] : [])])),
  ];
  const firstWords = [...new Set(commands.map((c) => c.name.split(" ")[0]))].join(" ");
  const cases = commands.map((c) => {
    const completes = c.args[0]?.complete ?? "";
    return `    "${c.name}") opts="${flags(c.options)}"; arg="${completes}" ;;`;
  }).join("\n");
  const subs = [
    ...new Set(commands.filter((c) => c.name.includes(" ")).map((c) => c.name.split(" ")[0])),
  ]
    .map((group) =>
      `    ${group}) words_for_sub="${
        commands.filter((c) => c.name.startsWith(group + " ")).map((c) => c.name.split(" ")[1])
          .join(" ")
      }" ;;`
    ).join("\n");
  return `# bash completion for vmanctl
_vmanctl() {
  local cur prev cmd="" sub="" i w words_for_sub="" opts="" arg=""
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
    ${fileOptions.join("|") || "--none"}) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
    --board) COMPREPLY=( $(compgen -W "$(vmanctl board list --json 2>/dev/null | sed -n 's/.*"name": "\\(.*\\)".*/\\1/p')" -f -- "$cur") ); return ;;
    --backend) COMPREPLY=( $(compgen -W "$(vmanctl plugins 2>/dev/null | awk '$1=="monitor"{print $2}')" -- "$cur") ); return ;;
  esac
  for ((i=1; i<COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in
      ${valueOptions.join("|")}) ((i++)); continue ;;
      -*) continue ;;
    esac
    if [[ -z "$cmd" ]]; then cmd="$w"; elif [[ -z "$sub" ]]; then sub="$w"; fi
  done
  case "$cmd" in
${subs}
  esac
  if [[ -z "$cmd" ]]; then
    COMPREPLY=( $(compgen -W "${firstWords} ${flags(globals)}" -- "$cur") ); return
  fi
  if [[ -n "$words_for_sub" && -z "$sub" ]]; then
    COMPREPLY=( $(compgen -W "$words_for_sub" -- "$cur") ); return
  fi
  local full="$cmd"; [[ -n "$words_for_sub" ]] && full="$cmd $sub"
  case "$full" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts ${flags(globals)}" -- "$cur") ); return
  fi
  case "$arg" in
    partition) COMPREPLY=( $(compgen -W "$(vmanctl list --name 2>/dev/null)" -- "$cur") ) ;;
    board) COMPREPLY=( $(compgen -W "$(vmanctl board list --json 2>/dev/null | sed -n 's/.*"name": "\\(.*\\)".*/\\1/p')" -- "$cur") ) ;;
    file) COMPREPLY=( $(compgen -f -- "$cur") ) ;;
  esac
}
complete -F _vmanctl vmanctl`;
}
