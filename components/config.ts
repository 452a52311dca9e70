/**
 * Stack configuration: the schema of every `prometheus-paas:*` key, its defaults and its validation.
 * This is the only module that reads pulumi.Config; everything else receives the typed StackConfig.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { builtinPlans, minimumRetentionSeconds, minimumScrapeIntervalSeconds, Plan, retentionShareOfTmpfs } from "./plans";
import { yaceSupportedNamespaces } from "./exporters/yace-namespaces";
import { validateServiceInputs } from "./tsuru/service";
import { prometheusTaskProblem } from "./prometheus/ecs-spec";
import { thanosDefaults } from "./thanos/defaults";
import { thanosTaskProblems } from "./thanos/ecs-spec";
import { mebibytes, parseDurationSeconds, parseMiB, prometheusSize } from "./units";

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
    scrapeTimeout: duration("scrapeTimeout"),
    sampleLimit: z.number().int().positive(),
    labelLimit: z.number().int().positive(),
    targetLimit: z.number().int().positive(),
};
const planOverrideSchema = strictObject(planFields).partial();
/** Fields a new plan may leave out. */
const optionalPlanFields: readonly string[] = ["scrapeTimeout"];

const metricsPath = z.string().startsWith("/", "path must start with '/'").default("/metrics");
const metricsScheme = z.enum(["http", "https"]).default("http");

/** A Tsuru app on Kubernetes: every unit (pod) of it is scraped. */
const kubernetesAppSchema = strictObject({
    /** Tsuru app name: its units carry the pod label tsuru.io/app-name. */
    name: dnsLabel("app name", 40),
    /** Namespace the app's units run in (from `app-internal-hosts`, or the pool's namespace). */
    namespace: dnsLabel("namespace"),
    port: z.number().int().min(1).max(65535).default(8888),
    path: metricsPath,
    scheme: metricsScheme,
    /** Only scrape these Tsuru processes (default: every process). */
    processes: z.array(dnsLabel("process name")).optional(),
});

/** ECS names (cluster, task definition family, container): ECS' own rule. */
const ecsName = (what: string) => z.string().regex(/^[a-zA-Z0-9_-]{1,255}$/, `${what} must be 1-255 letters, digits, '-' or '_' (ECS' rule)`);

/** An app on ECS: the tasks of one task definition family in one cluster, found by prometheus-ecs-discovery. */
const ecsAppSchema = strictObject({
    /** Task definition family of the app's tasks. */
    family: ecsName("family"),
    /** ECS cluster the tasks run in. */
    cluster: ecsName("cluster"),
    /** Only scrape these containers of the task (default: every container with a PROMETHEUS_EXPORTER_PORT label). */
    containers: z.array(ecsName("container name")).optional(),
    /** Defaults for targets whose Docker labels (PROMETHEUS_EXPORTER_PATH/_SCHEME) do not say; the port always comes from PROMETHEUS_EXPORTER_PORT. */
    path: metricsPath,
    scheme: metricsScheme,
    /** HTTP basic auth for the app's targets, the password read from Secrets Manager at task start. */
    basicAuth: strictObject({
        username: z.string().min(1),
        passwordSecretArn: z.string().regex(secretsManagerArn, "passwordSecretArn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>[:json-key::])"),
    }).optional(),
});

