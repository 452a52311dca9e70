/**
 * Runs the engine for the instances: one queue entry per instance (operations on one instance are serialized and
 * repeated re-renders coalesce into one run of the latest record), different instances in parallel up to
 * `concurrency` engine runs at once. The record says what to reach (generation, removing) and how far the engine
 * got (appliedGeneration, failedGeneration, lastError), so a restarted broker resumes every unfinished instance.
 */
import { createHmac } from "crypto";
import * as fs from "fs";
import type { Logger } from "pino";
import type { Stack } from "@pulumi/pulumi/automation";
import { InstanceRecord } from "../components/broker/record";
import { BrokerSettings } from "../components/broker/settings";
import { pinnedImages } from "../components/images";
import { instanceProgram, instanceRenderDirectory, InstanceTarget } from "../components/instance-program";
import { generatePassword, InstanceCredentials, webUsername } from "../components/prometheus/web-auth";
import { InstanceEngine } from "./engine";
import { InstanceStore } from "./store";

export type InstanceState = "provisioning" | "up" | "failed" | "removing";

export interface ProvisionerOptions {
    readonly store: InstanceStore;
    readonly engine: InstanceEngine;
    readonly settings: BrokerSettings;
    readonly target: InstanceTarget;
    readonly objstoreConfig: string;
    /** Engine runs at once (each is a CLI process plus a Kubernetes provider). */
    readonly concurrency: number;
    readonly logger: Logger;
    /** How often, and how far apart, start-up tries to list the backend's stacks (default 3, 2000 ms). */
    readonly stackListRetry?: { readonly attempts: number; readonly pauseMs: number };
}

/** The lines of an engine failure that say what went wrong (the CLI's message also carries its whole output). */
export function engineErrorSummary(error: unknown): string {
    const text = error instanceof Error ? error.message : String(error);
    const lines = text.split("\n").map((line) => line.trim()).filter((line) => /error:|failed|invalid/i.test(line) && !/^\s*$/.test(line));
    const unique = [...new Set(lines.length > 0 ? lines : [text.split("\n")[0]])];
    const summary = unique.join("; ");
    return summary.length > 1000 ? `${summary.slice(0, 997)}...` : summary;
}

/** What the broker builds every instance from besides its record. */
export interface BrokerInputs {
    readonly settings: BrokerSettings;
    readonly objstoreConfig: string;
    /** The pinned images: a broker image with a new Prometheus or Thanos re-applies every instance. */
    readonly images: Record<string, string>;
}

/** The inputs as an HMAC keyed with the backend passphrase (the record is a plain file; objstore.yml may hold keys). */
export function brokerInputsChecksum(inputs: BrokerInputs, passphrase: string): string {
    const { settings, objstoreConfig, images } = inputs;
    return createHmac("sha256", passphrase).update(JSON.stringify({ settings, objstoreConfig, images })).digest("hex");
}

export class Provisioner {
    private readonly waiting: string[] = [];
    private readonly running = new Set<string>();
    /** Changed while running: run again once the current run ends. */
    private readonly dirty = new Set<string>();
    /** Resumed after a restart: a dead run may have left the stack locked. */
    private readonly resumed = new Set<string>();
    private readonly locks = new Map<string, Promise<unknown>>();
    /** Passwords already read from (or written to) the stacks: they never change while an instance lives. */
    private readonly passwords = new Map<string, string>();
    private stopped = false;
    private readonly brokerInputs: string;

    constructor(private readonly options: ProvisionerOptions) {
        this.brokerInputs = brokerInputsChecksum({ settings: options.settings, objstoreConfig: options.objstoreConfig, images: pinnedImages() }, options.engine.settings.passphrase);
    }

    get store(): InstanceStore {
        return this.options.store;
    }

