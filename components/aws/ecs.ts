/**
 * Building blocks every ECS component of this program wires: the shared context, task/execution roles, log groups,
 * security groups and Fargate services. Each helper creates resources under the caller's parent.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { EcsConfig } from "../config/types";
import { ContainerDefinition, taskSizeFor } from "./containers";
import { ecsTasksTrustPolicy, executionRoleStatements, PermissionStatement, policyDocument } from "./iam";

/** What the ECS foundation provides to every ECS component. */
export interface EcsContext {
    readonly environment: string;
    readonly region: string;
    readonly accountId: pulumi.Input<string>;
    readonly partition: pulumi.Input<string>;
    readonly clusterArn: pulumi.Input<string>;
    readonly clusterName: pulumi.Input<string>;
    readonly vpcId: pulumi.Input<string>;
    /** Known in number (given, or one looked up per zone), so resources can be created per subnet. */
    readonly subnetIds: readonly pulumi.Input<string>[];
    /** Cloud Map private DNS namespace: its id, and its name (known from config). */
    readonly namespaceId: pulumi.Input<string>;
    readonly namespaceName: string;
    /** Bucket of the published configuration files (prometheus.yml templates, rules, objstore.yml, YACE). */
    readonly configBucket: { readonly name: pulumi.Input<string>; readonly arn: pulumi.Input<string> };
    readonly logRetentionDays: number;
    readonly capacity: EcsConfig["capacity"];
}

/** The EFS access point a component mounts, and the security group its clients must be admitted to. */
export interface EfsMount {
    readonly fileSystemId: pulumi.Input<string>;
    readonly fileSystemArn: pulumi.Input<string>;
    readonly securityGroupId: pulumi.Input<string>;
    readonly accessPointId: pulumi.Input<string>;
    readonly accessPointArn: pulumi.Input<string>;
    /** The mount targets a task needs before it can mount the file system. */
    readonly mountTargets: readonly pulumi.Resource[];
}

export function logGroup(name: string, groupName: string, context: EcsContext, opts: pulumi.CustomResourceOptions): aws.cloudwatch.LogGroup {
    return new aws.cloudwatch.LogGroup(name, { name: groupName, retentionInDays: context.logRetentionDays }, opts);
}

function roleWithPolicy(name: string, description: string, context: EcsContext, statements: pulumi.Input<PermissionStatement[]>, opts: pulumi.CustomResourceOptions): aws.iam.Role {
    const role = new aws.iam.Role(name, {
        description,
        assumeRolePolicy: pulumi.output(context.accountId).apply((account) => JSON.stringify(ecsTasksTrustPolicy(account))),
    }, opts);
    new aws.iam.RolePolicy(name, {
        role: role.id,
        policy: pulumi.output(statements).apply((resolved) => JSON.stringify(policyDocument(resolved as PermissionStatement[]))),
    }, opts);
    return role;
}

/** The role the task's containers run as: exactly the statements given, nothing else. */
export function taskRole(name: string, context: EcsContext, statements: pulumi.Input<PermissionStatement[]>, opts: pulumi.CustomResourceOptions): aws.iam.Role {
    return roleWithPolicy(`${name}-task-role`, `Task role of ${name}`, context, statements, opts);
}

/** The role ECS uses to start the task: pull the images of its containers, write its logs, read its named secrets. */
export function executionRole(
    name: string,
    context: EcsContext,
    input: { logGroupArns: pulumi.Input<string>[]; containers: pulumi.Input<ContainerDefinition[]> },
    opts: pulumi.CustomResourceOptions,
): aws.iam.Role {
    // Exactly the secrets the containers name: a secret added to a container is granted with it.
    const statements = pulumi.all([pulumi.all(input.logGroupArns), pulumi.output(input.containers)]).apply(([logGroupArns, containers]) => executionRoleStatements({
        logGroupArns,
        secretValueFroms: containers.flatMap((container) => (container.secrets ?? []).map((secret) => secret.valueFrom)),
        images: containers.map((container) => container.image),
    }));
    return roleWithPolicy(`${name}-execution-role`, `Execution role of ${name}`, context, statements, opts);
}

/** A security group with no ingress and open egress (S3, ECR, CloudWatch and scrape targets are reached outbound). */
export function securityGroup(name: string, description: string, context: EcsContext, opts: pulumi.CustomResourceOptions): aws.ec2.SecurityGroup {
    const group = new aws.ec2.SecurityGroup(name, { description, vpcId: context.vpcId, tags: { Name: name } }, opts);
    new aws.vpc.SecurityGroupEgressRule(`${name}-egress`, {
        securityGroupId: group.id,
        description: "outbound to AWS APIs and scrape targets",
        ipProtocol: "-1",
        cidrIpv4: "0.0.0.0/0",
    }, opts);
    return group;
}

/** Admits TCP `port` on `securityGroupId` from one security group (never from a CIDR). */
export function allowFromGroup(name: string, input: { securityGroupId: pulumi.Input<string>; from: pulumi.Input<string>; port: number; description: string }, opts: pulumi.CustomResourceOptions): aws.vpc.SecurityGroupIngressRule {
    return new aws.vpc.SecurityGroupIngressRule(name, {
        securityGroupId: input.securityGroupId,
        referencedSecurityGroupId: input.from,
        ipProtocol: "tcp",
        fromPort: input.port,
        toPort: input.port,
        description: input.description,
    }, opts);
}

