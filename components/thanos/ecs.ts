import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
    allowFromCidr,
    allowFromGroup,
    cloudMapService,
    EcsContext,
    executionRole,
    fargateService,
    fargateTaskDefinition,
    logGroup,
    securityGroup,
    taskRole,
} from "../aws/ecs";
import { assertCompactorSingleton } from "../config/schema";
import type { ThanosConfig } from "../config/types";
import { queryHttpPort, thanosPorts } from "./defaults";
import { dataVolume, ecsQueryEndpoints, tenantsQueryService, thanosTaskContainers } from "./ecs-spec";
import { thanosBucketStatements } from "./iam";

/** Port of the internal load balancer's listener in front of Thanos query: plain HTTP's, so queryUrl names none. */
export const queryListenerPort = 80;

export interface EcsThanosArgs {
    /** Cluster, network and Cloud Map namespace shared by the ECS components. */
    readonly ecs: EcsContext;
    /** Validated Thanos settings: replica label, replicas, compactor retention. */
    readonly thanos: ThanosConfig;
    /** objstore.yml for store and compactor (task-role authentication: no static key inside). */
    readonly objstoreConfig: pulumi.Input<string>;
    /** The Thanos bucket, for the task roles. */
    readonly bucket: { readonly arn: pulumi.Input<string>; readonly kmsKeyArn?: string };
    /**
     * Every instance's sidecars: their StoreAPI endpoint and the security group of their tasks, which both Queries
     * must be admitted to and whose history front may reach the tenants' Query.
     */
    readonly sidecars: readonly { readonly storeApiEndpoint: string; readonly securityGroupId: pulumi.Input<string> }[];
    /** CIDRs allowed to reach query's internal load balancer (Grafana over VPC peering). */
    readonly queryAllowedCidrs: readonly string[];
}

/**
 * Thanos store gateway, the platform's query (internal load balancer), the tenants' query (Cloud Map, for the
 * instances' history fronts only) and the singleton compactor on ECS Fargate.
 */
export class EcsThanos extends pulumi.ComponentResource {
    /** Grafana's datasource URL: the internal load balancer in front of query. */
    readonly queryUrl: pulumi.Output<string>;
    readonly queryLoadBalancerDnsName: pulumi.Output<string>;

