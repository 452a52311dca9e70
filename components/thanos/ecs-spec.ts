/**
 * Pure builders of Thanos store, query and compactor on ECS: their container definitions from the shared defaults
 * table, and query's endpoints. No Pulumi imports: components/thanos/ecs.ts wires them.
 */
import { awsLogs, cloudMapHost, ContainerDefinition, ecsProcess, ecsResources, nobody, taskSizeFor } from "../aws/containers";
import type { ThanosConfig } from "../config";
import { image } from "../images";
import type { ProcessDefaults } from "../process";
import { thanosPorts, thanosProcesses } from "./defaults";
import { compactorArgs, queryArgs, storeArgs } from "./render";

const dataDir = "/var/thanos";
/** The task-storage volume of store and compactor. */
export const dataVolume = "data";

/** The StoreAPI endpoints Thanos query fans out to: the store gateway and every instance's sidecars, by Cloud Map name. */
export function ecsQueryEndpoints(namespaceName: string, sidecarEndpoints: readonly string[]): string[] {
    return [`dns+${cloudMapHost("thanos-store", namespaceName)}:${thanosPorts.grpc}`, ...sidecarEndpoints];
}

export interface ThanosContainersInput {
    readonly thanos: ThanosConfig;
    /** objstore.yml, passed inline: on ECS it holds no secret (task-role authentication), so no EFS mount is needed. */
    readonly objstoreConfig: string;
    readonly queryEndpoints: readonly string[];
    readonly region: string;
    readonly logGroups: { readonly store: string; readonly query: string; readonly compactor: string };
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

/** A one-shot busybox that hands the task-storage data directory to nobody before the Thanos container starts. */
function withDataDirOwnership(container: ContainerDefinition, region: string, logGroup: string): ContainerDefinition[] {
    const prepare: ContainerDefinition = {
        name: "prepare-data-dir",
        image: image("busybox"),
        essential: false,
        user: "0",
        command: ["chown", "-R", nobody.user, dataDir],
        cpu: 16,
        memory: 32,
        mountPoints: [{ sourceVolume: dataVolume, containerPath: dataDir, readOnly: false }],
        logConfiguration: awsLogs(logGroup, region, "prepare-data-dir"),
    };
    return [prepare, { ...container, dependsOn: [{ containerName: prepare.name, condition: "SUCCESS" }] }];
}

/** The containers of the store, query and compactor tasks. */
export function thanosTaskContainers(input: ThanosContainersInput): Record<"store" | "query" | "compactor", ContainerDefinition[]> {
    const processes = thanosProcesses(input.thanos);
    const objstore = { objstoreConfig: input.objstoreConfig };
    const { logGroups, region } = input;
    return {
        store: withDataDirOwnership(thanosContainer("thanos-store", processes.store, storeArgs({ dataDir, ...objstore }), logGroups.store, region, true), region, logGroups.store),
        query: [thanosContainer("thanos-query", processes.query, queryArgs({ endpoints: input.queryEndpoints, replicaLabel: input.thanos.replicaLabel }), logGroups.query, region, false)],
        compactor: withDataDirOwnership(
            thanosContainer("thanos-compactor", processes.compactor, compactorArgs({ dataDir, compactor: input.thanos.compactor, ...objstore }), logGroups.compactor, region, true),
            region,
            logGroups.compactor,
        ),
    };
}

/** Why a Thanos task with these settings cannot run on Fargate, per component (config validation only). */
export function thanosTaskProblems(thanos: ThanosConfig): Partial<Record<"store" | "query" | "compactor", string>> {
    const tasks = thanosTaskContainers({ thanos, objstoreConfig: "-", queryEndpoints: [], region: "-", logGroups: { store: "-", query: "-", compactor: "-" } });
    const problems: Partial<Record<"store" | "query" | "compactor", string>> = {};
    for (const [component, containers] of Object.entries(tasks) as ["store" | "query" | "compactor", ContainerDefinition[]][]) {
        try {
            taskSizeFor(containers);
        } catch (error) {
            problems[component] = error instanceof Error ? error.message : String(error);
        }
    }
    return problems;
}
