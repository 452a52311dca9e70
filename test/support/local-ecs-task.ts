/**
 * An ECS task's containers as a pod of local processes (test/support/local-pods.ts): ECS' entryPoint and command
 * (Docker's ENTRYPOINT and CMD) become the pod's command and args, mountPoints its volume mounts (every volume a
 * directory; the test fills the EFS one as config-sync would), environment and secrets (their values given) its env.
 * Stopping the task follows the ECS agent: a container gets SIGTERM only once every container that depends on it has
 * stopped, and SIGKILL after its stopTimeout.
 */
import type { ContainerDefinition } from "../../components/aws/containers";
import { Container, imageHasEntrypoint, LocalCluster, LocalPod, PodSpec } from "./local-pods";

/** The pod spec of a task: `secretValues` maps each secret's valueFrom to its value. */
export function ecsTaskPodSpec(containers: readonly ContainerDefinition[], volumes: readonly string[], secretValues: Readonly<Record<string, string>>): PodSpec {
    const podContainer = (definition: ContainerDefinition): Container => {
        const secrets = (definition.secrets ?? []).map((secret) => {
            const value = secretValues[secret.valueFrom];
            if (value === undefined) throw new Error(`${definition.name}: no value given for the secret ${secret.valueFrom}`);
            return { name: secret.name, value };
        });
        const entrypoint = definition.entryPoint ?? (imageHasEntrypoint(definition.image) ? undefined : definition.command);
        const args = entrypoint === definition.command ? undefined : definition.command;
        return {
            name: definition.name,
            image: definition.image,
            ...(entrypoint !== undefined ? { command: entrypoint } : {}),
            ...(args !== undefined ? { args } : {}),
            env: [...(definition.environment ?? []), ...secrets],
            ports: (definition.portMappings ?? []).map((port) => ({ name: port.name, containerPort: port.containerPort })),
            volumeMounts: (definition.mountPoints ?? []).map((mount) => ({ name: mount.sourceVolume, mountPath: mount.containerPath })),
            securityContext: { readOnlyRootFilesystem: definition.readonlyRootFilesystem === true },
        };
    };
    return { containers: containers.map(podContainer), volumes: volumes.map((name) => ({ name, emptyDir: {} })) };
}

/** A task of these containers on the local cluster, its volumes in place, nothing started. */
export function scheduleEcsTask(cluster: LocalCluster, name: string, containers: readonly ContainerDefinition[], volumes: readonly string[], secretValues: Readonly<Record<string, string>>): Promise<LocalPod> {
    return LocalPod.create(cluster, name, "ecs", {}, ecsTaskPodSpec(containers, volumes, secretValues));
}

/** How one container stopped: when its SIGTERM was sent and when it exited (ms since the epoch). */
export interface EcsContainerStop {
    readonly name: string;
    readonly exitCode: number | null;
    readonly signalledAt: number;
    readonly exitedAt: number;
}

/** ECS' default stopTimeout when a container sets none. */
const defaultStopTimeoutSeconds = 30;

/** Stops the task's running containers in ECS' order; resolves with the stop of each container that was running. */
export async function stopEcsTask(pod: LocalPod, containers: readonly ContainerDefinition[]): Promise<EcsContainerStop[]> {
    const stops = new Map<string, Promise<EcsContainerStop | undefined>>();
    const dependents = (name: string) => containers.filter((container) => (container.dependsOn ?? []).some((dependency) => dependency.containerName === name));
    const stop = (container: ContainerDefinition): Promise<EcsContainerStop | undefined> => {
        if (!stops.has(container.name)) {
            stops.set(container.name, (async () => {
                await Promise.all(dependents(container.name).map(stop));
                const running = pod.processes.get(container.name);
                if (running === undefined || running.hasExited) return undefined;
                const signalledAt = Date.now();
                const exitCode = await running.stop("SIGTERM", (container.stopTimeout ?? defaultStopTimeoutSeconds) * 1000);
                return { name: container.name, exitCode, signalledAt, exitedAt: Date.now() };
            })());
        }
        return stops.get(container.name)!;
    };
    const stopped = await Promise.all(containers.map(stop));
    return stopped.filter((entry): entry is EcsContainerStop => entry !== undefined).sort((a, b) => a.signalledAt - b.signalledAt);
}
