/** Defaults of the Prometheus process and of the step that renders its config, shared by both platforms. */
import { Plan, prometheusMemoryLimitMiB, TsdbMedium } from "../plans";
import type { ProcessDefaults, Resources } from "../process";

export const prometheusWebPort = 9090;

/** Prometheus with a plan: CPU and memory from the plan, probes sized for a WAL replay at start. */
export function prometheusDefaults(plan: Plan, tsdb: TsdbMedium): ProcessDefaults {
    const memoryMiB = prometheusMemoryLimitMiB(plan, tsdb);
    return {
        cpu: plan.cpu,
        memory: { requestMiB: memoryMiB, limitMiB: memoryMiB },
        httpPort: prometheusWebPort,
        // Not ready until the WAL is replayed: minutes for a big head block.
        readiness: { path: "/-/ready", periodSeconds: 5, failureThreshold: 60, timeoutSeconds: 5 },
        liveness: { path: "/-/healthy", periodSeconds: 15, failureThreshold: 8, timeoutSeconds: 5 },
        startSeconds: 120,
        // SIGTERM closes the TSDB and writes nothing (the head stays in the WAL): well under a second measured.
        stopSeconds: 30,
    };
}

/** One-shot steps before Prometheus starts: the config render (busybox awk), the copy of the Thanos binary. */
export const initStepResources: Resources = { cpu: "10m", memory: { requestMiB: 16, limitMiB: 64 } };

/**
 * The container that flushes an ECS replica when its task stops (busybox sh, wget and `thanos tools bucket
 * upload-blocks`, which streams the block files): idle until then.
 */
export const ecsFlushResources: Resources = { cpu: "125m", memory: { requestMiB: 64, limitMiB: 256 } };
