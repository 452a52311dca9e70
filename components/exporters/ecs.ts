import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { cloudMapHost } from "../aws/containers";
import {
    cloudMapService,
    EcsContext,
    EfsMount,
    executionRole,
    fargateService,
    fargateTaskDefinition,
    logGroup,
    securityGroup,
    taskRole,
    allowFromGroup,
} from "../aws/ecs";
import { efsVolume } from "../aws/efs";
import { configReadStatements, efsClientStatements } from "../aws/iam";
import type { YaceConfig } from "../config/types";
import { renderYaceConfig, yaceConfigPrefix, yaceContainers, yacePort, yaceStatements } from "./yace";

export interface YaceArgs {
    /** Cluster, network, Cloud Map namespace and configuration bucket shared by the ECS components. */
    readonly ecs: EcsContext;
    /** YACE's access point on the configuration file system. */
    readonly efs: EfsMount;
    /** The validated `yace` section: jobs, regions, period, length. */
    readonly yace: YaceConfig;
}

/** YACE on ECS: CloudWatch metrics of the configured namespaces, scraped by the chosen instances through Cloud Map. */
export class Yace extends pulumi.ComponentResource {
    readonly jobName = "yace";
    readonly host: string;
    readonly port = yacePort;
    /** Prometheus instances admit themselves here to scrape YACE. */
    readonly securityGroupId: pulumi.Output<string>;

    constructor(name: string, args: YaceArgs, opts?: pulumi.ComponentResourceOptions) {
        const { ecs, yace } = args;
        if (yace.jobs.length === 0) {
            throw new Error(`Yace ${name}: no discovery job; allowed: at least one job`);
        }
        super("paas:exporters:Yace", name, {}, opts);
        const child = { parent: this };
        this.host = cloudMapHost("yace", ecs.namespaceName);
        const configYml = renderYaceConfig(yace, ecs.region);

        const object = new aws.s3.BucketObjectv2(`${name}-config`, {
            bucket: ecs.configBucket.name,
            key: `${yaceConfigPrefix}config.yml`,
            content: configYml,
            contentType: "application/yaml",
        }, child);
        const logs = logGroup(`${name}-logs`, `/paas/${ecs.environment}/exporters/yace`, ecs, child);
        const group = securityGroup(`${name}-tasks`, "YACE: metrics port from admitted Prometheus instances only", ecs, child);
        const nfs = allowFromGroup(`${name}-nfs`, { securityGroupId: args.efs.securityGroupId, from: group.id, port: 2049, description: "NFS from YACE" }, child);

        const statements = pulumi.all([ecs.configBucket.arn, args.efs.fileSystemArn, args.efs.accessPointArn]).apply(([configBucketArn, fileSystemArn, accessPointArn]) => [
            ...yaceStatements(yace),
            ...configReadStatements({ bucketArn: configBucketArn, prefix: yaceConfigPrefix }),
            ...efsClientStatements({ fileSystemArn, accessPointArn, write: true }),
        ]);
        const role = taskRole(name, ecs, statements, child);
        const containers = pulumi.all([logs.name, ecs.configBucket.name]).apply(([logGroupName, configBucket]) =>
            yaceContainers({ yace, configYml, region: ecs.region, logGroup: logGroupName, configBucket }));
        const execution = executionRole(name, ecs, { logGroupArns: [logs.arn], containers }, child);

        const taskDefinition = fargateTaskDefinition(name, {
            family: `yace-${ecs.environment}`,
            containers,
            taskRoleArn: role.arn,
            executionRoleArn: execution.arn,
            volumes: [efsVolume("config", args.efs.fileSystemId, args.efs.accessPointId)],
        }, { ...child, dependsOn: [object] });
        const registry = cloudMapService(`${name}-discovery`, "yace", ecs, child);
        fargateService(name, ecs, {
            serviceName: "yace",
            taskDefinitionArn: taskDefinition.arn,
            desiredCount: 1,
            securityGroupIds: [group.id],
            capacityProvider: ecs.capacity.statelessProvider,
            minimumHealthyPercent: 0,
            maximumPercent: 200,
            registryArn: registry.arn,
        }, { ...child, dependsOn: [...args.efs.mountTargets, nfs] });

        this.securityGroupId = group.id;
        this.registerOutputs({ host: this.host, securityGroupId: this.securityGroupId });
    }
}
