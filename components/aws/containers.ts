/**
 * Pure builders of ECS container definitions (the JSON of a task definition's containerDefinitions) and Fargate
 * sizing. No Pulumi imports: components resolve their Outputs first, then call these.
 */

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
    environment?: { name: string; value: string }[];
    secrets?: { name: string; valueFrom: string }[];
    mountPoints?: { sourceVolume: string; containerPath: string; readOnly: boolean }[];
    portMappings?: { containerPort: number; protocol: "tcp"; name?: string }[];
    dependsOn?: { containerName: string; condition: "START" | "COMPLETE" | "SUCCESS" | "HEALTHY" }[];
    healthCheck?: { command: string[]; interval: number; timeout: number; retries: number; startPeriod: number };
    logConfiguration: { logDriver: "awslogs"; options: Record<string, string> };
    readonlyRootFilesystem?: boolean;
    stopTimeout?: number;
}

/** nobody:nogroup, the uid of the Prometheus image and of the EFS access points. */
export const nobody = { uid: 65534, gid: 65534, user: "65534:65534" } as const;

export function awsLogs(group: string, region: string, streamPrefix: string): ContainerDefinition["logConfiguration"] {
    return { logDriver: "awslogs", options: { "awslogs-group": group, "awslogs-region": region, "awslogs-stream-prefix": streamPrefix } };
}

/** Health check through busybox wget, present in the Prometheus, Thanos and YACE images. */
export function httpHealthCheck(port: number, path: string, startPeriod = 30): NonNullable<ContainerDefinition["healthCheck"]> {
    return { command: ["CMD", "wget", "-q", "-O", "/dev/null", `http://localhost:${port}${path}`], interval: 15, timeout: 5, retries: 4, startPeriod };
}

/** ECS CPU units (1024 per vCPU) of a Kubernetes CPU quantity such as 250m or 2. */
export function cpuUnits(quantity: string): number {
    const millis = quantity.endsWith("m") ? Number(quantity.slice(0, -1)) : Number(quantity) * 1000;
    if (!Number.isFinite(millis) || millis <= 0) throw new Error(`not a CPU quantity: ${quantity}`);
    return Math.ceil((millis * 1024) / 1000);
}

/** Fargate's valid task sizes: CPU units -> allowed memory (MiB) range and step. */
const fargateSizes: readonly { cpu: number; min: number; max: number; step: number }[] = [
    { cpu: 256, min: 512, max: 2048, step: 512 },
    { cpu: 512, min: 1024, max: 4096, step: 1024 },
    { cpu: 1024, min: 2048, max: 8192, step: 1024 },
    { cpu: 2048, min: 4096, max: 16384, step: 1024 },
    { cpu: 4096, min: 8192, max: 30720, step: 1024 },
    { cpu: 8192, min: 16384, max: 61440, step: 4096 },
    { cpu: 16384, min: 32768, max: 122880, step: 8192 },
];

/** The smallest valid Fargate task size that holds the given CPU units and memory. */
export function fargateTaskSize(cpu: number, memoryMiB: number): { cpu: number; memory: number } {
    for (const size of fargateSizes) {
        if (size.cpu < cpu) continue;
        const memory = Math.max(size.min, Math.ceil(memoryMiB / size.step) * size.step);
        if (memory <= size.max) return { cpu: size.cpu, memory };
    }
    throw new Error(`no Fargate task size holds ${cpu} CPU units and ${memoryMiB} MiB`);
}

/** Task size covering every container (init containers included: ECS counts all container limits). */
export function taskSizeFor(containers: readonly ContainerDefinition[]): { cpu: string; memory: string } {
    const cpu = containers.reduce((sum, container) => sum + (container.cpu ?? 0), 0);
    const memory = containers.reduce((sum, container) => sum + (container.memory ?? 0), 0);
    const size = fargateTaskSize(Math.max(cpu, 256), Math.max(memory, 512));
    return { cpu: String(size.cpu), memory: String(size.memory) };
}

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
        cpu: 64,
        memory: 256,
        mountPoints: [{ sourceVolume: input.volume, containerPath: input.mountPath, readOnly: false }],
        logConfiguration: awsLogs(input.logGroup, input.region, name),
    };
}