/** A Tsuru job bound to an instance: its pods carry tsuru.io/job-name and run in its pool's namespace. */
const jobSchema = strictObject({
    name: dnsLabel("job name", 40),
    namespace: dnsLabel("namespace"),
    port: z.number().int().min(1).max(65535).default(8888),
    path: z.string().startsWith("/", "path must start with '/'").default("/metrics"),
    scheme: z.enum(["http", "https"]).default("http"),
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

const instanceFields = {
    name: dnsLabel("instance name", 40),
    plan: z.string(),
    team: z.string().regex(/^[a-zA-Z][-@_.+a-zA-Z0-9]*$/, "team must be a Tsuru team name"),
    replicas: z.number().int().min(1, "replicas must be 1 (single) or 2-3 (HA)").max(3, "replicas must be at most 3"),
    externalLabels: z.record(z.string().min(1, "external label values must be non-empty")).default({}),
    rules: z.array(ruleGroupSchema).default([]),
};

/** The apps' fields depend on the platform: Tsuru apps (name, namespace) on Kubernetes, task families (family, cluster) on ECS. */
const instanceSchema = z.preprocess(
    (value) => (value !== null && typeof value === "object" && !Array.isArray(value) && !("platform" in value) ? { ...value, platform: "kubernetes" } : value),
    z.discriminatedUnion("platform", [
        strictObject({
            ...instanceFields,
            platform: z.literal("kubernetes"),
            apps: z.array(kubernetesAppSchema).default([]),
            /** Tsuru jobs bound to the instance. */
            jobs: z.array(jobSchema).default([]),
        }).partial({ replicas: true }),
        strictObject({
            ...instanceFields,
            platform: z.literal("ecs"),
            apps: z.array(ecsAppSchema).default([]),
            jobs: z.array(jobSchema).max(0, "Tsuru jobs are discovered by their Kubernetes pod labels; allowed only on platform kubernetes").optional(),
        }).partial({ replicas: true }),
    ]),
);

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
        memory: quantity("memory").default(mebibytes(thanosDefaults.store.memory.limitMiB)),
    }).default({}),
    compactor: strictObject({
        replicas: z
            .number()
            .int()
            .refine(isCompactorSingleton, (n) => ({ message: compactorSingletonMessage(n) }))
            .default(1),
        memory: quantity("memory").default(mebibytes(thanosDefaults.compactor.memory.limitMiB)),
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

/** Guard for components given a config that did not go through parseStackConfig. */
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

const fargateStorageGiB = z.number().int().min(21, "Fargate ephemeral storage is 21-200 GiB").max(200, "Fargate ephemeral storage is 21-200 GiB");

const ecsClusterName = ecsName("cluster name");

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
    /**
     * Private subnets of the tasks, the EFS mount targets and the internal load balancer: given by id, or one looked
     * up by tags in each listed availability zone (EFS allows one mount target per zone, and the mount targets are
     * created from this known list).
     */
    subnets: strictObject({
        ids: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, "ids must be subnet ids such as subnet-0123456789abcdef0"))
            .min(2, "an internal load balancer needs subnets in at least two availability zones")
            .refine((ids) => new Set(ids).size === ids.length, "subnet ids must be unique")
            .optional(),
        tags: awsTagFilter.optional(),
        availabilityZones: z.array(z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9][a-z]$/, "availabilityZones must be zone names such as us-east-1a"))
            .min(2, "an internal load balancer needs subnets in at least two availability zones")
            .refine((zones) => new Set(zones).size === zones.length, "availability zones must be unique")
            .optional(),
    })
        .refine(exactlyOneOf("ids", "tags"), "give exactly one of ecs.subnets.ids or ecs.subnets.tags")
        .refine((subnets) => subnets.tags === undefined || subnets.availabilityZones !== undefined, {
            message: "subnets looked up by tags need the zones to look in (one subnet each, EFS allows one mount target per zone); e.g. [us-east-1a, us-east-1b]",
            path: ["availabilityZones"],
        })
        .refine((subnets) => subnets.ids === undefined || subnets.availabilityZones === undefined, {
            message: "only with ecs.subnets.tags: given subnet ids already name their zones",
            path: ["availabilityZones"],
        }),
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
        prometheusStorageGiB: fargateStorageGiB.default(30),
        storeStorageGiB: fargateStorageGiB.default(thanosDefaults.store.diskGiB!),
        compactorStorageGiB: fargateStorageGiB.default(thanosDefaults.compactor.diskGiB!),
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

