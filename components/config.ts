/**
 * Stack configuration: the schema of every `prometheus-paas:*` key, its defaults and its validation.
 * This is the only module that reads pulumi.Config; everything else receives the typed StackConfig.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { builtinPlans, minimumRetentionSeconds, Plan, retentionShareOfTmpfs } from "./plans";
import { yaceSupportedNamespaces } from "./exporters/yace-namespaces";
import { validateServiceInputs } from "./tsuru/service";
import { parseDurationSeconds, parseMiB, prometheusSize } from "./units";

export const projectName = "prometheus-paas";

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const secretsManagerArn = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9\/_+=.@-]+(:[^:]*:[^:]*:[^:]*)?$/;
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
    /** ECS only: HTTP basic auth for the app's targets, the password read from Secrets Manager at task start. */
    basicAuth: strictObject({
        username: z.string().min(1),
        passwordSecretArn: z.string().regex(secretsManagerArn, "passwordSecretArn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>[:json-key::])"),
    }).optional(),
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
    platform: z.enum(["kubernetes", "ecs"]).default("kubernetes"),
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
    /** Only for clusters that never run pods (an API server without kubelets): the provider stops awaiting readiness. */
    skipAwait: z.boolean().default(false),
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
        /** Where the singleton runs when the stack has both platforms; default kubernetes if it has Kubernetes instances. */
        platform: z.enum(["kubernetes", "ecs"]).optional(),
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

/** CloudWatch Logs accepts only these retention periods. */
export const logRetentionDays = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

const awsRegion = z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$/, "must be an AWS region such as us-east-1");

function ipv4CidrPrefix(cidr: string): number | undefined {
    const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
    if (!match || match.slice(1, 5).some((octet) => Number(octet) > 255) || Number(match[5]) > 32) return undefined;
    return Number(match[5]);
}

const queryCidr = z
    .string()
    .refine((cidr) => ipv4CidrPrefix(cidr) !== undefined, "must be an IPv4 CIDR block such as 10.20.0.0/16")
    .refine((cidr) => (ipv4CidrPrefix(cidr) ?? 32) >= 8, "Thanos query stays internal; allowed: prefixes /8 to /32 (never 0.0.0.0/0)");

const awsTagFilter = z.record(z.string().min(1)).refine((tags) => Object.keys(tags).length > 0, "give at least one tag");

function exactlyOneOf(first: string, second: string) {
    return (value: Record<string, unknown>) => (value[first] === undefined) !== (value[second] === undefined);
}

const ecsClusterName = z.string().regex(/^[a-zA-Z0-9_-]{1,255}$/, "cluster name must be 1-255 letters, digits, '-' or '_'");

/** Pulumi.yaml declares `ecs` and `yace` with default {}: an empty section means the feature is off. */
const absentWhenEmpty = (value: unknown) =>
    value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0 ? undefined : value;

const ecsSchema = strictObject({
    /** The ECS cluster: created (default name prometheus-<environment>) or an existing one looked up by name. */
    cluster: strictObject({
        name: ecsClusterName.optional(),
        existing: z.boolean().default(false),
    }).refine((cluster) => !cluster.existing || cluster.name !== undefined, { message: "an existing cluster is looked up by name; set ecs.cluster.name", path: ["name"] }).default({}),
    /** The VPC: given by id or looked up by tags. */
    vpc: strictObject({
        id: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, "id must be a VPC id such as vpc-0123456789abcdef0").optional(),
        tags: awsTagFilter.optional(),
    }).refine(exactlyOneOf("id", "tags"), "give exactly one of ecs.vpc.id or ecs.vpc.tags"),
    /** Private subnets of the tasks, the EFS mount targets and the internal load balancer: given or looked up by tags in the VPC. */
    subnets: strictObject({
        ids: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, "ids must be subnet ids such as subnet-0123456789abcdef0"))
            .min(2, "an internal load balancer needs subnets in at least two availability zones")
            .refine((ids) => new Set(ids).size === ids.length, "subnet ids must be unique")
            .optional(),
        tags: awsTagFilter.optional(),
    }).refine(exactlyOneOf("ids", "tags"), "give exactly one of ecs.subnets.ids or ecs.subnets.tags"),
    /** CIDRs allowed to reach Thanos query's internal load balancer (e.g. Grafana's VPC over peering). */
    queryAllowedCidrs: z.array(queryCidr).min(1, "list the CIDRs allowed to reach Thanos query, e.g. Grafana's VPC over peering"),
    /** Cloud Map private DNS namespace; default prometheus-<environment>.internal. */
    serviceDiscoveryNamespace: z
        .string()
        .max(253)
        .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "serviceDiscoveryNamespace must be a DNS name such as prometheus-prod.internal")
        .optional(),
    /** Alertmanager URLs reachable from the VPC, for the ECS instances; default: the stack's alertmanagers. */
    alertmanagers: z.array(z.string().url("ecs.alertmanagers entries must be URLs such as http://alertmanager.internal:9093")).optional(),
    logRetentionDays: z
        .number()
        .int()
        .refine((days) => (logRetentionDays as readonly number[]).includes(days), `logRetentionDays must be one of CloudWatch's values: ${logRetentionDays.join(", ")}`)
        .default(30),
    capacity: strictObject({
        /** Capacity provider of the stateless tasks (Thanos query and store, YACE); Prometheus and the compactor always run on FARGATE. */
        statelessProvider: z.enum(["FARGATE", "FARGATE_SPOT"]).default("FARGATE"),
        /** Fargate ephemeral storage of each Prometheus task: its TSDB lives there, never on EFS. */
        prometheusStorageGiB: z.number().int().min(21, "Fargate ephemeral storage is 21-200 GiB").max(200, "Fargate ephemeral storage is 21-200 GiB").default(30),
        storeStorageGiB: z.number().int().min(21, "Fargate ephemeral storage is 21-200 GiB").max(200, "Fargate ephemeral storage is 21-200 GiB").default(30),
        compactorStorageGiB: z.number().int().min(21, "Fargate ephemeral storage is 21-200 GiB").max(200, "Fargate ephemeral storage is 21-200 GiB").default(100),
    }).default({}),
});