    /**
     * Finds the unfinished instances (creates, changes, removals whose run did not end) and queues them; instances
     * recorded with other settings, objstore.yml or pinned images get a new generation, so they are re-applied.
     */
    async resume(): Promise<string[]> {
        const { store, engine, logger } = this.options;
        const names = store.names();
        const stacks = await this.listStacks();
        for (const orphan of (stacks ?? []).filter((name) => !names.includes(name))) {
            logger.warn({ instance: orphan }, "stack without a record in the broker's project dir: left alone (remove it with pulumi stack rm)");
        }
        const unfinished: string[] = [];
        const outdated: string[] = [];
        for (const name of names) {
            let record: InstanceRecord | undefined;
            try {
                record = store.get(name);
            } catch (error) {
                logger.error({ instance: name, err: error }, "unreadable instance record");
                continue;
            }
            if (record && needsRun(record)) {
                unfinished.push(name);
                this.resumed.add(name);
                this.schedule(name);
            }
            if (record && !record.removing && record.brokerInputs !== this.brokerInputs) outdated.push(name);
        }
        if (unfinished.length > 0) logger.info({ instances: unfinished }, "resuming instances whose last operation did not finish");
        if (outdated.length > 0) logger.info({ instances: outdated }, "re-applying instances recorded with other broker settings, objstore.yml or pinned images");
        for (const name of outdated) await this.change(name, (record) => record);
        return unfinished;
    }

    /**
     * The backend's instance stacks, for the start-up cross-check only. A broker killed mid-run leaves its engine
     * processes writing state for a moment, and `stack ls` can then fail to read a checkpoint ("error: EOF"): retried,
     * and in the end skipped with a warning rather than keeping the broker down.
     */
    private async listStacks(): Promise<string[] | undefined> {
        const { attempts, pauseMs } = this.options.stackListRetry ?? { attempts: 3, pauseMs: 2000 };
        for (let attempt = 1; ; attempt++) {
            try {
                return await this.options.engine.listInstances();
            } catch (error) {
                const reason = engineErrorSummary(error);
                if (attempt >= attempts) {
                    this.options.logger.warn({ reason, attempts }, "cannot list the backend's stacks: the check for stacks without a record is skipped");
                    return undefined;
                }
                this.options.logger.info({ reason, attempt }, "listing the backend's stacks failed; retrying");
                await new Promise((resolve) => setTimeout(resolve, pauseMs));
            }
        }
    }

    /** Serializes the CLI's writes to an instance's stack file with the broker's own. */
    async withLock<T>(name: string, action: () => Promise<T> | T): Promise<T> {
        const previous = this.locks.get(name) ?? Promise.resolve();
        const next = previous.catch(() => undefined).then(action);
        this.locks.set(name, next);
        try {
            return await next;
        } finally {
            if (this.locks.get(name) === next) this.locks.delete(name);
        }
    }

    /**
     * The instance's web credentials (its user is its name). The password is generated on first use, by a bind or
     * the first run, whichever comes first, and kept encrypted in the stack's config; the stack is created for it.
     */
    async credentials(name: string): Promise<InstanceCredentials> {
        const known = this.passwords.get(name);
        if (known !== undefined) return { username: webUsername(name), password: known };
        return this.withLock(name, async () => {
            const stack = await this.options.engine.openStack(name);
            return { username: webUsername(name), password: await this.ensurePassword(name, stack) };
        });
    }

    /** Under the instance's lock: the stored password, or a new one written to the stack's config. */
    private async ensurePassword(name: string, stack: Stack): Promise<string> {
        const { engine } = this.options;
        let password = this.passwords.get(name);
        if (password === undefined && this.store.hasPassword(name)) password = await engine.readPassword(stack);
        if (password === undefined) {
            password = generatePassword();
            await engine.writePassword(stack, password);
        }
        this.passwords.set(name, password);
        return password;
    }

    /** Changes an instance's record (a new generation) and queues a run; returns the new record. */
    async change(name: string, edit: (record: InstanceRecord) => InstanceRecord): Promise<InstanceRecord> {
        const updated = await this.withLock(name, () => {
            const current = this.store.get(name);
            if (current === undefined) throw new Error(`instance ${name} has no record`);
            const next = { ...edit(current), generation: current.generation + 1, updatedAt: new Date().toISOString(), brokerInputs: this.brokerInputs };
            this.store.put(name, next);
            return next;
        });
        this.schedule(name);
        return updated;
    }

    /** Records a new instance and queues its first run; false when it already exists. */
    async create(name: string, record: Omit<InstanceRecord, "generation" | "appliedGeneration" | "failedGeneration" | "lastError" | "removing" | "updatedAt" | "brokerInputs">): Promise<boolean> {
        const created = await this.withLock(name, () => {
            if (this.store.has(name)) return false;
            this.store.put(name, {
                ...record, generation: 1, appliedGeneration: 0, failedGeneration: 0, lastError: "", removing: false, updatedAt: new Date().toISOString(), brokerInputs: this.brokerInputs,
            });
            return true;
        });
        if (created) this.schedule(name);
        return created;
    }