const poolNamespacesSchema = strictObject({
    /** Namespace of a pool's units, `{pool}` replaced by the pool name (Tsuru with use-pool-namespaces: tsuru-{pool}). */
    pattern: z.string().regex(/^[a-z0-9-]*(\{pool\})?[a-z0-9-]*$/, "pattern is a namespace with at most one {pool}, e.g. tsuru-{pool} or default").default("tsuru-{pool}"),
    /** Exceptions by pool name. */
    pools: z.record(dnsLabel("namespace")).default({}),
});
export type PoolNamespaces = z.infer<typeof poolNamespacesSchema>;

const imageReference = z
    .string()
    .regex(/^[a-z0-9.\/:_-]+(:[A-Za-z0-9_.-]+|@sha256:[a-f0-9]{64})$/, "image must be pinned: repository:tag or repository@sha256:digest")
    .refine((image) => !/:latest$/.test(image), "image must be pinned to a version, never :latest");

/** The broker on the Tsuru cluster (components/broker/deployment.ts); its password is tsuruServicePassword. */
const brokerSchema = strictObject({
    /** The image built from the project's Dockerfile, pinned. */
    image: imageReference,
    /** Namespace of the broker itself; default: kubernetes.namespace. */
    namespace: dnsLabel("namespace").optional(),
    /** Namespace the instances' Prometheus pods run in (the broker's RBAC is limited to it and to discovery grants). */
    instanceNamespace: dnsLabel("namespace").default("prometheus-tenants"),
    port: z.number().int().min(1024).max(65535).default(8080),
    /** Pulumi backend of the instance stacks; default: a file backend on the broker's volume. */
    backendUrl: z.string().regex(/^[a-z0-9]+:\/\//, "backendUrl must be a Pulumi backend URL such as file:///var/lib/broker/state or s3://bucket?region=us-east-1").optional(),
    /** Size of the volume holding the file backend and the instance stacks' config. */
    storage: quantity("storage").default("2Gi"),
    /** Tsuru cluster name whose endpoint is this broker (Tsuru falls back to `production`). */
    cluster: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, "cluster must be a Tsuru cluster name").default("production"),
    /** Engine runs at once. */
    concurrency: z.number().int().min(1).max(16).default(4),
    poolNamespaces: poolNamespacesSchema.default({}),
    poolPlans: z.record(z.array(z.string()).min(1)).default({}),
});
export type BrokerConfig = z.infer<typeof brokerSchema>;

/** Registration of the service in Tsuru; the semantics are checked by the TsuruService provider's own validator. */
const tsuruSchema = strictObject({
    apiUrl: z.string(),
    serviceId: z.string().default("prometheus"),
    team: z.string(),
    /** One URL (stored as Tsuru's `production` endpoint) or cluster name → URL; the broker's own cluster is added when `broker` is set. */
    endpoints: z.union([z.string(), z.record(z.string())]).optional(),
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
    broker: z.preprocess(absentWhenEmpty, brokerSchema.optional()),
    brokerBackendPassphrase: z.string().optional(),
});

/** Keys whose values are secrets: read with getSecret, never placed in plain outputs. */
export const secretConfigKeys = ["bucketAccessKey", "bucketSecretKey", "tsuruServicePassword", "brokerBackendPassphrase"] as const;

type RawStackConfig = z.infer<typeof stackConfigSchema>;
type RawInstance = z.infer<typeof instanceSchema>;
export type KubernetesApp = z.infer<typeof kubernetesAppSchema>;
export type EcsApp = z.infer<typeof ecsAppSchema>;
export type JobTarget = z.infer<typeof jobSchema>;
export type RuleGroup = z.infer<typeof ruleGroupSchema>;
export type ThanosConfig = z.infer<typeof thanosSchema>;
export type BucketConfig = z.infer<typeof bucketSchema>;
export type KubernetesTarget = z.infer<typeof kubernetesSchema>;
type RawEcs = z.infer<typeof ecsSchema>;

