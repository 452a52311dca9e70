/**
 * Real processes for the tests and benchmarks (Prometheus, Thanos, S3 server, etcd, kube-apiserver...): started on
 * loopback with their output in a log file, waited for with bounded waits that fail early when the process dies
 * (quoting its log), and always killed: by stop(), by ProcessGroup.stopAll(), and on exit of this Node process.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

const running = new Set<ChildProcess>();

function killAllNow(): void {
    for (const child of running) killGroup(child, "SIGKILL");
}
process.on("exit", killAllNow);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
        killAllNow();
        process.exit(130);
    });
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

export interface StartOptions {
    readonly cwd?: string;
    /** Added to this process's environment (or the whole environment, with inheritEnv false). */
    readonly env?: NodeJS.ProcessEnv;
    /** false: the process gets only `env`, as a container gets only what its spec declares. Default true. */
    readonly inheritEnv?: boolean;
    /** Where the log file goes (default: a temp dir). */
    readonly logDir?: string;
}

export class ManagedProcess {
    readonly child: ChildProcess;
    readonly logFile: string;
    /** Resolves when the process has exited. */
    readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
    private exitInfo?: { code: number | null; signal: NodeJS.Signals | null };

    constructor(readonly name: string, command: string, args: readonly string[], options: StartOptions = {}) {
        const logDir = options.logDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "paas-proc-"));
        fs.mkdirSync(logDir, { recursive: true });
        this.logFile = path.join(logDir, `${name}.log`);
        const log = fs.openSync(this.logFile, "a");
        fs.writeSync(log, `$ ${command} ${args.join(" ")}\n`);
        // Own process group, so stop() also reaches anything it forks.
        this.child = spawn(command, [...args], { cwd: options.cwd, env: childEnv(options), stdio: ["ignore", log, log], detached: true });
        fs.closeSync(log);
        running.add(this.child);
        this.exited = new Promise((resolve) => {
            const done = (code: number | null, signal: NodeJS.Signals | null) => {
                running.delete(this.child);
                this.exitInfo = { code, signal };
                resolve(this.exitInfo);
            };
            this.child.once("exit", done);
            this.child.once("error", (error) => {
                fs.appendFileSync(this.logFile, `spawn failed: ${error.message}\n`);
                done(null, null);
            });
        });
    }

    get hasExited(): boolean {
        return this.exitInfo !== undefined;
    }

    /** Memory of the running process from /proc/<pid>/status; undefined once it has exited. */
    memory(): ProcessMemory | undefined {
        return this.hasExited ? undefined : readProcessMemory(this.child.pid!);
    }

    /** User + system CPU seconds the process has used so far (/proc/<pid>/stat); undefined once it has exited. */
    cpuSeconds(): number | undefined {
        return this.hasExited ? undefined : readCpuSeconds(this.child.pid!);
    }

    /** The last lines of the log, for failure messages. */
    logTail(lines = 40): string {
        const text = fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, "utf8") : "";
        return text.split("\n").slice(-lines).join("\n");
    }

    /** Signals the process and everything it started, at once (e.g. SIGKILL to simulate a crash). */
    kill(signal: NodeJS.Signals): void {
        killGroup(this.child, signal);
    }

    /** Sends `signal`, then SIGKILL after `graceMs`; resolves with the exit code (null when killed). */
    async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<number | null> {
        if (!this.hasExited) {
            killGroup(this.child, signal);
            const timer = setTimeout(() => killGroup(this.child, "SIGKILL"), graceMs);
            await this.exited;
            clearTimeout(timer);
        }
        return (await this.exited).code;
    }
}

function childEnv(options: StartOptions): NodeJS.ProcessEnv {
    return options.inheritEnv === false ? { ...options.env } : { ...process.env, ...options.env };
}

/** Every process below `pid`, read from /proc (before signalling: an orphan's parent link is lost). */
function descendants(pid: number): number[] {
    const children = new Map<number, number[]>();
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
        } catch {
            // gone meanwhile
        }
    }
    const found: number[] = [];
    for (let queue = [pid]; queue.length > 0;) {
        const next = children.get(queue.shift()!) ?? [];
        found.push(...next);
        queue.push(...next);
    }
    return found;
}

/**
 * Signals the child's process group and every descendant: some tools start helpers in groups of their own (the
 * Pulumi CLI its plugins), which a group signal alone would leave running.
 */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
    if (child.pid === undefined) return;
    const tree = descendants(child.pid);
    for (const target of [-child.pid, ...tree]) {
        try {
            process.kill(target, signal);
        } catch {
            // already gone
        }
    }
}

/** Resident memory in bytes; VmHWM is the kernel's own peak of VmRSS since the process started. */
export interface ProcessMemory {
    readonly rss: number;
    readonly peakRss: number;
    readonly anon: number;
    readonly file: number;
    /** tmpfs/shared pages mapped by the process (e.g. Prometheus' mmapped head chunks on a tmpfs). */
    readonly shmem: number;
}

function readProcessMemory(pid: number): ProcessMemory | undefined {
    let status: string;
    try {
        status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    } catch {
        return undefined; // exited between the check and the read
    }
    const kib = (field: string) => {
        const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
        if (match === null) throw new Error(`/proc/${pid}/status has no ${field} line`);
        return Number(match[1]) * 1024;
    };
    return { rss: kib("VmRSS"), peakRss: kib("VmHWM"), anon: kib("RssAnon"), file: kib("RssFile"), shmem: kib("RssShmem") };
}

