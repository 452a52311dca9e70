/**
 * What a process of this program needs wherever it runs: resources, local disk, probes, ports, stop time.
 * Kubernetes (components/kubernetes/workload.ts) and ECS (components/aws/containers.ts) each translate it.
 */

export interface HttpProbe {
    readonly path: string;
    readonly periodSeconds: number;
    /** Consecutive failures before the probe fails. */
    readonly failureThreshold: number;
    readonly timeoutSeconds: number;
}

/** CPU and memory of a container, on either platform. */
export interface Resources {
    /** CPU request as a Kubernetes quantity; ECS reserves the same share in CPU units. */
    readonly cpu: string;
    /** Memory in MiB: the request (ECS memoryReservation) and the limit (ECS memory). */
    readonly memory: { readonly requestMiB: number; readonly limitMiB: number };
}

export interface ProcessDefaults extends Resources {
    /** Size of the local data directory in GiB (Kubernetes emptyDir limit; ECS task storage). */
    readonly diskGiB?: number;
    readonly httpPort: number;
    readonly grpcPort?: number;
    /** Ready to serve (Kubernetes readiness). */
    readonly readiness: HttpProbe;
    /** Alive (Kubernetes liveness; the ECS container health check). */
    readonly liveness: HttpProbe;
    /** Time to start during which failed liveness checks do not count (Kubernetes startup probe; ECS startPeriod). */
    readonly startSeconds: number;
    /** Time to finish in-flight work once asked to stop (Kubernetes grace period; ECS stopTimeout, at most 120). */
    readonly stopSeconds: number;
}

/** The same process with its memory set to one figure (request and limit), e.g. from the stack config. */
export function withMemory(defaults: ProcessDefaults, memoryMiB: number): ProcessDefaults {
    return { ...defaults, memory: { requestMiB: memoryMiB, limitMiB: memoryMiB } };
}