const yaceStatistic = z
    .string()
    .regex(/^(Sum|Average|Maximum|Minimum|SampleCount|p(100|[0-9]{1,2}(\.[0-9]{1,2})?))$/, "statistics must be Sum, Average, Maximum, Minimum, SampleCount or a percentile such as p99");
const yacePeriod = (what: string) => z.number().int().min(1, `${what} is in seconds and must be at least 1`);

const yaceMetricSchema = strictObject({
    name: z.string().min(1),
    statistics: z.array(yaceStatistic).min(1, "give at least one statistic"),
    period: yacePeriod("period").optional(),
    length: yacePeriod("length").optional(),
    nilToZero: z.boolean().optional(),
});

function isValidRegex(pattern: string): boolean {
    try {
        new RegExp(pattern);
        return true;
    } catch {
        return false;
    }
}

const yaceJobSchema = strictObject({
    /** CloudWatch namespace, e.g. AWS/EC2, AWS/ApplicationELB, ECS/ContainerInsights. */
    namespace: z
        .string()
        .refine(
            (namespace) => yaceSupportedNamespaces.includes(namespace),
            (namespace) => ({
                message: `'${namespace}' is not a namespace YACE discovers; use the CloudWatch namespace (e.g. AWS/EC2, not the alias ec2); allowed: ${yaceSupportedNamespaces.join(", ")}`,
            }),
        ),
    regions: z.array(awsRegion).min(1).optional(),
    period: yacePeriod("period").optional(),
    length: yacePeriod("length").optional(),
    /** Only resources whose tag matches: tag key -> regular expression. */
    searchTags: z.record(z.string().refine(isValidRegex, "searchTags values must be valid regular expressions")).optional(),
    /** Resource tags added as labels on the info metric (exportedTagsOnMetrics). */
    exportedTags: z.array(z.string().min(1)).optional(),
    dimensionNameRequirements: z.array(z.string().min(1)).optional(),
    metrics: z.array(yaceMetricSchema).min(1, "give at least one metric"),
});

const yaceSchema = strictObject({
    /** ECS instances whose Prometheus scrapes YACE (CloudWatch metrics of the whole account: choose who sees them). */
    scrapedBy: z.array(dnsLabel("instance name", 40)).min(1, "name the ECS instances that scrape YACE"),
    /** Default regions of every job; default: the stack's region. */
    regions: z.array(awsRegion).min(1).optional(),
    /** Default CloudWatch period and length (seconds) of every metric. */
    period: yacePeriod("period").default(300),
    length: yacePeriod("length").default(300),
    jobs: z.array(yaceJobSchema).min(1, "give at least one discovery job"),
});

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