/** Ingress on one TCP port of `securityGroupId` from an IPv4 CIDR (e.g. Grafana over VPC peering). */
export function allowFromCidr(name: string, input: { securityGroupId: pulumi.Input<string>; cidr: string; port: number; description: string }, opts: pulumi.CustomResourceOptions): aws.vpc.SecurityGroupIngressRule {
    return new aws.vpc.SecurityGroupIngressRule(name, {
        securityGroupId: input.securityGroupId,
        cidrIpv4: input.cidr,
        ipProtocol: "tcp",
        fromPort: input.port,
        toPort: input.port,
        description: input.description,
    }, opts);
}

export interface TaskDefinitionInput {
    readonly family: string;
    /** The containers; the task's CPU and memory are sized from them once resolved. */
    readonly containers: pulumi.Input<ContainerDefinition[]>;
    readonly taskRoleArn?: pulumi.Input<string>;
    readonly executionRoleArn: pulumi.Input<string>;
    readonly volumes?: aws.types.input.ecs.TaskDefinitionVolume[];
    readonly ephemeralStorageGiB?: number;
}

export function fargateTaskDefinition(name: string, input: TaskDefinitionInput, opts: pulumi.CustomResourceOptions): aws.ecs.TaskDefinition {
    const containers = pulumi.output(input.containers);
    const size = containers.apply(taskSizeFor);
    return new aws.ecs.TaskDefinition(name, {
        family: input.family,
        requiresCompatibilities: ["FARGATE"],
        networkMode: "awsvpc",
        cpu: size.cpu,
        memory: size.memory,
        taskRoleArn: input.taskRoleArn,
        executionRoleArn: input.executionRoleArn,
        containerDefinitions: containers.apply((resolved) => JSON.stringify(resolved)),
        volumes: input.volumes,
        ephemeralStorage: input.ephemeralStorageGiB !== undefined ? { sizeInGib: input.ephemeralStorageGiB } : undefined,
        runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: "X86_64" },
    }, opts);
}

export interface FargateServiceInput {
    readonly serviceName: string;
    readonly taskDefinitionArn: pulumi.Input<string>;
    readonly desiredCount: number;
    readonly securityGroupIds: pulumi.Input<string>[];
    readonly capacityProvider: "FARGATE" | "FARGATE_SPOT";
    /**
     * Deployment bounds. Stateful singletons (a Prometheus replica, the compactor) use 0/100: ECS stops the old
     * task before it starts the new one, so two never run at once.
     */
    readonly minimumHealthyPercent: number;
    readonly maximumPercent: number;
    readonly registryArn?: pulumi.Input<string>;
    readonly loadBalancers?: aws.types.input.ecs.ServiceLoadBalancer[];
    /**
     * The update ends only when the service's new deployment completed: the provider fails it when the circuit
     * breaker rolled the deployment back, so whatever depends on the service is not touched.
     */
    readonly waitForSteadyState?: boolean;
}

export function fargateService(name: string, context: EcsContext, input: FargateServiceInput, opts: pulumi.CustomResourceOptions): aws.ecs.Service {
    return new aws.ecs.Service(name, {
        name: input.serviceName,
        cluster: context.clusterArn,
        taskDefinition: input.taskDefinitionArn,
        desiredCount: input.desiredCount,
        capacityProviderStrategies: [{ capacityProvider: input.capacityProvider, weight: 1 }],
        platformVersion: "LATEST",
        networkConfiguration: { subnets: [...context.subnetIds], securityGroups: input.securityGroupIds, assignPublicIp: false },
        deploymentMinimumHealthyPercent: input.minimumHealthyPercent,
        deploymentMaximumPercent: input.maximumPercent,
        deploymentCircuitBreaker: { enable: true, rollback: true },
        waitForSteadyState: input.waitForSteadyState,
        serviceRegistries: input.registryArn !== undefined ? { registryArn: input.registryArn } : undefined,
        loadBalancers: input.loadBalancers,
        enableEcsManagedTags: true,
        propagateTags: "SERVICE",
    }, opts);
}

/** A Cloud Map service whose A records list the tasks of the ECS services registered in it. */
export function cloudMapService(name: string, serviceName: string, context: EcsContext, opts: pulumi.CustomResourceOptions): aws.servicediscovery.Service {
    return new aws.servicediscovery.Service(name, {
        name: serviceName,
        dnsConfig: {
            namespaceId: context.namespaceId,
            dnsRecords: [{ type: "A", ttl: 10 }],
            routingPolicy: "MULTIVALUE",
        },
        forceDestroy: true,
    }, opts);
}

/**
 * `aws ecs run-task` of a one-off task in the stack's private subnets (e.g. the configuration update). `startedBy`
 * (ECS: up to 36 letters, digits, '-' and '_') marks the task, and changes the command when what it carries changes.
 */
export function runTaskCommand(context: EcsContext, taskDefinitionArn: pulumi.Input<string>, securityGroupId: pulumi.Input<string>, startedBy: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.all([context.clusterArn, taskDefinitionArn, pulumi.all([...context.subnetIds]), securityGroupId, startedBy]).apply(([cluster, taskDefinition, subnets, group, by]) =>
        `aws ecs run-task --region ${context.region} --cluster ${cluster} --launch-type FARGATE --task-definition ${taskDefinition} ` +
        `--network-configuration 'awsvpcConfiguration={subnets=[${subnets.join(",")}],securityGroups=[${group}],assignPublicIp=DISABLED}' ` +
        `--started-by ${by}`);
}
