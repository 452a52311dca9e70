/** The schemas of the AWS half: apps on ECS, the `ecs` section and the YACE exporter. No Pulumi imports. */
import { z } from "zod";
import { yaceSupportedNamespaces } from "../exporters/yace-namespaces";
import { thanosDefaults } from "../thanos/defaults";
import { absentWhenEmpty, awsRegion, dnsLabel, ecsName, exactlyOneOf, ipv4Cidr, ipv4CidrPrefix, metricsPath, metricsScheme, strictObject } from "./primitives";

const secretsManagerArn = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9\/_+=.@-]+(:[^:]*:[^:]*:[^:]*)?$/;

/** An app on ECS: the tasks of one task definition family in one cluster, found by prometheus-ecs-discovery. */
export const ecsAppSchema = strictObject({
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

/** CloudWatch Logs accepts only these retention periods. */
export const logRetentionDays = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

const queryCidr = ipv4Cidr
    .refine((cidr) => (ipv4CidrPrefix(cidr) ?? 32) >= 8, "Thanos query stays internal; allowed: prefixes /8 to /32 (never 0.0.0.0/0)");

const awsTagFilter = z.record(z.string().min(1)).refine((tags) => Object.keys(tags).length > 0, "give at least one tag");

const fargateStorageGiB = z.number().int().min(21, "Fargate ephemeral storage is 21-200 GiB").max(200, "Fargate ephemeral storage is 21-200 GiB");

const ecsClusterName = ecsName("cluster name");

const ecsSectionSchema = strictObject({
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

const yaceSectionSchema = strictObject({
    /** ECS instances whose Prometheus scrapes YACE (CloudWatch metrics of the whole account: choose who sees them). */
    scrapedBy: z.array(dnsLabel("instance name", 40)).min(1, "name the ECS instances that scrape YACE"),
    /** Default regions of every job; default: the stack's region. */
    regions: z.array(awsRegion).min(1).optional(),
    /** Default CloudWatch period and length (seconds) of every metric. */
    period: yacePeriod("period").default(300),
    length: yacePeriod("length").default(300),
    jobs: z.array(yaceJobSchema).min(1, "give at least one discovery job"),
});

/** The `ecs` key: absent (or {}) when no instance runs on ECS. */
export const ecsSchema = z.preprocess(absentWhenEmpty, ecsSectionSchema.optional());
/** The `yace` key: absent (or {}) when YACE is not deployed. */
export const yaceSchema = z.preprocess(absentWhenEmpty, yaceSectionSchema.optional());
export type EcsSection = z.infer<typeof ecsSectionSchema>;
export type YaceSection = z.infer<typeof yaceSectionSchema>;
