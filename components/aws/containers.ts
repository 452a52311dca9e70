/**
 * Pure builders of ECS container definitions (the JSON of a task definition's containerDefinitions) and Fargate
 * sizing. No Pulumi imports: components resolve their Outputs first, then call these.
 */
import type { ProcessDefaults, Resources } from "../process";

/** The subset of an ECS container definition this program emits. */
export interface ContainerDefinition {
    name: string;
    image: string;
    essential: boolean;
    entryPoint?: string[];
    command?: string[];
    user?: string;
    cpu?: number;
    /** Hard limit in MiB. */
    memory?: number;
    /** Soft limit in MiB (what the container is expected to use; Kubernetes' request). */
    memoryReservation?: number;
    environment?: { name: string; value: string }[];
    secrets?: { name: string; valueFrom: string }[];
    mountPoints?: { sourceVolume: string; containerPath: string; readOnly: boolean }[];
    portMappings?: { containerPort: number; protocol: "tcp"; name?: string }[];
    dependsOn?: { containerName: string; condition: "START" | "COMPLETE" | "SUCCESS" | "HEALTHY" }[];
    healthCheck?: { command: string[]; interval: number; timeout: number; retries: number; startPeriod: number };
    logConfiguration: { logDriver: "awslogs"; options: Record<string, string> };
    readonlyRootFilesystem?: boolean;
    stopTimeout?: number;
    /** ECS restarts the container in place when it exits (the task keeps running). */
    restartPolicy?: { enabled: boolean };
}

/** Fully qualified Cloud Map name of a service. */
export function cloudMapHost(service: string, namespaceName: string): string {
    return `${service}.${namespaceName}`;
}

/** ECS accepts at most this many container definitions in one task definition. */
export const maxContainersPerTask = 10;

/** nobody:nogroup, the uid of the Prometheus image and of the EFS access points. */
export const nobody = { uid: 65534, gid: 65534, user: "65534:65534" } as const;

export function awsLogs(group: string, region: string, streamPrefix: string): ContainerDefinition["logConfiguration"] {
    return { logDriver: "awslogs", options: { "awslogs-group": group, "awslogs-region": region, "awslogs-stream-prefix": streamPrefix } };
}

/** CPU units and memory of a container; the reservation only where it is below the limit. */
export function ecsResources(resources: Resources): Pick<ContainerDefinition, "cpu" | "memory" | "memoryReservation"> {
    const { requestMiB, limitMiB } = resources.memory;
    return { cpu: cpuUnits(resources.cpu), memory: limitMiB, ...(requestMiB < limitMiB ? { memoryReservation: requestMiB } : {}) };
}

/** ECS lets a container this long to stop before it is killed, at most. */
export const maxStopTimeoutSeconds = 120;

/**
 * The liveness check of a process as an ECS health check (busybox wget, present in the Prometheus and Thanos
 * images), and its stop timeout.
 */
export function ecsProcess(process: ProcessDefaults, healthCommand?: string[]): Pick<ContainerDefinition, "healthCheck" | "stopTimeout"> {
    const { liveness } = process;
    return {
        healthCheck: {
            command: ["CMD", ...(healthCommand ?? ["wget", "-q", "-O", "/dev/null", `http://localhost:${process.httpPort}${liveness.path}`])],
            interval: liveness.periodSeconds,
            timeout: liveness.timeoutSeconds,
            retries: liveness.failureThreshold,
            startPeriod: process.startSeconds,
        },
        stopTimeout: Math.min(process.stopSeconds, maxStopTimeoutSeconds),
    };
}

/** ECS CPU units (1024 per vCPU) of a Kubernetes CPU quantity such as 250m or 2. */
export function cpuUnits(quantity: string): number {
    const millis = quantity.endsWith("m") ? Number(quantity.slice(0, -1)) : Number(quantity) * 1000;
    if (!Number.isFinite(millis) || millis <= 0) throw new Error(`not a CPU quantity: ${quantity}`);
    return Math.ceil((millis * 1024) / 1000);
}

function steps(from: number, to: number, step: number): number[] {
    return Array.from({ length: (to - from) / step + 1 }, (_, index) => from + index * step);
}