const clockTicksPerSecond = 100; // USER_HZ: 100 on every Linux architecture Node supports

function readCpuSeconds(pid: number): number | undefined {
    let stat: string;
    try {
        stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
        return undefined;
    }
    // Fields after the parenthesised command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

/** Starts a process (see ManagedProcess); it is killed at the latest when this Node process exits. */
export function startProcess(name: string, command: string, args: readonly string[], options?: StartOptions): ManagedProcess {
    return new ManagedProcess(name, command, args, options);
}

export interface RunOptions extends Omit<StartOptions, "logDir"> {
    readonly timeoutMs: number;
}

/** How a command run to its end went: exit code (null when killed), signal, output, and whether it ran out of time. */
export interface CommandResult {
    readonly code: number | null;
    readonly signal: NodeJS.Signals | null;
    readonly stdout: string;
    readonly stderr: string;
    readonly timedOut: boolean;
    readonly seconds: number;
}

/** Runs a command to its end, killed (with everything it started) when it outlives `timeoutMs`; never throws on its exit. */
export function runCommand(command: string, args: readonly string[], options: RunOptions): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
        const started = Date.now();
        const child = spawn(command, [...args], { cwd: options.cwd, env: childEnv(options), stdio: ["ignore", "pipe", "pipe"], detached: true });
        running.add(child);
        let stdout = "";
        let stderr = "";
        child.stdout!.on("data", (chunk) => (stdout += chunk));
        child.stderr!.on("data", (chunk) => (stderr += chunk));
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            killGroup(child, "SIGKILL");
        }, options.timeoutMs);
        child.once("error", (error) => {
            clearTimeout(timer);
            running.delete(child);
            reject(new Error(`cannot run ${command}: ${error.message}`));
        });
        child.once("close", (code, signal) => {
            clearTimeout(timer);
            running.delete(child);
            resolve({ code, signal, stdout, stderr, timedOut, seconds: (Date.now() - started) / 1000 });
        });
    });
}

/**
 * Runs a command to its end (a one-shot tool, an init container) and returns its output; throws naming it,
 * with its exit code and the end of its output, when it fails or outlives `timeoutMs` (then it is killed).
 */
export async function runToCompletion(name: string, command: string, args: readonly string[], options: RunOptions): Promise<{ stdout: string; stderr: string }> {
    const result = await runCommand(command, args, options).catch((error: Error) => {
        throw new Error(`${name}: ${error.message}`);
    });
    const tail = () => `${result.stdout}${result.stderr}`.split("\n").slice(-40).join("\n");
    if (result.timedOut) throw new Error(`${name} did not finish within ${options.timeoutMs} ms; its output:\n${tail()}`);
    if (result.code !== 0) throw new Error(`${name} failed (code ${result.code}, signal ${result.signal}): ${command} ${args.join(" ")}\n${tail()}`);
    return { stdout: result.stdout, stderr: result.stderr };
}

export interface WaitOptions {
    readonly timeoutMs: number;
    readonly intervalMs?: number;
    /** Fail at once, quoting its log, when this process exits while waiting. */
    readonly process?: ManagedProcess;
}

/** Polls `probe` until it returns a value (not undefined); throws naming `what` after the timeout. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, options: WaitOptions): Promise<T> {
    const deadline = Date.now() + options.timeoutMs;
    let lastError = "";
    for (;;) {
        if (options.process?.hasExited) {
            const { code, signal } = await options.process.exited;
            throw new Error(`${options.process.name} exited (code ${code}, signal ${signal}) while waiting for ${what}; its log:\n${options.process.logTail()}`);
        }
        try {
            const value = await probe();
            if (value !== undefined) return value;
        } catch (error) {
            lastError = error instanceof Error ? error.message : String(error);
        }
        if (Date.now() > deadline) {
            const log = options.process ? `\n${options.process.name}'s log:\n${options.process.logTail()}` : "";
            throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ""}${log}`);
        }
        await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200));
    }
}

/** Waits until GET `url` answers with a status below 400 (or `status`). */
export function waitForHttp(url: string, options: WaitOptions & { readonly status?: number }): Promise<Response> {
    return waitFor(`${url} to answer`, async () => {
        const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        const ok = options.status !== undefined ? response.status === options.status : response.status < 400;
        return ok ? response : undefined;
    }, options);
}

/** Processes started for one suite, stopped together (in reverse order) in its `after`. */
export class ProcessGroup {
    private readonly processes: ManagedProcess[] = [];

    constructor(readonly logDir: string = fs.mkdtempSync(path.join(os.tmpdir(), "paas-procs-"))) {}

    start(name: string, command: string, args: readonly string[], options: Omit<StartOptions, "logDir"> = {}): ManagedProcess {
        const started = startProcess(name, command, args, { ...options, logDir: this.logDir });
        this.processes.push(started);
        return started;
    }

    async stopAll(): Promise<void> {
        for (const started of [...this.processes].reverse()) await started.stop();
        this.processes.length = 0;
    }
}
