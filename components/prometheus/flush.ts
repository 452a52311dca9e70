/**
 * The shutdown flush of a Prometheus replica (flush.sh): its files, its command line and its time budget.
 * Pure: the Kubernetes spec builder mounts the files and runs the command as the Prometheus container's preStop hook;
 * the ECS one publishes the files with the instance's configuration and runs the command as a container that waits
 * for the task's stop.
 */
import * as fs from "fs";
import * as path from "path";
import { envsubstAwk } from "../envsubst";
import type { Plan } from "../plans";
import { prometheusDefaults, prometheusWebPort } from "./defaults";

/** The script the pods and tasks run and the tests run: one file. */
export const flushScriptFile = path.join(__dirname, "flush.sh");

/** Names of the files in the flush volume. */
export const flushFileNames = { script: "flush.sh", envsubst: "envsubst.awk", labels: "upload-labels" } as const;

/**
 * The replica's external labels as `thanos tools bucket upload-blocks --label` takes them: `name="value"`, one per
 * line, the value Go-quoted (a JSON string is one). Placeholders such as `$(POD_NAME)` stay for the script's envsubst.
 */
export function renderUploadLabels(externalLabels: Readonly<Record<string, string>>): string {
    return Object.entries(externalLabels).map(([name, value]) => `${name}=${JSON.stringify(value)}\n`).join("");
}

/** The files of the flush volume: the script, the envsubst program it shares with the config init, the labels. */
export function flushFiles(uploadLabels: string): Record<string, string> {
    return {
        [flushFileNames.script]: fs.readFileSync(flushScriptFile, "utf8"),
        [flushFileNames.envsubst]: envsubstAwk,
        [flushFileNames.labels]: uploadLabels,
    };
}

export interface FlushCommandInput {
    /** Where the flush files are mounted. */
    readonly dir: string;
    readonly user: string;
    readonly passwordFile: string;
    readonly tsdbPath: string;
    readonly objstoreFile: string;
    readonly thanosBinary: string;
    readonly deadlineSeconds: number;
    /** Where the flush's lines go besides the hook's output (which only the kubelet's log keeps). */
    readonly logFile?: string;
    /** Wait for SIGTERM, then flush: the script is a container's main process (ECS), not a hook. */
    readonly waitForTerm?: boolean;
}

/** The flush's command: busybox sh running the mounted script. */
export function flushCommand(input: FlushCommandInput): string[] {
    return [
        "sh",
        `${input.dir}/${flushFileNames.script}`,
        `--url=http://localhost:${prometheusWebPort}`,
        `--user=${input.user}`,
        `--password-file=${input.passwordFile}`,
        `--tsdb=${input.tsdbPath}`,
        `--objstore=${input.objstoreFile}`,
        `--thanos=${input.thanosBinary}`,
        `--labels=${input.dir}/${flushFileNames.labels}`,
        `--envsubst=${input.dir}/${flushFileNames.envsubst}`,
        `--deadline=${input.deadlineSeconds}`,
        ...(input.logFile !== undefined ? [`--log=${input.logFile}`] : []),
        ...(input.waitForTerm ? ["--wait-for-term"] : []),
    ];
}

/**
 * Rates the flush's deadline assumes, a quarter below the slowest plan's in `npm run bench:flush` (bench/results/flush.json;
 * test/unit/flush-budget.spec.ts holds them to it): the snapshot writes the head block on tmpfs, the upload sends
 * it to the bucket. The upload rate is far below the local S3 server's, for a real bucket over the network.
 */
export const flushRates = {
    snapshotMiBPerSecond: 12,
    uploadMiBPerSecond: 20,
    /** Process starts, the bucket's first requests, the check of already uploaded blocks. */
    fixedSeconds: 10,
} as const;

/**
 * The time a flush may take. The head block is bounded by the tmpfs room the retention size leaves (the snapshot
 * must fit there), so the budget follows the plan's headroom; the pod's grace period adds Prometheus' own stop.
 */
export function flushDeadlineSeconds(plan: Pick<Plan, "tmpfsMiB" | "retentionSizeMiB">): number {
    const headroomMiB = plan.tmpfsMiB - plan.retentionSizeMiB;
    return Math.ceil(flushRates.fixedSeconds + headroomMiB / flushRates.snapshotMiBPerSecond + headroomMiB / flushRates.uploadMiBPerSecond);
}

/** The pod's grace period: the flush, then Prometheus' own stop (the sidecar stops during the flush). */
export function flushGracePeriodSeconds(plan: Plan): number {
    return flushDeadlineSeconds(plan) + prometheusDefaults(plan, "memory").stopSeconds;
}