/** Registration of the service in Tsuru; the semantics are checked by the TsuruService provider's own validator. */
const tsuruSchema = strictObject({
    apiUrl: z.string(),
    serviceId: z.string().default("prometheus"),
    team: z.string(),
    /** One URL (stored as Tsuru's `production` endpoint) or cluster name → URL. */
    endpoints: z.union([z.string(), z.record(z.string())]),
    multiCluster: z.boolean().default(false),
    encoding: z.enum(["form", "json"]).default("form"),
    username: z.string().optional(),
    documentation: z.string().optional(),
    adopt: z.boolean().default(false),
});
export type TsuruConfig = z.infer<typeof tsuruSchema>;

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
    ecs: z.preprocess(absentWhenEmpty, ecsSchema.optional()),
    yace: z.preprocess(absentWhenEmpty, yaceSchema.optional()),
    tsuru: z.preprocess(absentWhenEmpty, tsuruSchema.optional()),
    tsuruServicePassword: z.string().optional(),
});

/** Keys whose values are secrets: read with getSecret, never placed in plain outputs. */
export const secretConfigKeys = ["bucketAccessKey", "bucketSecretKey", "tsuruServicePassword"] as const;

type RawStackConfig = z.infer<typeof stackConfigSchema>;
type RawInstance = z.infer<typeof instanceSchema>;
export type AppTarget = z.infer<typeof appSchema>;
export type RuleGroup = z.infer<typeof ruleGroupSchema>;
export type ThanosConfig = z.infer<typeof thanosSchema>;
export type BucketConfig = z.infer<typeof bucketSchema>;
export type KubernetesTarget = z.infer<typeof kubernetesSchema>;
type RawEcs = z.infer<typeof ecsSchema>;
export type YaceJob = z.infer<typeof yaceJobSchema>;

/** The `ecs` section with its derived defaults resolved. */
export interface EcsConfig extends Omit<RawEcs, "cluster" | "serviceDiscoveryNamespace"> {
    readonly cluster: { readonly name: string; readonly existing: boolean };
    readonly serviceDiscoveryNamespace: string;
}

/** The `yace` section with the default regions resolved. */
export interface YaceConfig extends Omit<z.infer<typeof yaceSchema>, "regions"> {
    readonly regions: string[];
}

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
    /** The AWS ECS platform; absent when no instance runs there. */
    readonly ecs?: EcsConfig;
    /** The YACE CloudWatch exporter on ECS; absent when not configured. */
    readonly yace?: YaceConfig;
    /** Registration of the service in Tsuru; absent when the stack does not register it. */
    readonly tsuru?: TsuruConfig;
    /** The broker password Tsuru sends; absent means one is generated. */
    readonly tsuruServicePassword?: pulumi.Input<string>;
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

/** The one platform whose Thanos runs the compactor: two compactors on one bucket corrupt or halt each other. */
function compactorPlatform(configured: "kubernetes" | "ecs" | undefined, instances: InstanceConfig[]): "kubernetes" | "ecs" {
    return configured ?? (instances.some((instance) => instance.platform === "kubernetes") || !instances.some((instance) => instance.platform === "ecs") ? "kubernetes" : "ecs");
}

const awsS3Endpoint = /(^|\.)amazonaws\.com(\.cn)?(:[0-9]+)?$/;