    constructor(name: string, args: EcsThanosArgs, opts?: pulumi.ComponentResourceOptions) {
        assertCompactorSingleton(args.thanos.compactor.replicas);
        if (args.queryAllowedCidrs.length === 0) {
            throw new Error(`EcsThanos ${name}: queryAllowedCidrs is empty; allowed: at least one CIDR (query is reachable from nowhere else)`);
        }
        super("paas:thanos:EcsThanos", name, {}, opts);
        const child = { parent: this };
        const { ecs, thanos } = args;
        const family = (component: string) => `thanos-${ecs.environment}-${component}`;
        const queryEndpoints = ecsQueryEndpoints(ecs.namespaceName, args.sidecars.map((sidecar) => sidecar.storeApiEndpoint));

        const logs = {
            store: logGroup(`${name}-store-logs`, `/paas/${ecs.environment}/thanos/store`, ecs, child),
            query: logGroup(`${name}-query-logs`, `/paas/${ecs.environment}/thanos/query`, ecs, child),
            queryTenants: logGroup(`${name}-query-tenants-logs`, `/paas/${ecs.environment}/thanos/query-tenants`, ecs, child),
            compactor: logGroup(`${name}-compactor-logs`, `/paas/${ecs.environment}/thanos/compactor`, ecs, child),
        };
        const containers = pulumi.all([args.objstoreConfig, logs.store.name, logs.query.name, logs.queryTenants.name, logs.compactor.name]).apply(([objstoreConfig, store, query, queryTenants, compactor]) =>
            thanosTaskContainers({ thanos, objstoreConfig, queryEndpoints, region: ecs.region, logGroups: { store, query, queryTenants, compactor } }));

        const groups = {
            store: securityGroup(`${name}-store`, "Thanos store: StoreAPI to query only", ecs, child),
            query: securityGroup(`${name}-query`, "Thanos query: HTTP from its load balancer only", ecs, child),
            loadBalancer: securityGroup(`${name}-query-lb`, "Thanos query load balancer: the allowed CIDRs only", ecs, child),
            queryTenants: securityGroup(`${name}-query-tenants`, "Thanos tenants' query: HTTP from the instances' history fronts only", ecs, child),
            compactor: securityGroup(`${name}-compactor`, "Thanos compactor: no ingress", ecs, child),
        };
        allowFromGroup(`${name}-store-from-query`, { securityGroupId: groups.store.id, from: groups.query.id, port: thanosPorts.grpc, description: "StoreAPI from Thanos query" }, child);
        allowFromGroup(`${name}-store-from-query-tenants`, { securityGroupId: groups.store.id, from: groups.queryTenants.id, port: thanosPorts.grpc, description: "StoreAPI from the tenants' Thanos query" }, child);
        args.sidecars.forEach((sidecar, index) => {
            allowFromGroup(`${name}-sidecar-${index}-from-query`, { securityGroupId: sidecar.securityGroupId, from: groups.query.id, port: thanosPorts.grpc, description: "StoreAPI from Thanos query" }, child);
            allowFromGroup(`${name}-sidecar-${index}-from-query-tenants`, { securityGroupId: sidecar.securityGroupId, from: groups.queryTenants.id, port: thanosPorts.grpc, description: "StoreAPI from the tenants' Thanos query" }, child);
            // The instance's history front (in the sidecar's task) forwards its tenant's queries.
            allowFromGroup(`${name}-query-tenants-from-instance-${index}`, { securityGroupId: groups.queryTenants.id, from: sidecar.securityGroupId, port: queryHttpPort, description: "HTTP from an instance's history front" }, child);
        });
        allowFromGroup(`${name}-query-from-lb`, { securityGroupId: groups.query.id, from: groups.loadBalancer.id, port: queryHttpPort, description: "HTTP from the query load balancer" }, child);
        args.queryAllowedCidrs.forEach((cidr, index) => {
            allowFromCidr(`${name}-query-lb-${index}`, { securityGroupId: groups.loadBalancer.id, cidr, port: queryListenerPort, description: `Thanos query from ${cidr}` }, child);
        });

        const bucketAccess = (component: "store" | "compactor") =>
            pulumi.output(args.bucket.arn).apply((bucketArn) => thanosBucketStatements(component, { bucketArn, kmsKeyArn: args.bucket.kmsKeyArn }));
        const roles = {
            store: taskRole(`${name}-store`, ecs, bucketAccess("store"), child),
            // Parked (0 replicas, e.g. the compactor runs on the other platform): no role that could delete blocks.
            compactor: thanos.compactor.replicas > 0 ? taskRole(`${name}-compactor`, ecs, bucketAccess("compactor"), child) : undefined,
        };
        const taskContainers = {
            store: containers.apply((all) => all.store),
            query: containers.apply((all) => all.query),
            queryTenants: containers.apply((all) => all.queryTenants),
            compactor: containers.apply((all) => all.compactor),
        };
        const executionRoles = {
            store: executionRole(`${name}-store`, ecs, { logGroupArns: [logs.store.arn], containers: taskContainers.store }, child),
            query: executionRole(`${name}-query`, ecs, { logGroupArns: [logs.query.arn], containers: taskContainers.query }, child),
            queryTenants: executionRole(`${name}-query-tenants`, ecs, { logGroupArns: [logs.queryTenants.arn], containers: taskContainers.queryTenants }, child),
            compactor: executionRole(`${name}-compactor`, ecs, { logGroupArns: [logs.compactor.arn], containers: taskContainers.compactor }, child),
        };

        // Store gateway: reads blocks from the bucket, registered in Cloud Map for query.
        const storeTask = fargateTaskDefinition(`${name}-store`, {
            family: family("store"),
            containers: taskContainers.store,
            taskRoleArn: roles.store.arn,
            executionRoleArn: executionRoles.store.arn,
            volumes: [{ name: dataVolume }],
            ephemeralStorageGiB: ecs.capacity.storeStorageGiB,
        }, child);
        const storeRegistry = cloudMapService(`${name}-store`, "thanos-store", ecs, child);
        fargateService(`${name}-store`, ecs, {
            serviceName: "thanos-store",
            taskDefinitionArn: storeTask.arn,
            desiredCount: thanos.store.replicas,
            securityGroupIds: [groups.store.id],
            capacityProvider: ecs.capacity.statelessProvider,
            minimumHealthyPercent: 100,
            maximumPercent: 200,
            registryArn: storeRegistry.arn,
        }, child);

        // Query: no task role at all (no bucket access), behind an internal load balancer.
        const loadBalancer = new aws.lb.LoadBalancer(`${name}-query`, {
            name: `thanos-query-${ecs.environment}`.slice(0, 32),
            internal: true,
            loadBalancerType: "application",
            subnets: [...ecs.subnetIds],
            securityGroups: [groups.loadBalancer.id],
            dropInvalidHeaderFields: true,
        }, child);
        const targetGroup = new aws.lb.TargetGroup(`${name}-query`, {
            port: queryHttpPort,
            protocol: "HTTP",
            targetType: "ip",
            vpcId: ecs.vpcId,
            healthCheck: { path: "/-/ready", port: String(queryHttpPort), matcher: "200" },
            deregistrationDelay: 30,
        }, child);
        const listener = new aws.lb.Listener(`${name}-query`, {
            loadBalancerArn: loadBalancer.arn,
            port: queryListenerPort,
            protocol: "HTTP",
            defaultActions: [{ type: "forward", targetGroupArn: targetGroup.arn }],
        }, child);
        const queryTask = fargateTaskDefinition(`${name}-query`, {
            family: family("query"),
            containers: taskContainers.query,
            executionRoleArn: executionRoles.query.arn,
        }, child);
        fargateService(`${name}-query`, ecs, {
            serviceName: "thanos-query",
            taskDefinitionArn: queryTask.arn,
            desiredCount: thanos.query.replicas,
            securityGroupIds: [groups.query.id],
            capacityProvider: ecs.capacity.statelessProvider,
            minimumHealthyPercent: 100,
            maximumPercent: 200,
            loadBalancers: [{ targetGroupArn: targetGroup.arn, containerName: "thanos-query", containerPort: queryHttpPort }],
        }, { ...child, dependsOn: [listener] });

        // The tenants' Query: enforces the tenant label, reached by the instances' history fronts by its Cloud Map name.
        const queryTenantsTask = fargateTaskDefinition(`${name}-query-tenants`, {
            family: family("query-tenants"),
            containers: taskContainers.queryTenants,
            executionRoleArn: executionRoles.queryTenants.arn,
        }, child);
        const queryTenantsRegistry = cloudMapService(`${name}-query-tenants`, tenantsQueryService, ecs, child);
        fargateService(`${name}-query-tenants`, ecs, {
            serviceName: tenantsQueryService,
            taskDefinitionArn: queryTenantsTask.arn,
            desiredCount: thanos.query.replicas,
            securityGroupIds: [groups.queryTenants.id],
            capacityProvider: ecs.capacity.statelessProvider,
            minimumHealthyPercent: 100,
            maximumPercent: 200,
            registryArn: queryTenantsRegistry.arn,
        }, child);

        // Compactor: at most one task, and a deployment that stops the old task before starting the new one.
        const compactorTask = fargateTaskDefinition(`${name}-compactor`, {
            family: family("compactor"),
            containers: taskContainers.compactor,
            taskRoleArn: roles.compactor?.arn,
            executionRoleArn: executionRoles.compactor.arn,
            volumes: [{ name: dataVolume }],
            ephemeralStorageGiB: ecs.capacity.compactorStorageGiB,
        }, child);
        fargateService(`${name}-compactor`, ecs, {
            serviceName: "thanos-compactor",
            taskDefinitionArn: compactorTask.arn,
            desiredCount: thanos.compactor.replicas,
            securityGroupIds: [groups.compactor.id],
            capacityProvider: "FARGATE",
            minimumHealthyPercent: 0,
            maximumPercent: 100,
        }, child);

        this.queryLoadBalancerDnsName = loadBalancer.dnsName;
        this.queryUrl = pulumi.interpolate`http://${loadBalancer.dnsName}`;
        this.registerOutputs({ queryUrl: this.queryUrl, queryLoadBalancerDnsName: this.queryLoadBalancerDnsName });
    }
}
