/**
 * Pure builders of Thanos store, query and compactor on ECS: their container definitions from the shared defaults
 * table, and query's endpoints. No Pulumi imports: components/thanos/ecs.ts wires them.
 */
import { awsLogs, cloudMapHost, ContainerDefinition, ecsProcess, ecsResources, nobody, TaskDemand, taskDemand } from "../aws/containers";
import type { ThanosConfig } from "../config/types";
import { image } from "../images";
import type { ProcessDefaults } from "../process";
import { queryHttpPort, thanosPorts, thanosProcesses } from "./defaults";
import { compactorArgs, queryArgs, storeArgs } from "./render";

const dataDir = "/var/thanos";
/** The task-storage volume of store and compactor. */
export const dataVolume = "data";

/** The StoreAPI endpoints Thanos query fans out to: the store gateway and every instance's sidecars, by Cloud Map name. */
export function ecsQueryEndpoints(namespaceName: string, sidecarEndpoints: readonly string[]): string[] {
    return [`dns+${cloudMapHost("thanos-store", namespaceName)}:${thanosPorts.grpc}`, ...sidecarEndpoints];
}

/** Cloud Map service of the tenants' Query: every instance's history front forwards there. */
export const tenantsQueryService = "thanos-query-tenants";

/** host:port of the tenants' Query on ECS, by its Cloud Map name. */
export function ecsTenantQueryAddress(namespaceName: string): string {
    return `${cloudMapHost(tenantsQueryService, namespaceName)}:${queryHttpPort}`;
}

export interface ThanosContainersInput {
    readonly thanos: ThanosConfig;
    /** objstore.yml, passed inline: on ECS it holds no secret (task-role authentication), so no EFS mount is needed. */
    readonly objstoreConfig: string;
    readonly queryEndpoints: readonly string[];
    readonly region: string;
    readonly logGroups: Readonly<Record<EcsThanosTask, string>>;
}

function thanosContainer(name: string, process: ProcessDefaults, command: string[], logGroup: string, region: string, dataDirectory: boolean): ContainerDefinition {
    return {
        name,
        image: image("thanos"),
        essential: true,
        user: nobody.user,
        command,
        ...ecsResources(process),
        portMappings: [process.httpPort, ...(process.grpcPort !== undefined ? [process.grpcPort] : [])].map((containerPort) => ({ containerPort, protocol: "tcp" as const })),
        ...ecsProcess(process),
        mountPoints: dataDirectory ? [{ sourceVolume: dataVolume, containerPath: dataDir, readOnly: false }] : [],
        readonlyRootFilesystem: true,
        logConfiguration: awsLogs(logGroup, region, name),
    };
}

/** The Thanos tasks on ECS: the store gateway, the platform's and the tenants' Queries, the compactor. */
export type EcsThanosTask = "store" | "query" | "queryTenants" | "compactor";

/** The Thanos container of each task. */
const containerNames: Readonly<Record<EcsThanosTask, string>> = { store: "thanos-store", query: "thanos-query", queryTenants: "thanos-query-tenants", compactor: "thanos-compactor" };
/** The one-shot chown of the data directory. */
const prepareDataDir = { name: "prepare-data-dir", cpu: 16, memory: 32 } as const;

/** A one-shot busybox that hands the task-storage data directory to nobody before the Thanos container starts. */
function withDataDirOwnership(container: ContainerDefinition, region: string, logGroup: string): ContainerDefinition[] {
    const prepare: ContainerDefinition = {
        name: prepareDataDir.name,
        image: image("busybox"),
        essential: false,
        user: "0",
        command: ["chown", "-R", nobody.user, dataDir],
        cpu: prepareDataDir.cpu,
        memory: prepareDataDir.memory,
        mountPoints: [{ sourceVolume: dataVolume, containerPath: dataDir, readOnly: false }],
        logConfiguration: awsLogs(logGroup, region, prepareDataDir.name),
    };
    return [prepare, { ...container, dependsOn: [{ containerName: prepare.name, condition: "SUCCESS" }] }];
}

/** The containers of the store, query and compactor tasks. */
export function thanosTaskContainers(input: ThanosContainersInput): Record<EcsThanosTask, ContainerDefinition[]> {
    const processes = thanosProcesses(input.thanos);
    const objstore = { objstoreConfig: input.objstoreConfig };
    const { logGroups, region } = input;
    return {
        store: withDataDirOwnership(thanosContainer(containerNames.store, processes.store, storeArgs({ dataDir, thanos: input.thanos, ...objstore }), logGroups.store, region, true), region, logGroups.store),
        query: [thanosContainer(containerNames.query, processes.query, queryArgs({ endpoints: input.queryEndpoints, replicaLabel: input.thanos.replicaLabel, audience: "platform" }), logGroups.query, region, false)],
        queryTenants: [thanosContainer(containerNames.queryTenants, processes.query, queryArgs({ endpoints: input.queryEndpoints, replicaLabel: input.thanos.replicaLabel, audience: "tenants" }), logGroups.queryTenants, region, false)],
        compactor: withDataDirOwnership(
            thanosContainer(containerNames.compactor, processes.compactor, compactorArgs({ dataDir, thanos: input.thanos, ...objstore }), logGroups.compactor, region, true),
            region,
            logGroups.compactor,
        ),
    };
}

/**
 * What the store, query and compactor tasks reserve, from the same sizes thanosTaskContainers gives them (a unit
 * test holds the two together): the config's Fargate check, without building containers.
 */
export function thanosTaskDemands(thanos: ThanosConfig): Record<EcsThanosTask, TaskDemand> {
    const processes = thanosProcesses(thanos);
    return {
        store: taskDemand([prepareDataDir, { name: containerNames.store, ...ecsResources(processes.store) }]),
        query: taskDemand([{ name: containerNames.query, ...ecsResources(processes.query) }]),
        queryTenants: taskDemand([{ name: containerNames.queryTenants, ...ecsResources(processes.query) }]),
        compactor: taskDemand([prepareDataDir, { name: containerNames.compactor, ...ecsResources(processes.compactor) }]),
    };
}