/** Cross-key rules of the AWS half: what the ECS platform and YACE need from the rest of the stack. */
function checkEcs(raw: RawStackConfig, instances: InstanceConfig[], problems: string[]): void {
    const ecsInstances = instances.filter((instance) => instance.platform === "ecs");
    instances.forEach((instance, index) => {
        instance.apps.forEach((app, appIndex) => {
            if (app.basicAuth !== undefined && instance.platform !== "ecs") {
                problems.push(`${projectName}:instances[${index}].apps[${appIndex}].basicAuth: the password comes from Secrets Manager through ECS; allowed only on platform ecs`);
            }
        });
    });
    const chosenCompactorPlatform = raw.thanos.compactor.platform;
    if (chosenCompactorPlatform !== undefined && !instances.some((instance) => instance.platform === chosenCompactorPlatform)) {
        problems.push(`${projectName}:thanos.compactor.platform: no instance runs on ${chosenCompactorPlatform}, so no Thanos runs there; allowed: ${[...new Set(instances.map((instance) => instance.platform))].join(", ") || "(no instance declared)"}`);
    }
    if (raw.ecs === undefined) {
        ecsInstances.forEach((instance) => {
            problems.push(`${projectName}:ecs: is required because instance '${instance.name}' has platform ecs (cluster, vpc, subnets, queryAllowedCidrs)`);
        });
        if (raw.yace !== undefined) {
            problems.push(`${projectName}:yace: YACE runs on ECS; add an 'ecs' section (cluster, vpc, subnets, queryAllowedCidrs)`);
        }
        return;
    }
    if (raw.bucket.type === "existing" && !awsS3Endpoint.test(raw.bucket.endpoint)) {
        problems.push(`${projectName}:bucket.endpoint: ECS tasks reach the bucket with IAM task roles; allowed: bucket.type s3, or an existing bucket on an AWS S3 endpoint such as s3.${raw.region}.amazonaws.com`);
    }
    if (raw.bucketAccessKey) {
        problems.push(`${projectName}:bucketAccessKey: ECS tasks authenticate to S3 with their task role; remove bucketAccessKey and bucketSecretKey so no static key is written into configuration`);
    }
    const storageMiB = raw.ecs.capacity.prometheusStorageGiB * 1024;
    ecsInstances.forEach((instance) => {
        if (instance.plan.retentionSizeMiB > storageMiB * retentionShareOfTmpfs) {
            problems.push(
                `${projectName}:ecs.capacity.prometheusStorageGiB: ${raw.ecs!.capacity.prometheusStorageGiB} GiB leaves no headroom for plan '${instance.plan.name}' of instance '${instance.name}' ` +
                    `(retention ${prometheusSize(instance.plan.retentionSizeMiB)}); allowed: retention at most ${Math.round(retentionShareOfTmpfs * 100)}% of the task storage`,
            );
        }
    });
    if (raw.yace !== undefined) {
        const ecsNames = ecsInstances.map((instance) => instance.name);
        raw.yace.scrapedBy.forEach((name, index) => {
            if (!ecsNames.includes(name)) {
                problems.push(`${projectName}:yace.scrapedBy[${index}]: '${name}' is not an instance with platform ecs; allowed: ${ecsNames.join(", ") || "(no ECS instance declared)"}`);
            }
        });
        raw.yace.jobs.forEach((job, jobIndex) => {
            job.metrics.forEach((metric, metricIndex) => {
                const period = metric.period ?? job.period ?? raw.yace!.period;
                const length = metric.length ?? job.length ?? raw.yace!.length;
                if (length < period) {
                    problems.push(`${projectName}:yace.jobs[${jobIndex}].metrics[${metricIndex}].length: ${length}s is shorter than the period ${period}s; CloudWatch would leave gaps; allowed: length >= period`);
                }
            });
        });
    }
}

/** Validates raw stack configuration (keys without the project prefix). Throws ConfigError listing every problem. */
/** Secret values, read as secret Outputs by loadStackConfig; validation sees only their plain copies in `raw`. */
export interface ConfigSecrets {
    readonly bucketCredentials?: BucketCredentials;
    readonly tsuruServicePassword?: pulumi.Input<string>;
}

function checkTsuru(config: RawStackConfig, problems: string[]): void {
    if (config.tsuru === undefined) return;
    const { failures } = validateServiceInputs({ ...config.tsuru, password: config.tsuruServicePassword || "generated" });
    for (const failure of failures) {
        problems.push(`${projectName}:tsuru.${failure.property}: ${failure.reason}`);
    }
}

export function parseStackConfig(raw: Record<string, unknown>, secrets: ConfigSecrets = {}): StackConfig {
    const parsed = stackConfigSchema.safeParse(raw);
    if (!parsed.success) {
        throw new ConfigError(parsed.error.issues.map(formatIssue));
    }
    const config = parsed.data;
    const problems: string[] = [];
    const hasAccessKey = Boolean(config.bucketAccessKey);
    const plans = mergePlans(config.plans, problems);
    const instances = checkInstances(config, plans, problems);
    checkEcs(config, instances, problems);
    checkTsuru(config, problems);
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
        thanos: { ...config.thanos, compactor: { ...config.thanos.compactor, platform: compactorPlatform(config.thanos.compactor.platform, instances) } },
        bucket: config.bucket,
        alertmanagers: config.alertmanagers,
        bucketCredentials: secrets.bucketCredentials,
        tsuru: config.tsuru,
        tsuruServicePassword: secrets.tsuruServicePassword,
        ecs: config.ecs && {
            ...config.ecs,
            cluster: { name: config.ecs.cluster.name ?? `prometheus-${config.environment}`, existing: config.ecs.cluster.existing },
            serviceDiscoveryNamespace: config.ecs.serviceDiscoveryNamespace ?? `prometheus-${config.environment}.internal`,
        },
        yace: config.yace && { ...config.yace, regions: config.yace.regions ?? [config.region] },
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
    const bucketCredentials = raw.bucketAccessKey && raw.bucketSecretKey ? { accessKey: accessKey!, secretKey: secretKey! } : undefined;
    const tsuruServicePassword = raw.tsuruServicePassword ? config.getSecret("tsuruServicePassword") : undefined;
    // The plain copies only serve validation; the secrets travel as secret Outputs.
    return parseStackConfig(raw, { bucketCredentials, tsuruServicePassword });
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
