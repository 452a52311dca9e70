/**
 * One Tsuru service instance's record, kept as its own stack's config (the Pulumi backend is the broker's
 * database), and the instance it describes.
 */
import type { Output } from "@pulumi/pulumi";
import { z } from "zod";
import { ConfigError, formatPath } from "../config/errors";
import { resolveInstances } from "../config/instances";
import { strictObject } from "../config/primitives";
import { decodeConfigValue, projectConfig, secretConfig } from "../config/read";
import { instanceSchema, jobSchema, kubernetesAppSchema } from "../config/schema";
import type { KubernetesInstanceConfig } from "../config/types";
import type { BrokerSettings } from "./settings";

/** Project of the instance stacks (stack `instance-<name>`); the namespace of their config keys. */
export const instanceProjectName = "prometheus-paas-instance";

/**
 * One instance's record, kept as its stack's config (`prometheus-paas-instance:<key>`): what Tsuru asked for
 * (plan, team, tags, apps, jobs...) and how far the broker got (generation applied, last error, removal).
 */
export const instanceRecordSchema = strictObject({
    plan: z.string().min(1),
    team: z.string().min(1),
    description: z.string().default(""),
    tags: z.array(z.string()).default([]),
    /** Pool and cluster of the instance (X-Tsuru-Pool-Name / X-Tsuru-Cluster-Name). */
    pool: z.string().optional(),
    cluster: z.string().optional(),
    /** `parameters.*` of create/update, as Tsuru sent them. */
    parameters: z.record(z.unknown()).default({}),
    apps: z.array(kubernetesAppSchema).default([]),
    jobs: z.array(jobSchema).default([]),
    /** Bumped on every change of the record; the program exports the generation it built. */
    generation: z.number().int().min(1),
    /** Last generation an engine run applied, and the last one that failed with its reason. */
    appliedGeneration: z.number().int().min(0).default(0),
    failedGeneration: z.number().int().min(0).default(0),
    lastError: z.string().default(""),
    /** Remove was accepted: resources are destroyed, then the stack is removed. */
    removing: z.boolean().default(false),
    updatedAt: z.string().default(""),
    /**
     * Keyed checksum of the broker's settings and objstore.yml this generation was recorded with: a broker started
     * with other ones makes a new generation, so the instance is re-applied with them.
     */
    brokerInputs: z.string().default(""),
});
export type InstanceRecord = z.infer<typeof instanceRecordSchema>;

/**
 * The instance's web password: a secret key of the same stack config (`prometheus-paas-instance:password`),
 * encrypted by the CLI with the backend's passphrase; set by the broker, never part of the plain record.
 */
export const instancePasswordKey = "password";

/** Record keys whose config values are plain strings (never JSON-decoded, so a team "123" stays a string). */
const recordStringKeys = new Set(["plan", "team", "description", "pool", "cluster", "lastError", "updatedAt", "brokerInputs"]);

/** Validates a record read from stack config, where the CLI may have written scalars as strings ("1", "true"). */
export function parseInstanceRecord(config: Record<string, unknown>): InstanceRecord {
    const { [instancePasswordKey]: _password, ...recordKeys } = config;
    const raw = Object.fromEntries(Object.entries(recordKeys).map(([key, value]) =>
        [key, typeof value === "string" && !recordStringKeys.has(key) ? decodeConfigValue(value) : value]));
    const parsed = instanceRecordSchema.safeParse(raw);
    if (!parsed.success) {
        throw new ConfigError(parsed.error.issues.map((issue) => `${instanceProjectName}:${formatPath(issue.path)}: ${issue.message}`));
    }
    return parsed.data;
}

/** The instance a record describes, validated by the same rules as the `instances` of a stack. */
export function instanceFromRecord(name: string, record: Pick<InstanceRecord, "plan" | "team" | "apps" | "jobs">, settings: BrokerSettings): KubernetesInstanceConfig {
    const key = `instance ${name}`;
    const parsed = instanceSchema.safeParse({ name, platform: "kubernetes", plan: record.plan, team: record.team, apps: record.apps, jobs: record.jobs });
    if (!parsed.success) {
        throw new ConfigError(parsed.error.issues.map((issue) => `${key}: ${formatPath(issue.path) || "name"}: ${issue.message}`));
    }
    const problems: string[] = [];
    const [instance] = resolveInstances([parsed.data], settings.plans, settings.replicaLabel, problems, () => key);
    if (problems.length > 0) throw new ConfigError(problems);
    return instance as KubernetesInstanceConfig;
}

/** Reads the current (instance) stack's record inside its inline program. */
export function loadInstanceRecord(): InstanceRecord {
    return parseInstanceRecord(projectConfig(instanceProjectName));
}

/** The current (instance) stack's web password, a secret Output; the broker sets it before the first run. */
export function loadInstancePassword(): Output<string> {
    const password = secretConfig(instanceProjectName, instancePasswordKey);
    if (password === undefined) throw new ConfigError([`${instanceProjectName}:${instancePasswordKey}: is not set; the broker sets it (as a secret) before it runs the instance's stack`]);
    return password;
}
