import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { EcsConfig } from "../config/types";
import { EcsContext } from "./ecs";
import { ConfigFileSystem, SubnetRef } from "./efs";
import { hardenBucket } from "./s3";

export interface EcsFoundationArgs {
    /** The validated `ecs` section: cluster, VPC, subnets, namespace, log retention, capacity. */
    readonly ecs: EcsConfig;
    /** Stack environment, part of every name. */
    readonly environment: string;
    /** AWS region of the stack. */
    readonly region: string;
    /** Components that mount the configuration file system, one access point each. */
    readonly efsDirectories: readonly string[];
}

/** What every ECS component shares: the cluster, the network, the Cloud Map namespace, the config bucket and EFS. */
export class EcsFoundation extends pulumi.ComponentResource {
    readonly context: EcsContext;
    readonly fileSystem: ConfigFileSystem;

    constructor(name: string, args: EcsFoundationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("paas:aws:EcsFoundation", name, {}, opts);
        const child = { parent: this };
        const { ecs } = args;

        const identity = aws.getCallerIdentityOutput({}, child);
        const partition = aws.getPartitionOutput({}, child);

        const vpcId = ecs.vpc.id !== undefined ? pulumi.output(ecs.vpc.id) : aws.ec2.getVpcOutput({ tags: ecs.vpc.tags }, child).id;
        // Known in number before any apply: given ids, or one subnet looked up per configured zone (the look-up
        // fails when a zone has none or several, which EFS' one mount target per zone could not serve either).
        const subnets: SubnetRef[] = ecs.subnets.ids !== undefined
            ? ecs.subnets.ids.map((id) => ({ key: id, id }))
            : ecs.subnets.availabilityZones!.map((zone) => ({ key: zone, id: aws.ec2.getSubnetOutput({ vpcId, availabilityZone: zone, tags: ecs.subnets.tags }, child).id }));
        const subnetIds = subnets.map((subnet) => subnet.id);

        let clusterArn: pulumi.Output<string>;
        if (ecs.cluster.existing) {
            clusterArn = aws.ecs.getClusterOutput({ clusterName: ecs.cluster.name }, child).arn;
        } else {
            const cluster = new aws.ecs.Cluster(`${name}-cluster`, {
                name: ecs.cluster.name,
                settings: [{ name: "containerInsights", value: "enabled" }],
            }, child);
            new aws.ecs.ClusterCapacityProviders(`${name}-capacity`, {
                clusterName: cluster.name,
                capacityProviders: ["FARGATE", "FARGATE_SPOT"],
                defaultCapacityProviderStrategies: [{ capacityProvider: "FARGATE", weight: 1 }],
            }, child);
            clusterArn = cluster.arn;
        }

        const namespace = new aws.servicediscovery.PrivateDnsNamespace(`${name}-namespace`, {
            name: ecs.serviceDiscoveryNamespace,
            description: `Prometheus sidecars, Thanos store and exporters of ${args.environment}`,
            vpc: vpcId,
        }, child);

        // Configuration is derived from the stack: the bucket holds nothing that `pulumi up` cannot rewrite.
        const configBucket = new aws.s3.Bucket(`${name}-config`, {
            bucketPrefix: `prometheus-config-${args.environment}-`,
            forceDestroy: true,
            tags: { "paas.tsuru.io/purpose": "prometheus-configuration" },
        }, child);
        hardenBucket(`${name}-config`, configBucket, {}, child);

        this.fileSystem = new ConfigFileSystem(`${name}-efs`, { vpcId, subnets, directories: args.efsDirectories }, child);

        this.context = {
            environment: args.environment,
            region: args.region,
            accountId: identity.accountId,
            partition: partition.partition,
            clusterArn,
            clusterName: ecs.cluster.name,
            vpcId,
            subnetIds,
            namespaceId: namespace.id,
            namespaceName: ecs.serviceDiscoveryNamespace,
            configBucket: { name: configBucket.bucket, arn: configBucket.arn },
            logRetentionDays: ecs.logRetentionDays,
            capacity: ecs.capacity,
        };
        this.registerOutputs({ clusterArn, vpcId, subnetIds, namespaceId: namespace.id, configBucket: configBucket.bucket });
    }
}
