/**
 * Pure renderer of the YACE (yet-another-cloudwatch-exporter) configuration, its task's containers and its IAM needs.
 * Format: YACE `apiVersion: v1alpha1` discovery jobs (pkg/config/config.go of the pinned version).
 */
import { createHash } from "crypto";
import * as yaml from "js-yaml";
import { awsLogs, configSyncContainer, ContainerDefinition } from "../aws/containers";
import type { PermissionStatement } from "../aws/iam";
import type { YaceConfig } from "../config/types";
import { image } from "../images";

export const yacePort = 5000;

/** One discovery job as YACE reads it. */
export interface YaceDiscoveryJob {
    type: string;
    regions: string[];
    period: number;
    length: number;
    searchTags?: { key: string; value: string }[];
    dimensionNameRequirements?: string[];
    metrics: { name: string; statistics: string[]; period?: number; length?: number; nilToZero?: boolean }[];
}

export interface YaceDocument {
    apiVersion: "v1alpha1";
    "sts-region": string;
    discovery: { exportedTagsOnMetrics?: Record<string, string[]>; jobs: YaceDiscoveryJob[] };
}

export function yaceDocument(yace: YaceConfig, stsRegion: string): YaceDocument {
    const exportedTags: Record<string, string[]> = {};
    const jobs = yace.jobs.map((job): YaceDiscoveryJob => {
        if (job.exportedTags !== undefined) {
            // YACE keys exported tags by namespace: jobs of one namespace share them.
            exportedTags[job.namespace] = [...new Set([...(exportedTags[job.namespace] ?? []), ...job.exportedTags])];
        }
        return {
            type: job.namespace,
            regions: job.regions ?? yace.regions,
            period: job.period ?? yace.period,
            length: job.length ?? yace.length,
            ...(job.searchTags ? { searchTags: Object.entries(job.searchTags).map(([key, value]) => ({ key, value })) } : {}),
            ...(job.dimensionNameRequirements ? { dimensionNameRequirements: job.dimensionNameRequirements } : {}),
            metrics: job.metrics.map((metric) => ({ ...metric })),
        };
    });
    return {
        apiVersion: "v1alpha1",
        "sts-region": stsRegion,
        discovery: { ...(Object.keys(exportedTags).length > 0 ? { exportedTagsOnMetrics: exportedTags } : {}), jobs },
    };
}

export function renderYaceConfig(yace: YaceConfig, stsRegion: string): string {
    return yaml.dump(yaceDocument(yace, stsRegion), { lineWidth: -1, noRefs: true });
}

/** YACE's background scrape interval: the shortest period, so no CloudWatch datapoint is skipped. */
export function yaceScrapingIntervalSeconds(yace: YaceConfig): number {
    const periods = yace.jobs.flatMap((job) => job.metrics.map((metric) => metric.period ?? job.period ?? yace.period));
    return Math.max(60, Math.min(...periods));
}

/** Extra discovery permissions YACE's README lists per namespace. */
export const yaceNamespaceActions: Readonly<Record<string, readonly string[]>> = {
    "AWS/ApiGateway": ["apigateway:GET"],
    "AWS/AutoScaling": ["autoscaling:DescribeAutoScalingGroups"],
    "AWS/DMS": ["dms:DescribeReplicationInstances", "dms:DescribeReplicationTasks"],
    "AWS/EC2Spot": ["ec2:DescribeSpotFleetRequests"],
    "AWS/Prometheus": ["aps:ListWorkspaces"],
    "AWS/StorageGateway": ["storagegateway:ListGateways", "storagegateway:ListTagsForResource"],
    "AWS/TransitGateway": ["ec2:DescribeTransitGatewayAttachments"],
    "AWS/DDoSProtection": ["shield:ListProtections"],
};

/**
 * CloudWatch and tagging reads for the configured namespaces only. None of these actions supports resource-level
 * permissions, hence Resource "*"; the actions themselves are enumerated, never wildcarded.
 */
export function yaceStatements(yace: YaceConfig): PermissionStatement[] {
    const namespaces = [...new Set(yace.jobs.map((job) => job.namespace))];
    const extra = [...new Set(namespaces.flatMap((namespace) => yaceNamespaceActions[namespace] ?? []))].sort();
    return [
        {
            Sid: "ReadCloudWatchMetrics",
            Effect: "Allow",
            Action: ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics", "iam:ListAccountAliases", "tag:GetResources"],
            Resource: "*",
        },
        ...(extra.length > 0 ? [{ Sid: "DiscoverNamespaceResources", Effect: "Allow" as const, Action: extra, Resource: "*" }] : []),
    ];
}

const configDir = "/etc/yace";
/** Where YACE's configuration is published in the configuration bucket. */
export const yaceConfigPrefix = "exporters/yace/";

export interface YaceContainersInput {
    readonly yace: YaceConfig;
    readonly configYml: string;
    readonly region: string;
    readonly logGroup: string;
    readonly configBucket: string;
}

/** config-sync (S3 -> EFS) then YACE reading its config read-only from EFS. */
export function yaceContainers(input: YaceContainersInput): ContainerDefinition[] {
    const sync = configSyncContainer({
        image: image("awsCli"),
        region: input.region,
        bucket: input.configBucket,
        prefix: yaceConfigPrefix,
        volume: "config",
        mountPath: "/mnt/config",
        logGroup: input.logGroup,
    });
    return [sync, {
        name: "yace",
        image: image("yace"),
        essential: true,
        command: [`--config.file=${configDir}/config.yml`, `--listen-address=:${yacePort}`, `--scraping-interval=${yaceScrapingIntervalSeconds(input.yace)}`],
        // A config change changes the task definition, so ECS rolls YACE onto the new file.
        environment: [{ name: "CONFIG_SHA256", value: createHash("sha256").update(input.configYml).digest("hex") }],
        cpu: 128,
        memory: 256,
        portMappings: [{ containerPort: yacePort, protocol: "tcp", name: "metrics" }],
        dependsOn: [{ containerName: sync.name, condition: "COMPLETE" }],
        mountPoints: [{ sourceVolume: "config", containerPath: configDir, readOnly: true }],
        readonlyRootFilesystem: true,
        logConfiguration: awsLogs(input.logGroup, input.region, "yace"),
    }];
}
