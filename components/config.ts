/**
 * Stack configuration: the schema of every `prometheus-paas:*` key, its defaults and its validation.
 * This is the only module that reads pulumi.Config; everything else receives the typed StackConfig.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { builtinPlans, minimumRetentionSeconds, Plan, retentionShareOfTmpfs } from "./plans";
import { parseDurationSeconds, parseMiB, prometheusSize } from "./units";

export const projectName = "prometheus-paas";

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const prometheusLabelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Labels this program sets itself; user-supplied external labels may not override them. */
export const reservedExternalLabels = ["environment", "region", "product", "tenant", "team"] as const;

function strictObject<T extends z.ZodRawShape>(shape: T) {
    return z.object(shape).strict(`allowed keys: ${Object.keys(shape).join(", ")}`);
}

function dnsLabel(what: string, maxLength = 63) {
    return z
        .string()
        .max(maxLength, `${what} must be at most ${maxLength} characters`)
        .regex(dns1123Label, `${what} must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit`);
}

const quantity = (what: string) =>
    z.string().refine((value) => parseMiB(value) !== undefined, `${what} must be a Kubernetes binary quantity such as 512Mi or 2Gi`);

const duration = (what: string) =>
    z.string().refine((value) => parseDurationSeconds(value) !== undefined, `${what} must be a Prometheus duration such as 30s, 6h or 30d`);

const labelName = z
    .string()
    .regex(prometheusLabelName, "must be a Prometheus label name matching [a-zA-Z_][a-zA-Z0-9_]*")
    .refine((name) => !name.startsWith("__"), "label names starting with '__' are reserved by Prometheus");

const cpuQuantity = z.string().regex(/^([0-9]+m|[0-9]+(\.[0-9]+)?)$/, "cpu must be a Kubernetes CPU quantity such as 250m or 2");

const planFields = {
    description: z.string().min(1),
    cpu: cpuQuantity,
    memory: quantity("memory"),
    tmpfs: quantity("tmpfs"),
    retentionTime: duration("retentionTime"),
    retentionSize: quantity("retentionSize"),
    scrapeInterval: duration("scrapeInterval"),
    sampleLimit: z.number().int().positive(),
    labelLimit: z.number().int().positive(),
    targetLimit: z.number().int().positive(),
};
const planOverrideSchema = strictObject(planFields).partial();

const appSchema = strictObject({
    /** Tsuru app name: its units carry the pod label tsuru.io/app-name. */
    name: dnsLabel("app name", 40),
    /** Namespace the app's units run in (from `app-internal-hosts`, or the pool's namespace). */
    namespace: dnsLabel("namespace"),
    port: z.number().int().min(1).max(65535).default(8888),
    path: z.string().startsWith("/", "path must start with '/'").default("/metrics"),
    scheme: z.enum(["http", "https"]).default("http"),
    /** Only scrape these Tsuru processes (default: every process). */
    processes: z.array(dnsLabel("process name")).optional(),
});

const ruleSchema = strictObject({
    alert: z.string().optional(),
    record: z.string().optional(),
    expr: z.string().min(1),
    for: duration("for").optional(),
    labels: z.record(z.string()).optional(),
    annotations: z.record(z.string()).optional(),
}).refine((rule) => (rule.alert === undefined) !== (rule.record === undefined), "a rule needs exactly one of 'alert' or 'record'");

const ruleGroupSchema = strictObject({
    name: z.string().min(1),
    interval: duration("interval").optional(),
    rules: z.array(ruleSchema).min(1),
});

const instanceSchema = strictObject({
    name: dnsLabel("instance name", 40),
    plan: z.string(),
    team: z.string().regex(/^[a-zA-Z][-@_.+a-zA-Z0-9]*$/, "team must be a Tsuru team name"),
    platform: z.enum(["kubernetes"]).default("kubernetes"),
    replicas: z.number().int().min(1, "replicas must be 1 (single) or 2-3 (HA)").max(3, "replicas must be at most 3"),
    apps: z.array(appSchema).default([]),
    externalLabels: z.record(z.string().min(1, "external label values must be non-empty")).default({}),
    rules: z.array(ruleGroupSchema).default([]),
}).partial({ replicas: true });

