/**
 * `npm run pipeline -- <command> [stacks...] [options]`: the command-line wiring of the pipeline (commander),
 * its I/O and process exit code. The logic lives in pipeline.ts, the report in summary.ts.
 */
import * as fs from "fs";
import * as path from "path";
import * as readline from "readline";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { inlineStackSource } from "./engine";
import { confirmationProblem, defaultSleep, requestProblems, runPipeline, StackSource } from "./pipeline";
import { AwsCliConfigRollout, ConfigRollout } from "./rollout";
import { exitCodes, mutatingOperations, Operation, operations, renderJson, renderTable } from "./summary";

/** Where the project (Pulumi.yaml) lives when --cwd is not given: the parent of automation/. */
export const projectRoot = path.resolve(__dirname, "..");

export interface Invocation {
    readonly operation: Operation;
    readonly stacks: string[];
    readonly policyPacks: string[];
    readonly yes: boolean;
    /** File for the JSON summary; "-" is stdout. */
    readonly json?: string;
    readonly create: boolean;
    readonly cwd: string;
    readonly lockTimeoutSeconds: number;
    readonly keepGoing: boolean;
}

export interface CliIo {
    readonly stdout: (text: string) => void;
    readonly stderr: (text: string) => void;
    readonly stdinIsTTY: boolean;
    readonly confirm: (question: string) => Promise<boolean>;
}

export interface CliDeps {
    readonly io: CliIo;
    readonly source: StackSource;
    readonly signal?: AbortSignal;
    readonly now?: () => number;
    readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
    readonly random?: () => number;
    /** Runs the ECS config-update tasks after an `up` (default: the stack's own run-task commands through the AWS CLI). */
    readonly rollout?: ConfigRollout;
}

const descriptions: Record<Operation, string> = {
    preview: "show what an update would change (runs the policy packs)",
    up: "apply the program to each stack (runs the policy packs; needs --yes without a terminal)",
    refresh: "reconcile each stack's state with the real resources (needs --yes without a terminal)",
    destroy: "delete every resource of each stack (needs --yes without a terminal)",
    outputs: "print each stack's outputs (secrets masked)",
};

const exitCodeHelp = `
Exit codes:
  0  every stack succeeded and no mandatory policy was violated
  1  any other failure: engine error, mandatory policy violation, stack locked past --lock-timeout,
     missing stack or pulumi CLI, refused without --yes, bad arguments
  2  every failed stack failed on its configuration (prometheus-paas:<key> problems listed)

Examples:
  npm run pipeline -- preview dev prod --policy-pack policy
  npm run pipeline -- up --stack dev --stack prod --policy-pack policy --yes --json summary.json
  npm run pipeline -- preview --stack local --create --json -`;

function collect(value: string, previous: string[] | undefined): string[] {
    return [...(previous ?? []), value];
}

function parseSeconds(value: string): number {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a whole number of seconds (0 or more).");
    return Number(value);
}

interface CommandOptions {
    stack?: string[];
    policyPack?: string[];
    yes?: boolean;
    json?: string;
    create?: boolean;
    cwd?: string;
    lockTimeout: number;
    keepGoing?: boolean;
}

/** The commander program; `onInvocation` receives each parsed command. */
export function buildProgram(io: Pick<CliIo, "stdout" | "stderr">, onInvocation: (invocation: Invocation) => void): Command {
    const program = new Command()
        .name("pipeline")
        .description("Preview, apply and report prometheus-paas stacks through the Pulumi Automation API.")
        .exitOverride()
        .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
        .showHelpAfterError("(add --help for usage)")
        .addHelpText("after", exitCodeHelp);
    for (const operation of operations) {
        const command = program
            .command(operation)
            .description(descriptions[operation])
            .argument("[stacks...]", "stacks to run, in order (same as --stack)")
            .option("-s, --stack <name>", "stack to run; repeat for several (run in the given order)", collect)
            .option("--cwd <dir>", "project directory (with Pulumi.yaml)", projectRoot)
            .option("--create", "create a missing stack (createOrSelectStack) instead of failing")
            .addOption(
                new Option("--lock-timeout <seconds>", "keep retrying a stack locked by another update this long, with backoff")
                    .default(120)
                    .argParser(parseSeconds),
            )
            .option("--json <file>", "also write the summary as JSON to <file> ('-' = stdout; human output then goes to stderr)");
        if (operation !== "outputs") {
            command.option("--keep-going", "after a failed stack, still run the next ones (up/refresh/destroy stop by default)");
        }
        if (operation === "preview" || operation === "up") {
            command.option("--policy-pack <dir>", "run this CrossGuard policy pack (its dependencies installed); repeatable", collect);
        }
        command.option(
            "-y, --yes",
            mutatingOperations.includes(operation)
                ? "do not ask for confirmation (required when stdin is not a terminal, e.g. CI)"
                : "accepted for symmetry with up/refresh/destroy; nothing to confirm",
        );
        command.action((positional: string[], options: CommandOptions) => {
            onInvocation({
                operation,
                stacks: [...new Set([...(options.stack ?? []), ...positional])],
                policyPacks: (options.policyPack ?? []).map((dir) => path.resolve(dir)),
                yes: Boolean(options.yes),
                json: options.json,
                create: Boolean(options.create),
                cwd: path.resolve(options.cwd ?? projectRoot),
                lockTimeoutSeconds: options.lockTimeout,
                keepGoing: Boolean(options.keepGoing),
            });
        });
    }
    return program;
}