/** Fargate's task sizes: CPU units → the task memory values (MiB) Fargate accepts with them, and no others. */
export const fargateSizes: readonly { readonly cpu: number; readonly memory: readonly number[] }[] = [
    { cpu: 256, memory: [512, 1024, 2048] },
    { cpu: 512, memory: steps(1024, 4096, 1024) },
    { cpu: 1024, memory: steps(2048, 8192, 1024) },
    { cpu: 2048, memory: steps(4096, 16384, 1024) },
    { cpu: 4096, memory: steps(8192, 30720, 1024) },
    { cpu: 8192, memory: steps(16384, 61440, 4096) },
    { cpu: 16384, memory: steps(32768, 122880, 8192) },
];

/** The smallest Fargate task size that holds the given CPU units and memory, or undefined when none does. */
export function fargateTaskSize(cpu: number, memoryMiB: number): { cpu: number; memory: number } | undefined {
    for (const size of fargateSizes) {
        const memory = size.memory.find((candidate) => candidate >= memoryMiB);
        if (size.cpu >= cpu && memory !== undefined) return { cpu: size.cpu, memory };
    }
    return undefined;
}

/** What a task's containers reserve together: CPU units and memory (MiB), and the containers' names. */
export interface TaskDemand {
    readonly containers: readonly string[];
    readonly cpu: number;
    readonly memoryMiB: number;
}

/** CPU units and memory (MiB) of one container, as its definition sets them. */
export type ContainerSize = Pick<ContainerDefinition, "name" | "cpu" | "memory" | "memoryReservation">;

/**
 * The demand of a task's containers, the way awsx sizes Fargate tasks: the sum of the containers' CPU and memory
 * (init containers included: ECS reserves every container's limits). Hard limits are summed, not reservations:
 * a task whose containers can together outgrow it is killed whole.
 */
export function taskDemand(containers: readonly ContainerSize[]): TaskDemand {
    return {
        containers: containers.map((container) => container.name),
        cpu: containers.reduce((sum, container) => sum + (container.cpu ?? 0), 0),
        memoryMiB: containers.reduce((sum, container) => sum + (container.memory ?? container.memoryReservation ?? 0), 0),
    };
}

/** Why no Fargate task size holds this demand, or undefined when one does. */
export function fargateSizeProblem(demand: TaskDemand): string | undefined {
    if (fargateTaskSize(demand.cpu, demand.memoryMiB) !== undefined) return undefined;
    const largest = fargateSizes[fargateSizes.length - 1];
    return (
        `no Fargate task size holds containers ${demand.containers.join(", ")} (${demand.cpu} CPU units, ${demand.memoryMiB} MiB); ` +
        `the largest is ${largest.cpu} CPU units with ${largest.memory[largest.memory.length - 1]} MiB`
    );
}

/** The task size of resolved containers: the smallest size Fargate offers that holds their demand. */
export function taskSizeFor(containers: readonly ContainerDefinition[]): { cpu: string; memory: string } {
    const demand = taskDemand(containers);
    const size = fargateTaskSize(demand.cpu, demand.memoryMiB);
    if (size === undefined) throw new Error(fargateSizeProblem(demand));
    return { cpu: String(size.cpu), memory: String(size.memory) };
}

/** The copy of a component's files onto EFS (config-sync, config-update). */
export const configSyncSize = { cpu: 64, memory: 256 } as const;

export interface ConfigSyncInput {
    readonly image: string;
    readonly region: string;
    readonly bucket: string;
    /** Prefix of the component's files in the configuration bucket, e.g. instances/payments/. */
    readonly prefix: string;
    /** EFS volume (the component's access point) and where it is mounted. */
    readonly volume: string;
    readonly mountPath: string;
    readonly logGroup: string;
}

/**
 * aws-cli copying the published files onto EFS. `sync --delete` removes files no longer published (a dropped rule
 * file); `--exact-timestamps` catches same-size edits. The init container and the update task both run this.
 */
export function configSyncContainer(input: ConfigSyncInput, name = "config-sync"): ContainerDefinition {
    return {
        name,
        image: input.image,
        essential: false,
        command: ["s3", "sync", `s3://${input.bucket}/${input.prefix.replace(/\/?$/, "/")}`, input.mountPath, "--delete", "--exact-timestamps", "--only-show-errors"],
        environment: [{ name: "AWS_REGION", value: input.region }],
        ...configSyncSize,
        mountPoints: [{ sourceVolume: input.volume, containerPath: input.mountPath, readOnly: false }],
        logConfiguration: awsLogs(input.logGroup, input.region, name),
    };
}