const kubernetesSchema = strictObject({
    namespace: dnsLabel("namespace").default("prometheus"),
    createNamespace: z.boolean().default(true),
    context: z.string().optional(),
    kubeconfig: z.string().optional(),
    renderYamlToDirectory: z.string().optional(),
});

const grafanaSchema = strictObject({
    datasources: z.boolean().default(true),
    namespace: dnsLabel("namespace").optional(),
});

const thanosSchema = strictObject({
    replicaLabel: labelName.default("prometheus_replica"),
    query: strictObject({ replicas: z.number().int().min(1).max(10).default(1) }).default({}),
    store: strictObject({
        replicas: z.number().int().min(1).max(10).default(1),
        memory: quantity("memory").default("1Gi"),
    }).default({}),
    compactor: strictObject({
        replicas: z
            .number()
            .int()
            .refine(isCompactorSingleton, (n) => ({ message: compactorSingletonMessage(n) }))
            .default(1),
        memory: quantity("memory").default("1Gi"),
        retentionRaw: duration("retentionRaw").default("30d"),
        retention5m: duration("retention5m").default("90d"),
        retention1h: duration("retention1h").default("1y"),
        deleteDelay: duration("deleteDelay").default("48h"),
    }).default({}),
});

function isCompactorSingleton(replicas: number): boolean {
    return replicas === 0 || replicas === 1;
}

function compactorSingletonMessage(replicas: number): string {
    return `the compactor must be a singleton per bucket; allowed: 0 or 1 (got ${replicas})`;
}

/** Guard for components built without loadStackConfig (e.g. by the broker). */
export function assertCompactorSingleton(replicas: number): void {
    if (!isCompactorSingleton(replicas)) {
        throw new ConfigError([`${projectName}:thanos.compactor.replicas: ${compactorSingletonMessage(replicas)}`]);
    }
}

const s3BucketName = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const bucketSchema = z.discriminatedUnion("type", [
    strictObject({
        type: z.literal("s3"),
        /** Exact bucket name; default: a generated name from the stack. */
        name: z.string().regex(s3BucketName, "name must be a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')").optional(),
        forceDestroy: z.boolean().default(false),
        kmsKeyArn: z.string().startsWith("arn:", "kmsKeyArn must be a KMS key ARN").optional(),
        /** Days the lifecycle backstop waits past the longest Thanos retention before S3 expires objects. */
        lifecycleMarginDays: z.number().int().min(1).default(7),
    }),
    strictObject({
        type: z.literal("existing"),
        bucket: z.string().min(3),
        /** host[:port] of the S3-compatible endpoint, without scheme. */
        endpoint: z.string().regex(/^[a-zA-Z0-9.-]+(:[0-9]+)?$/, "endpoint must be host[:port] without a scheme"),
        region: z.string().default("us-east-1"),
        pathStyle: z.boolean().default(false),
        insecure: z.boolean().default(false),
    }),
]);

/** Every key of the `prometheus-paas` namespace; Pulumi.yaml declares the same keys. */
export const stackConfigSchema = strictObject({
    environment: dnsLabel("environment", 20),
    region: z.string().min(1),
    product: z.string().min(1).default("tsuru"),
    kubernetes: kubernetesSchema.default({}),
    grafana: grafanaSchema.default({}),
    instances: z.array(instanceSchema).default([]),
    plans: z.record(planOverrideSchema).default({}),
    thanos: thanosSchema.default({}),
    bucket: bucketSchema,
    alertmanagers: z.array(z.string().url("alertmanagers entries must be URLs such as http://alertmanager:9093")).default([]),
    bucketAccessKey: z.string().optional(),
    bucketSecretKey: z.string().optional(),
});

/** Keys whose values are secrets: read with getSecret, never placed in plain outputs. */
export const secretConfigKeys = ["bucketAccessKey", "bucketSecretKey"] as const;

type RawStackConfig = z.infer<typeof stackConfigSchema>;
type RawInstance = z.infer<typeof instanceSchema>;
export type AppTarget = z.infer<typeof appSchema>;
export type RuleGroup = z.infer<typeof ruleGroupSchema>;
export type ThanosConfig = z.infer<typeof thanosSchema>;
export type BucketConfig = z.infer<typeof bucketSchema>;
export type KubernetesTarget = z.infer<typeof kubernetesSchema>;

