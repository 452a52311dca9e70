/**
 * The instances' records, kept where Pulumi keeps stack config: `Pulumi.instance-<name>.yaml` in the broker's
 * project directory, keys `prometheus-paas-instance:*`. There is no other store: listing instances is listing
 * the stacks' config files (cross-checked with the backend's stack list at start), and removing the stack
 * (`pulumi stack rm`) removes its record. Files are written here with plain synchronous writes (rename into
 * place), in milliseconds and without a CLI call, so a create is durable before it is answered; the CLI only
 * adds the secrets salt when the stack is initialized, under the instance's lock (see Provisioner).
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { InstanceRecord, instancePasswordKey, instanceProjectName, parseInstanceRecord } from "../components/broker/record";

export const stackPrefix = "instance-";

export function stackNameOf(instance: string): string {
    return `${stackPrefix}${instance}`;
}

interface StackFile {
    encryptionsalt?: string;
    config?: Record<string, unknown>;
    [key: string]: unknown;
}

export class InstanceStore {
    constructor(readonly workDir: string) {
        fs.mkdirSync(workDir, { recursive: true });
    }

    /** The project file every instance stack shares; an inline program needs no `main`. */
    writeProjectFile(): void {
        const file = path.join(this.workDir, "Pulumi.yaml");
        const content = `name: ${instanceProjectName}\nruntime: nodejs\ndescription: One Prometheus instance per stack, provisioned by the broker (inline program)\n`;
        if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== content) fs.writeFileSync(file, content);
    }

    private fileOf(instance: string): string {
        return path.join(this.workDir, `Pulumi.${stackNameOf(instance)}.yaml`);
    }

    private readFile(instance: string): StackFile | undefined {
        const file = this.fileOf(instance);
        if (!fs.existsSync(file)) return undefined;
        return (yaml.load(fs.readFileSync(file, "utf8")) as StackFile | null) ?? {};
    }

    /** Names of every instance with a record. */
    names(): string[] {
        const pattern = new RegExp(`^Pulumi\\.${stackPrefix}(.+)\\.yaml$`);
        return fs.readdirSync(this.workDir).flatMap((file) => pattern.exec(file)?.[1] ?? []).sort();
    }

    has(instance: string): boolean {
        return fs.existsSync(this.fileOf(instance));
    }

    /** The record, or undefined when the instance has none; throws ConfigError when the file is not a valid record. */
    get(instance: string): InstanceRecord | undefined {
        const document = this.readFile(instance);
        if (document === undefined) return undefined;
        const prefix = `${instanceProjectName}:`;
        const raw: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(document.config ?? {})) {
            if (key.startsWith(prefix)) raw[key.slice(prefix.length)] = value;
        }
        return parseInstanceRecord(raw);
    }

    /** Whether the instance's stack config holds its (encrypted) web password. */
    hasPassword(instance: string): boolean {
        return this.readFile(instance)?.config?.[`${instanceProjectName}:${instancePasswordKey}`] !== undefined;
    }

    /** Writes the record, keeping what the CLI put in the file (the secrets salt, the encrypted password). Atomic: rename into place. */
    put(instance: string, record: InstanceRecord): void {
        const document = this.readFile(instance) ?? {};
        const config: Record<string, unknown> = Object.fromEntries(
            Object.entries(document.config ?? {}).filter(([key]) => !key.startsWith(`${instanceProjectName}:`) || key === `${instanceProjectName}:${instancePasswordKey}`),
        );
        for (const [key, value] of Object.entries(record)) {
            if (value !== undefined) config[`${instanceProjectName}:${key}`] = value;
        }
        const file = this.fileOf(instance);
        const temporary = `${file}.${process.pid}.tmp`;
        const descriptor = fs.openSync(temporary, "w");
        fs.writeSync(descriptor, yaml.dump({ ...document, config }, { lineWidth: -1, noRefs: true }));
        fs.fsyncSync(descriptor);
        fs.closeSync(descriptor);
        fs.renameSync(temporary, file);
    }

    /** Forgets the record (after `pulumi stack rm`, which normally deletes the file itself). */
    delete(instance: string): void {
        fs.rmSync(this.fileOf(instance), { force: true });
    }
}
