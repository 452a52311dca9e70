/**
 * The schemas of every `prometheus-paas:*` key: what each accepts and its defaults. No Pulumi imports and no
 * behaviour beyond validation; the AWS sections are in aws-schema.ts, the resolved types in types.ts.
 */
import { z } from "zod";
import { thanosDefaults } from "../thanos/defaults";
import { mebibytes } from "../units";
import { ecsAppSchema, ecsSchema, yaceSchema } from "./aws-schema";
import { ConfigError } from "./errors";
import { networkSchema } from "./network-schema";
import { checkRetentions } from "./retention";
import { absentWhenEmpty, alertmanagerUrls, cpuQuantity, dnsLabel, dnsSubdomain, duration, labelName, metricsPath, metricsScheme, projectName, quantity, strictObject } from "./primitives";

/** Labels this program sets itself; user-supplied external labels may not override them. */
export const reservedExternalLabels = ["environment", "region", "product", "tenant", "team"] as const;

export const planFields = {
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
export const planOverrideSchema = strictObject(planFields).partial();
/** Fields a new plan may leave out. */
export const optionalPlanFields: readonly string[] = ["scrapeTimeout"];

/** Pods of a Tsuru app or job: named by its pod label (tsuru.io/app-name, tsuru.io/job-name), in the namespace they run in. */
const tsuruPodsFields = (what: "app" | "job") => ({
    name: dnsLabel(`${what} name`, 40),
    /** Namespace the units run in (from `app-internal-hosts`, or the pool's namespace). */
    namespace: dnsLabel("namespace"),
    port: z.number().int().min(1).max(65535).default(8888),
    path: metricsPath,
    scheme: metricsScheme,
});

/** A Tsuru app on Kubernetes: every unit (pod) of it is scraped. */
export const kubernetesAppSchema = strictObject({
    ...tsuruPodsFields("app"),
    /** Only scrape these Tsuru processes (default: every process). */
    processes: z.array(dnsLabel("process name")).optional(),
});

/** A Tsuru job bound to an instance: its pods run in its pool's namespace. */
export const jobSchema = strictObject(tsuruPodsFields("job"));

const ruleSchema = strictObject({
    alert: z.string().optional(),
    record: z.string().optional(),
    expr: z.string().min(1),
    for: duration("for").optional(),
    labels: z.record(z.string()).optional(),
    annotations: z.record(z.string()).optional(),
}).refine((rule) => (rule.alert === undefined) !== (rule.record === undefined), "a rule needs exactly one of 'alert' or 'record'");

export const ruleGroupSchema = strictObject({
    name: z.string().min(1),
    interval: duration("interval").optional(),
    rules: z.array(ruleSchema).min(1),
});

/** A Tsuru team name, as instances and the broker's records carry it. */
const teamName = z.string().regex(/^[a-zA-Z][-@_.+a-zA-Z0-9]*$/, "team must be a Tsuru team name");

const instanceFields = {
    name: dnsLabel("instance name", 40),
    plan: z.string(),
    team: teamName,
    replicas: z.number().int().min(1, "replicas must be 1 (single) or 2-3 (HA)").max(3, "replicas must be at most 3"),
    externalLabels: z.record(z.string().min(1, "external label values must be non-empty")).default({}),
    rules: z.array(ruleGroupSchema).default([]),
};

/** The apps' fields depend on the platform: Tsuru apps (name, namespace) on Kubernetes, task families (family, cluster) on ECS. */
export const instanceSchema = z.preprocess(
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

export const kubernetesSchema = strictObject({
    namespace: dnsLabel("namespace").default("prometheus"),
    createNamespace: z.boolean().default(true),
    context: z.string().optional(),
    kubeconfig: z.string().optional(),
    renderYamlToDirectory: z.string().optional(),
    /** Only for clusters that never run pods (an API server without kubelets): the provider stops awaiting readiness. */
    skipAwait: z.boolean().default(false),
    /** Where the instances' pods' peers are: their NetworkPolicies admit only those (config/network.ts). */
    network: networkSchema,
});

/** Grafana organization per team: each instance's datasources go into its team's (Grafana OSS has no datasource permissions). */
export const grafanaOrgsSchema = z.record(teamName, z.number().int().min(1, "must be a Grafana organization id (1 or more)")).default({});

const grafanaSchema = strictObject({
    datasources: z.boolean().default(true),
    namespace: dnsLabel("namespace").optional(),
    orgs: grafanaOrgsSchema,
});

export const thanosSchema = strictObject({
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
        /** Age (from the block's ULID) before a fresh block is compacted: a block still being uploaded is never read half-way. */
        consistencyDelay: duration("consistencyDelay").default("30m"),
        /** Scratch disk on Kubernetes (ECS: ecs.capacity.compactorStorageGiB): an accounted emptyDir, or a volume claim with storageClass. */
        scratch: strictObject({
            size: quantity("size").default(`${thanosDefaults.compactor.diskGiB}Gi`),
            storageClass: dnsSubdomain("storageClass").optional(),
        }).default({}),
        /** Where the singleton runs when the stack has both platforms; default kubernetes if it has Kubernetes instances. */
        platform: z.enum(["kubernetes", "ecs"]).optional(),
    }).superRefine(checkRetentions).default({}),
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

const s3BucketName = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
export const bucketSchema = z.discriminatedUnion("type", [
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

export const poolNamespacesSchema = strictObject({
    /** Namespace of a pool's units, `{pool}` replaced by the pool name (Tsuru with use-pool-namespaces: tsuru-{pool}). */
    pattern: z.string().regex(/^[a-z0-9-]*(\{pool\})?[a-z0-9-]*$/, "pattern is a namespace with at most one {pool}, e.g. tsuru-{pool} or default").default("tsuru-{pool}"),
    /** Exceptions by pool name. */
    pools: z.record(dnsLabel("namespace")).default({}),
});

const imageReference = z
    .string()
    .regex(/^[a-z0-9.\/:_-]+(:[A-Za-z0-9_.-]+|@sha256:[a-f0-9]{64})$/, "image must be pinned: repository:tag or repository@sha256:digest")
    .refine((image) => !/:latest$/.test(image), "image must be pinned to a version, never :latest");

/** The broker on the Tsuru cluster (components/broker/deployment.ts); its password is tsuruServicePassword. */
export const brokerSchema = strictObject({
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

/** Registration of the service in Tsuru; the semantics are checked by the TsuruService provider's own validator. */
export const tsuruSchema = strictObject({
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
    alertmanagers: alertmanagerUrls("alertmanagers").default([]),
    bucketAccessKey: z.string().optional(),
    bucketSecretKey: z.string().optional(),
    ecs: ecsSchema,
    yace: yaceSchema,
    tsuru: z.preprocess(absentWhenEmpty, tsuruSchema.optional()),
    tsuruServicePassword: z.string().optional(),
    broker: z.preprocess(absentWhenEmpty, brokerSchema.optional()),
    brokerBackendPassphrase: z.string().optional(),
    /** Instance name → its web password (set with --secret); an instance without one gets a generated password. */
    instancePasswords: z.record(z.string()).default({}),
});

/** Keys whose values are secrets: read with getSecret, never placed in plain outputs. */
export const secretConfigKeys = ["bucketAccessKey", "bucketSecretKey", "tsuruServicePassword", "brokerBackendPassphrase"] as const;