export interface InstanceConfig extends Omit<RawInstance, "plan" | "replicas"> {
    readonly plan: Plan;
    readonly replicas: number;
}

export interface BucketCredentials {
    readonly accessKey: pulumi.Input<string>;
    readonly secretKey: pulumi.Input<string>;
}

export interface StackConfig {
    readonly environment: string;
    readonly region: string;
    readonly product: string;
    readonly kubernetes: KubernetesTarget;
    readonly grafana: { readonly datasources: boolean; readonly namespace: string };
    readonly instances: InstanceConfig[];
    readonly plans: Readonly<Record<string, Plan>>;
    readonly thanos: ThanosConfig;
    readonly bucket: BucketConfig;
    readonly alertmanagers: string[];
    /** Static credentials for the bucket; absent means the SDK's default chain (IRSA, task role). */
    readonly bucketCredentials?: BucketCredentials;
}

export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
        this.name = "ConfigError";
    }
}

function formatPath(path: (string | number)[]): string {
    return path.reduce<string>((text, part) => (typeof part === "number" ? `${text}[${part}]` : text ? `${text}.${part}` : part), "");
}

function formatIssue(issue: z.ZodIssue): string {
    const key = `${projectName}:${formatPath(issue.path)}`.replace(/:$/, "");
    if (issue.code === "unrecognized_keys") {
        return `${key}: unknown key(s) ${issue.keys.map((k) => `'${k}'`).join(", ")}; ${issue.message}`;
    }
    if (issue.code === "invalid_type" && issue.received === "undefined") {
        return `${key}: is required`;
    }
    return `${key}: ${issue.message}`;
}

function mergePlans(overrides: RawStackConfig["plans"], problems: string[]): Record<string, Plan> {
    const plans: Record<string, Plan> = { ...builtinPlans };
    for (const [name, override] of Object.entries(overrides)) {
        const key = `${projectName}:plans.${name}`;
        if (!dns1123Label.test(name)) {
            problems.push(`${key}: plan names must be DNS-1123 labels (lowercase letters, digits, '-')`);
            continue;
        }
        const base = builtinPlans[name];
        const missing = Object.keys(planFields).filter((field) => base === undefined && override[field as keyof typeof override] === undefined);
        if (missing.length > 0) {
            problems.push(`${key}: a new plan needs every field; missing: ${missing.join(", ")} (or name a built-in plan: ${Object.keys(builtinPlans).join(", ")})`);
            continue;
        }
        plans[name] = {
            name,
            description: override.description ?? base.description,
            cpu: override.cpu ?? base.cpu,
            memoryMiB: override.memory !== undefined ? parseMiB(override.memory)! : base.memoryMiB,
            tmpfsMiB: override.tmpfs !== undefined ? parseMiB(override.tmpfs)! : base.tmpfsMiB,
            retentionTime: override.retentionTime ?? base.retentionTime,
            retentionSizeMiB: override.retentionSize !== undefined ? parseMiB(override.retentionSize)! : base.retentionSizeMiB,
            scrapeInterval: override.scrapeInterval ?? base.scrapeInterval,
            sampleLimit: override.sampleLimit ?? base.sampleLimit,
            labelLimit: override.labelLimit ?? base.labelLimit,
            targetLimit: override.targetLimit ?? base.targetLimit,
        };
    }
    for (const plan of Object.values(plans)) {
        const key = `${projectName}:plans.${plan.name}`;
        const maxRetention = Math.floor(plan.tmpfsMiB * retentionShareOfTmpfs);
        if (plan.retentionSizeMiB >= plan.tmpfsMiB || plan.retentionSizeMiB > maxRetention) {
            problems.push(
                `${key}.retentionSize: ${prometheusSize(plan.retentionSizeMiB)} must stay below the tmpfs size ${prometheusSize(plan.tmpfsMiB)} ` +
                    `with headroom for WAL and compaction; allowed: at most ${Math.round(retentionShareOfTmpfs * 100)}% of tmpfs (${maxRetention}Mi)`,
            );
        }
        if (parseDurationSeconds(plan.retentionTime)! < minimumRetentionSeconds) {
            problems.push(`${key}.retentionTime: ${plan.retentionTime} is shorter than three 2h blocks; allowed: 6h or more, so the Thanos sidecar uploads before local deletion`);
        }
    }
    return plans;
}