/** The `ecs` section with its derived defaults resolved. */
export interface EcsConfig extends Omit<RawEcs, "cluster" | "serviceDiscoveryNamespace"> {
    readonly cluster: { readonly name: string; readonly existing: boolean };
    readonly serviceDiscoveryNamespace: string;
}

/** The `yace` section with the default regions resolved. */
export interface YaceConfig extends Omit<z.infer<typeof yaceSchema>, "regions"> {
    readonly regions: string[];
}

type Resolved<I> = Omit<I, "plan" | "replicas"> & { readonly plan: Plan; readonly replicas: number };
export type KubernetesInstanceConfig = Resolved<Extract<RawInstance, { platform: "kubernetes" }>>;
export type EcsInstanceConfig = Resolved<Extract<RawInstance, { platform: "ecs" }>>;
export type InstanceConfig = KubernetesInstanceConfig | EcsInstanceConfig;

/** How an app names itself in the outputs: namespace/app on Kubernetes, cluster/family on ECS. */
export function appReference(app: KubernetesApp | EcsApp): string {
    return "family" in app ? `${app.cluster}/${app.family}` : `${app.namespace}/${app.name}`;
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
    /** The broker deployed on the cluster; absent when the stack runs none. */
    readonly broker?: BrokerConfig;
    /** Passphrase of the broker's backend (secret). */
    readonly brokerBackendPassphrase?: pulumi.Input<string>;
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

function quoted(values: readonly unknown[]): string {
    return values.map((value) => `'${String(value)}'`).join(", ");
}

function plural(count: number | bigint, one: string, many: string): string {
    return `${count} ${Number(count) === 1 ? one : many}`;
}

/**
 * Messages for zod's own checks (lengths, bounds, types, enums): what is allowed and what was given, in the
 * words of this config; the key is prefixed by formatIssue. Messages set in the schema win.
 */
const configErrorMap: z.ZodErrorMap = (issue, context) => {
    switch (issue.code) {
        case z.ZodIssueCode.invalid_type:
            if (issue.expected === "integer") return { message: "must be a whole number" };
            return { message: `must be ${issue.expected === "array" || issue.expected === "object" ? "an" : "a"} ${issue.expected} (got ${issue.received})` };
        case z.ZodIssueCode.too_small: {
            if (issue.type === "string") return { message: issue.minimum === 1 ? "must not be empty" : `must be at least ${plural(issue.minimum, "character", "characters")}` };
            if (issue.type === "array") return { message: `needs at least ${plural(issue.minimum, "entry", "entries")}` };
            return { message: `must be ${issue.inclusive ? "at least" : "more than"} ${issue.minimum} (got ${String(context.data)})` };
        }
        case z.ZodIssueCode.too_big: {
            if (issue.type === "string") return { message: `must be at most ${plural(issue.maximum, "character", "characters")}` };
            if (issue.type === "array") return { message: `allows at most ${plural(issue.maximum, "entry", "entries")}` };
            return { message: `must be ${issue.inclusive ? "at most" : "less than"} ${issue.maximum} (got ${String(context.data)})` };
        }
        case z.ZodIssueCode.invalid_enum_value:
            return { message: `allowed: ${quoted(issue.options)} (got '${String(issue.received)}')` };
        case z.ZodIssueCode.invalid_union_discriminator:
            // The data is the whole object; the offending value is its discriminator key.
            return { message: `allowed: ${quoted(issue.options)} (got ${quoted([(context.data as Record<string, unknown> | undefined)?.[String(issue.path.at(-1))]])})` };
        case z.ZodIssueCode.invalid_literal:
            return { message: `must be ${JSON.stringify(issue.expected)} (got ${JSON.stringify(context.data)})` };
        case z.ZodIssueCode.invalid_string:
            return { message: `is not a valid ${typeof issue.validation === "string" ? issue.validation : "string"}` };
        default:
            return { message: context.defaultError };
    }
};

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
        const missing = Object.keys(planFields).filter((field) => base === undefined && !optionalPlanFields.includes(field) && override[field as keyof typeof override] === undefined);
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
            // A new interval without a timeout derives the timeout again, rather than keeping the base plan's.
            scrapeTimeout: override.scrapeTimeout ?? (override.scrapeInterval === undefined ? base?.scrapeTimeout : undefined),
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
        const interval = parseDurationSeconds(plan.scrapeInterval)!;
        if (interval < minimumScrapeIntervalSeconds) {
            problems.push(`${key}.scrapeInterval: ${plan.scrapeInterval} is too short; allowed: ${minimumScrapeIntervalSeconds}s or more`);
        }
        if (plan.scrapeTimeout !== undefined && (parseDurationSeconds(plan.scrapeTimeout)! > interval || parseDurationSeconds(plan.scrapeTimeout)! === 0)) {
            problems.push(`${key}.scrapeTimeout: ${plan.scrapeTimeout} is above the scrape interval ${plan.scrapeInterval} or zero; Prometheus refuses it; allowed: more than 0s, at most the interval`);
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
            const parsed = labelName.safeParse(label, { errorMap: configErrorMap });
            if (!parsed.success) {
                problems.push(`${key}.externalLabels.${label}: ${parsed.error.issues[0].message}`);
            } else if ((reservedExternalLabels as readonly string[]).includes(label) || label === raw.thanos.replicaLabel) {
                problems.push(`${key}.externalLabels.${label}: set by the platform; reserved: ${[...reservedExternalLabels, raw.thanos.replicaLabel].join(", ")}`);
            }
        }
        // One scrape job per app, named after it: Prometheus refuses two jobs of one name.
        const appNames = new Set<string>();
        instance.apps.forEach((app, appIndex) => {
            const [field, appName] = "family" in app ? ["family", app.family] : ["name", app.name];
            if (appNames.has(appName)) {
                problems.push(`${key}.apps[${appIndex}].${field}: app '${appName}' is bound twice to instance '${instance.name}'`);
            }
            appNames.add(appName);
        });
        return { ...instance, replicas: instance.replicas ?? 1, plan: plan ?? builtinPlans.small } as InstanceConfig;
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
    raw.ecs.subnets.availabilityZones?.forEach((zone, index) => {
        if (!zone.startsWith(raw.region)) problems.push(`${projectName}:ecs.subnets.availabilityZones[${index}]: ${zone} is not a zone of the stack's region ${raw.region}`);
    });
    if (raw.bucket.type === "existing" && !awsS3Endpoint.test(raw.bucket.endpoint)) {
        problems.push(`${projectName}:bucket.endpoint: ECS tasks reach the bucket with IAM task roles; allowed: bucket.type s3, or an existing bucket on an AWS S3 endpoint such as s3.${raw.region}.amazonaws.com`);
    }
    if (raw.bucketAccessKey) {
        problems.push(`${projectName}:bucketAccessKey: ECS tasks authenticate to S3 with their task role; remove bucketAccessKey and bucketSecretKey so no static key is written into configuration`);
    }
    instances.forEach((instance, index) => {
        if (instance.platform !== "ecs") return;
        const problem = prometheusTaskProblem(instance);
        if (problem !== undefined) problems.push(`${projectName}:instances[${index}]: on ECS Fargate the Prometheus task of '${instance.name}' (plan '${instance.plan.name}'): ${problem}`);
    });
    if (ecsInstances.length > 0) {
        for (const [component, problem] of Object.entries(thanosTaskProblems(raw.thanos))) {
            problems.push(`${projectName}:thanos.${component}.memory: the Thanos ${component} task on ECS Fargate: ${problem}`);
        }
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
    readonly brokerBackendPassphrase?: pulumi.Input<string>;
}

function checkTsuru(config: RawStackConfig, problems: string[]): void {
    if (config.broker !== undefined) {
        if (!config.brokerBackendPassphrase) problems.push(`${projectName}:brokerBackendPassphrase: is required with broker (set it with --secret); it encrypts the instance stacks' secrets`);
        const plans = mergePlans(config.plans, []);
        for (const [pool, names] of Object.entries(config.broker.poolPlans)) {
            for (const name of names.filter((plan) => plans[plan] === undefined)) problems.push(`${projectName}:broker.poolPlans.${pool}: unknown plan '${name}'; allowed: ${Object.keys(plans).join(", ")}`);
        }
    }
    if (config.tsuru === undefined) return;
    if (config.tsuru.endpoints === undefined && config.broker === undefined) {
        problems.push(`${projectName}:tsuru.endpoints: is required unless the stack deploys the broker (then its address is registered)`);
        return;
    }
    const endpoints = config.broker ? { ...(typeof config.tsuru.endpoints === "string" ? { production: config.tsuru.endpoints } : config.tsuru.endpoints), [config.broker.cluster]: "http://broker.placeholder.svc:8080" } : config.tsuru.endpoints;
    const { failures } = validateServiceInputs({ ...config.tsuru, endpoints, password: config.tsuruServicePassword || "generated" });
    for (const failure of failures) {
        problems.push(`${projectName}:tsuru.${failure.property}: ${failure.reason}`);
    }
}

export function parseStackConfig(raw: Record<string, unknown>, secrets: ConfigSecrets = {}): StackConfig {
    const parsed = stackConfigSchema.safeParse(raw, { errorMap: configErrorMap });
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
        broker: config.broker,
        brokerBackendPassphrase: secrets.brokerBackendPassphrase,
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
    const brokerBackendPassphrase = raw.brokerBackendPassphrase ? config.getSecret("brokerBackendPassphrase") : undefined;
    // The plain copies only serve validation; the secrets travel as secret Outputs.
    return parseStackConfig(raw, { bucketCredentials, tsuruServicePassword, brokerBackendPassphrase });
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

// ---------------------------------------------------------------------------------------------------------------
// The broker: one Pulumi stack per Tsuru service instance. Its settings are the platform facts an instance needs
// (labels, namespace, plan catalog, alertmanagers); each instance's record is its own stack's config.
// ---------------------------------------------------------------------------------------------------------------

/** Project of the instance stacks (stack `instance-<name>`); the namespace of their config keys. */
export const instanceProjectName = "prometheus-paas-instance";


/** What the broker process is told about the platform (the deployment component renders it from the stack config). */
export const brokerSettingsSchema = strictObject({
    environment: dnsLabel("environment", 20),
    region: z.string().min(1),
    product: z.string().min(1).default("tsuru"),
    /** Namespace the instances' Prometheus pods run in. */
    namespace: dnsLabel("namespace").default("prometheus-tenants"),
    replicaLabel: labelName.default("prometheus_replica"),
    alertmanagers: z.array(z.string().url("alertmanagers entries must be URLs such as http://alertmanager:9093")).default([]),
    /** Plan catalog overrides, exactly as the stack's `plans` key. */
    plans: z.record(planOverrideSchema).default({}),
    /** Thanos Query of the platform stack, shown by `tsuru service-instance-info`. */
    thanosQueryUrl: z.string().url().optional(),
    /** Where the units of an app run when `app-internal-hosts` does not say (from `app-pool-name`). */
    poolNamespaces: poolNamespacesSchema.default({}),
    /** Plans offered in a pool (pool name → plan names); pools not listed get every plan. */
    poolPlans: z.record(z.array(z.string()).min(1)).default({}),
    /** As the stacks' kubernetes.skipAwait: only for an API server without kubelets (the tests). */
    skipAwait: z.boolean().default(false),
});

export interface BrokerSettings extends Omit<z.infer<typeof brokerSettingsSchema>, "plans"> {
    readonly plans: Readonly<Record<string, Plan>>;
}

export function parseBrokerSettings(raw: Record<string, unknown>): BrokerSettings {
    const parsed = brokerSettingsSchema.safeParse(raw);
    if (!parsed.success) {
        throw new ConfigError(parsed.error.issues.map((issue) => formatIssue(issue).replace(`${projectName}:`, "broker settings: ")));
    }
    const problems: string[] = [];
    const plans = mergePlans(parsed.data.plans, problems);
    for (const [pool, names] of Object.entries(parsed.data.poolPlans)) {
        for (const name of names.filter((plan) => plans[plan] === undefined)) {
            problems.push(`broker settings: poolPlans.${pool}: unknown plan '${name}'; allowed: ${Object.keys(plans).join(", ")}`);
        }
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return { ...parsed.data, plans };
}

/** The namespace of a pool's units under the pool rule. */
export function poolNamespace(rule: PoolNamespaces, pool: string): string {
    return rule.pools[pool] ?? rule.pattern.replace("{pool}", pool.toLowerCase());
}

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

/** Record keys whose config values are plain strings (never JSON-decoded, so a team "123" stays a string). */
const recordStringKeys = new Set(["plan", "team", "description", "pool", "cluster", "lastError", "updatedAt", "brokerInputs"]);

/** Validates a record read from stack config, where the CLI may have written scalars as strings ("1", "true"). */
export function parseInstanceRecord(config: Record<string, unknown>): InstanceRecord {
    const raw = Object.fromEntries(Object.entries(config).map(([key, value]) =>
        [key, typeof value === "string" && !recordStringKeys.has(key) ? decodeConfigValue(value) : value]));
    const parsed = instanceRecordSchema.safeParse(raw);
    if (!parsed.success) {
        throw new ConfigError(parsed.error.issues.map((issue) => `${instanceProjectName}:${formatPath(issue.path)}: ${issue.message}`));
    }
    return parsed.data;
}

/** The instance a record describes, validated by the same rules as the `instances` of a stack. */
export function instanceFromRecord(name: string, record: Pick<InstanceRecord, "plan" | "team" | "apps" | "jobs">, settings: BrokerSettings): KubernetesInstanceConfig {
    const parsed = instanceSchema.safeParse({ name, platform: "kubernetes", plan: record.plan, team: record.team, apps: record.apps, jobs: record.jobs });
    if (!parsed.success) {
        throw new ConfigError(parsed.error.issues.map((issue) => `instance ${name}: ${formatPath(issue.path) || "name"}: ${issue.message}`));
    }
    const problems: string[] = [];
    const raw = { instances: [parsed.data], thanos: { replicaLabel: settings.replicaLabel } } as unknown as RawStackConfig;
    const [instance] = checkInstances(raw, settings.plans as Record<string, Plan>, problems);
    if (problems.length > 0) throw new ConfigError(problems.map((problem) => problem.replace(`${projectName}:instances[0]`, `instance ${name}`)));
    return instance as KubernetesInstanceConfig;
}

/** Reads the current (instance) stack's record inside its inline program. */
export function loadInstanceRecord(): InstanceRecord {
    const prefix = `${instanceProjectName}:`;
    const raw: Record<string, unknown> = {};
    for (const [fullKey, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (!fullKey.startsWith(prefix)) continue;
        const key = fullKey.slice(prefix.length);
        raw[key] = value;
    }
    return parseInstanceRecord(raw);
}

/** A merged plan catalog in the `plans` key's own format (what the broker's settings carry). */
export function planOverrides(plans: Readonly<Record<string, Plan>>): Record<string, z.infer<typeof planOverrideSchema>> {
    return Object.fromEntries(Object.values(plans).map((plan) => [plan.name, {
        description: plan.description,
        cpu: plan.cpu,
        memory: `${plan.memoryMiB}Mi`,
        tmpfs: `${plan.tmpfsMiB}Mi`,
        retentionTime: plan.retentionTime,
        retentionSize: `${plan.retentionSizeMiB}Mi`,
        scrapeInterval: plan.scrapeInterval,
        sampleLimit: plan.sampleLimit,
        labelLimit: plan.labelLimit,
        targetLimit: plan.targetLimit,
    }]));
}