    stateOf(name: string, record: InstanceRecord): InstanceState {
        if (record.removing) return "removing";
        if (this.running.has(name) || this.dirty.has(name) || this.waiting.includes(name)) return "provisioning";
        if (record.generation === record.appliedGeneration) return "up";
        if (record.generation === record.failedGeneration) return "failed";
        return "provisioning";
    }

    /** Instances queued or running. */
    get busy(): number {
        return this.running.size + this.waiting.length;
    }

    stop(): void {
        this.stopped = true;
    }

    private schedule(name: string): void {
        if (this.running.has(name)) {
            this.dirty.add(name);
        } else if (!this.waiting.includes(name)) {
            this.waiting.push(name);
        }
        this.pump();
    }

    private pump(): void {
        while (!this.stopped && this.running.size < this.options.concurrency && this.waiting.length > 0) {
            const name = this.waiting.shift()!;
            this.running.add(name);
            void this.run(name).finally(() => {
                this.running.delete(name);
                if (this.dirty.delete(name)) this.waiting.push(name);
                this.pump();
            });
        }
    }

    private async run(name: string): Promise<void> {
        const { engine, logger, settings, target, objstoreConfig } = this.options;
        let record: InstanceRecord | undefined;
        try {
            record = this.store.get(name);
        } catch (error) {
            logger.error({ instance: name, err: error }, "unreadable instance record");
            return;
        }
        if (record === undefined || !needsRun(record)) return;
        const generation = record.generation;
        const log = logger.child({ instance: name, generation });
        const engineLog = (line: string) => log.debug({ engine: line.trimEnd() });
        try {
            const resumed = this.resumed.delete(name);
            if (record.removing) {
                const result = await this.withLock(name, async () => {
                    const stack = await engine.selectStack(name);
                    if (stack !== undefined && resumed) await engine.clearStaleLock(stack);
                    const destroyed = stack === undefined ? { outputs: {}, changes: {}, durationMs: 0 } : await engine.destroy(stack, engineLog);
                    // The folder goes before the stack: `stack rm` deletes the config file that is the instance's
                    // record, and status answers 404 (removed) from then on.
                    if (target.kind === "render") fs.rmSync(instanceRenderDirectory(target, name), { recursive: true, force: true });
                    if (stack !== undefined) await engine.removeStack(stack);
                    return destroyed;
                });
                await this.withLock(name, () => this.store.delete(name));
                this.passwords.delete(name);
                log.info({ operation: "remove", durationMs: result.durationMs, changes: result.changes }, "instance removed");
                return;
            }
            const stack = await this.withLock(name, async () => {
                const opened = await engine.openStack(name);
                if (!this.store.hasPassword(name)) await this.ensurePassword(name, opened);
                return opened;
            });
            if (resumed) await engine.clearStaleLock(stack);
            const program = async () => instanceProgram({ name, settings, target, objstoreConfig });
            const result = await engine.up(stack, program, engineLog);
            const built = typeof result.outputs.generation === "number" ? result.outputs.generation : generation;
            await this.record(name, (current) => ({ ...current, appliedGeneration: Math.max(current.appliedGeneration, built), lastError: built === current.generation ? "" : current.lastError }));
            log.info({ operation: "up", durationMs: result.durationMs, changes: result.changes }, "instance up");
        } catch (error) {
            const reason = engineErrorSummary(error);
            log.error({ operation: record.removing ? "remove" : "up", reason }, "engine run failed");
            await this.record(name, (current) => ({ ...current, failedGeneration: generation, lastError: `${record!.removing ? "remove" : "provisioning"} failed: ${reason}` }));
        }
    }

    /** Writes the engine's progress into the record without bumping the generation. */
    private async record(name: string, edit: (record: InstanceRecord) => InstanceRecord): Promise<void> {
        await this.withLock(name, () => {
            const current = this.store.get(name);
            if (current !== undefined) this.store.put(name, edit(current));
        });
    }
}

/** A record whose generation is neither applied nor failed, or whose removal did not finish. */
export function needsRun(record: InstanceRecord): boolean {
    if (record.removing) return record.failedGeneration !== record.generation;
    return record.generation !== record.appliedGeneration && record.generation !== record.failedGeneration;
}