function checkInstances(raw: RawStackConfig, plans: Record<string, Plan>, problems: string[]): InstanceConfig[] {
    const seen = new Set<string>();
    return raw.instances.map((instance, index) => {
        const key = `${projectName}:instances[${index}]`;
        if (seen.has(instance.name)) {
            problems.push(`${key}.name: duplicate instance '${instance.name}'; instance names must be unique within a stack`);
        }
        seen.add(instance.name);
        const plan = plans[instance.plan];
        if (plan === undefined) {
            problems.push(`${key}.plan: unknown plan '${instance.plan}'; allowed: ${Object.keys(plans).join(", ")}`);
        }
        for (const label of Object.keys(instance.externalLabels)) {
            const parsed = labelName.safeParse(label);
            if (!parsed.success) {
                problems.push(`${key}.externalLabels.${label}: ${parsed.error.issues[0].message}`);
            } else if ((reservedExternalLabels as readonly string[]).includes(label) || label === raw.thanos.replicaLabel) {
                problems.push(`${key}.externalLabels.${label}: set by the platform; reserved: ${[...reservedExternalLabels, raw.thanos.replicaLabel].join(", ")}`);
            }
        }
        const appNames = new Set<string>();
        instance.apps.forEach((app, appIndex) => {
            if (appNames.has(app.name)) {
                problems.push(`${key}.apps[${appIndex}].name: app '${app.name}' is bound twice to instance '${instance.name}'`);
            }
            appNames.add(app.name);
        });
        return { ...instance, replicas: instance.replicas ?? 1, plan: plan ?? builtinPlans.small };
    });
}

/** Validates raw stack configuration (keys without the project prefix). Throws ConfigError listing every problem. */
export function parseStackConfig(raw: Record<string, unknown>, credentials?: BucketCredentials): StackConfig {
    const parsed = stackConfigSchema.safeParse(raw);
    if (!parsed.success) {
        throw new ConfigError(parsed.error.issues.map(formatIssue));
    }
    const config = parsed.data;
    const problems: string[] = [];
    const hasAccessKey = Boolean(config.bucketAccessKey);
    const plans = mergePlans(config.plans, problems);
    const instances = checkInstances(config, plans, problems);
    if (hasAccessKey !== Boolean(config.bucketSecretKey)) {
        problems.push(`${projectName}:bucketAccessKey: set both bucketAccessKey and bucketSecretKey (as secrets), or neither to use the SDK's default credentials`);
    }
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
    return {
        environment: config.environment,
        region: config.region,
        product: config.product,
        kubernetes: config.kubernetes,
        grafana: { datasources: config.grafana.datasources, namespace: config.grafana.namespace ?? config.kubernetes.namespace },
        instances,
        plans,
        thanos: config.thanos,
        bucket: config.bucket,
        alertmanagers: config.alertmanagers,
        bucketCredentials: credentials,
    };
}

/** Reads the current stack's `prometheus-paas:*` configuration and validates it. */
export function loadStackConfig(): StackConfig {
    const prefix = `${projectName}:`;
    const raw: Record<string, unknown> = {};
    for (const [fullKey, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (!fullKey.startsWith(prefix)) continue;
        const key = fullKey.slice(prefix.length);
        raw[key] = stringConfigKeys.has(key) ? value : decodeConfigValue(value);
    }
    const config = new pulumi.Config(projectName);
    const accessKey = config.getSecret("bucketAccessKey");
    const secretKey = config.getSecret("bucketSecretKey");
    const credentials = raw.bucketAccessKey && raw.bucketSecretKey ? { accessKey: accessKey!, secretKey: secretKey! } : undefined;
    // The plain copies only serve validation; the secrets travel as secret Outputs.
    return parseStackConfig(raw, credentials);
}

const stringConfigKeys = new Set(["environment", "region", "product", ...secretConfigKeys]);

/** Structured config arrives JSON-encoded; scalars arrive as strings. */
function decodeConfigValue(value: string): unknown {
    if (/^\s*[[{]/.test(value) || value === "true" || value === "false" || /^-?[0-9]+(\.[0-9]+)?$/.test(value)) {
        try {
            return JSON.parse(value);
        } catch {
            return value;
        }
    }
    return value;
}