/** Parses argv (without node and script). Returns the invocation, or the exit code for --help and usage errors. */
export async function parseArgs(
    args: readonly string[],
    io: Pick<CliIo, "stdout" | "stderr">,
): Promise<{ invocation: Invocation; exitCode?: undefined } | { invocation?: undefined; exitCode: number }> {
    let invocation: Invocation | undefined;
    const program = buildProgram(io, (parsed) => (invocation = parsed));
    try {
        await program.parseAsync([...args], { from: "user" });
    } catch (err) {
        if (err instanceof CommanderError) {
            const helpOrVersion = ["commander.helpDisplayed", "commander.help", "commander.version"].includes(err.code);
            return { exitCode: helpOrVersion && err.exitCode === 0 ? exitCodes.ok : exitCodes.failure };
        }
        throw err;
    }
    if (!invocation) return { exitCode: exitCodes.failure };
    return { invocation };
}

export async function main(args: readonly string[], deps: CliDeps): Promise<number> {
    const { io } = deps;
    const parsed = await parseArgs(args, io);
    if (parsed.invocation === undefined) return parsed.exitCode;
    const invocation = parsed.invocation;
    // With `--json -` stdout carries only the JSON document.
    const human = invocation.json === "-" ? io.stderr : io.stdout;

    const problems = requestProblems(invocation);
    if (problems.length > 0) {
        for (const problem of problems) io.stderr(`pipeline: error: ${problem}\n`);
        return exitCodes.failure;
    }
    const refusal = confirmationProblem(invocation.operation, invocation.stacks, invocation.yes, io.stdinIsTTY);
    if (refusal) {
        io.stderr(`pipeline: ${refusal}\n`);
        return exitCodes.failure;
    }
    if (mutatingOperations.includes(invocation.operation) && !invocation.yes) {
        const question = `Run '${invocation.operation}' on ${invocation.stacks.join(", ")} (project ${invocation.cwd})? [y/N] `;
        if (!(await io.confirm(question))) {
            io.stderr("pipeline: not confirmed; nothing was changed.\n");
            return exitCodes.failure;
        }
    }

    const summary = await runPipeline(
        {
            operation: invocation.operation,
            stacks: invocation.stacks,
            workDir: invocation.cwd,
            policyPacks: invocation.policyPacks,
            create: invocation.create,
            lockTimeoutSeconds: invocation.lockTimeoutSeconds,
            keepGoing: invocation.keepGoing,
            signal: deps.signal,
        },
        {
            source: deps.source,
            log: human,
            now: deps.now ?? (() => Date.now()),
            sleep: deps.sleep ?? defaultSleep,
            random: deps.random ?? Math.random,
            rollout: deps.rollout ?? new AwsCliConfigRollout(),
        },
    );
    human("\n" + renderTable(summary));
    if (invocation.json === "-") {
        io.stdout(renderJson(summary));
    } else if (invocation.json) {
        const file = path.resolve(invocation.json);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, renderJson(summary));
        human(`summary written to ${file}\n`);
    }
    return summary.exitCode;
}

function terminalConfirm(question: string): Promise<boolean> {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    return new Promise((resolve) => {
        rl.question(question, (answer) => {
            rl.close();
            resolve(/^y(es)?$/i.test(answer.trim()));
        });
    });
}

if (require.main === module) {
    const controller = new AbortController();
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
        signals++;
        if (signals > 1) process.exit(130);
        process.stderr.write(`\npipeline: ${signal}: cancelling the running operation (again to exit at once)\n`);
        controller.abort();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    main(process.argv.slice(2), {
        io: {
            stdout: (text) => process.stdout.write(text),
            stderr: (text) => process.stderr.write(text),
            stdinIsTTY: Boolean(process.stdin.isTTY),
            confirm: terminalConfirm,
        },
        source: inlineStackSource(),
        signal: controller.signal,
    }).then(
        (code) => {
            process.exitCode = code;
        },
        (err: unknown) => {
            process.stderr.write(`pipeline: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
            process.exitCode = exitCodes.failure;
        },
    );
}
