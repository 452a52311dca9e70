/** Cross-key rules of the AWS half: what the ECS platform and YACE need from the rest of the stack. */
import { fargateSizeProblem, maxContainersPerTask } from "../aws/containers";
import { retentionShareOfTmpfs } from "../plans";
import { discoveredClusters, maxDiscoveredClusters, prometheusTaskDemand } from "../prometheus/ecs-spec";
import { thanosTaskDemands } from "../thanos/ecs-spec";
import { prometheusSize } from "../units";
import { projectName } from "./primitives";
import type { EcsInstanceConfig, InstanceConfig, RawStackConfig } from "./types";

/** Why a replica task of this instance cannot run on Fargate (too many containers, or no size holds them), or undefined. */
function prometheusTaskProblem(instance: EcsInstanceConfig): string | undefined {
    const clusters = discoveredClusters(instance).length;
    if (clusters > maxDiscoveredClusters) {
        return `discovers ${clusters} ECS clusters; a task holds at most ${maxContainersPerTask} containers, so allowed: at most ${maxDiscoveredClusters} clusters per instance`;
    }
    return fargateSizeProblem(prometheusTaskDemand(instance));
}

const awsS3Endpoint = /(^|\.)amazonaws\.com(\.cn)?(:[0-9]+)?$/;

/** Adds to `problems` what the ECS instances, the Thanos tasks on Fargate and YACE need from the rest of the stack. */
export function checkEcs(raw: RawStackConfig, instances: InstanceConfig[], problems: string[]): void {
    const ecsInstances = instances.filter((instance) => instance.platform === "ecs");
    const chosenCompactorPlatform = raw.thanos.compactor.platform;
    if (chosenCompactorPlatform !== undefined && !instances.some((instance) => instance.platform === chosenCompactorPlatform)) {
        problems.push(`${projectName}:thanos.compactor.platform: no instance runs on ${chosenCompactorPlatform}, so no Thanos runs there; allowed: ${[...new Set(instances.map((instance) => instance.platform))].join(", ") || "(no instance declared)"}`);
    }
    if (raw.ecs === undefined) {
        ecsInstances.forEach((instance) => {
            problems.push(`${projectName}:ecs: is required because instance '${instance.name}' has platform ecs (cluster, vpc, subnets, queryAllowedCidrs)`);
        });
        if (raw.yace !== undefined) {
            problems.push(`${projectName}:yace: YACE runs on ECS; add an 'ecs' section (cluster, vpc, subnets, queryAllowedCidrs)`);
        }
        return;
    }
    raw.ecs.subnets.availabilityZones?.forEach((zone, index) => {
        if (!zone.startsWith(raw.region)) problems.push(`${projectName}:ecs.subnets.availabilityZones[${index}]: ${zone} is not a zone of the stack's region ${raw.region}`);
    });
    if (raw.bucket.type === "existing" && !awsS3Endpoint.test(raw.bucket.endpoint)) {
        problems.push(`${projectName}:bucket.endpoint: ECS tasks reach the bucket with IAM task roles; allowed: bucket.type s3, or an existing bucket on an AWS S3 endpoint such as s3.${raw.region}.amazonaws.com`);
    }
    if (raw.bucketAccessKey) {
        problems.push(`${projectName}:bucketAccessKey: ECS tasks authenticate to S3 with their task role; remove bucketAccessKey and bucketSecretKey so no static key is written into configuration`);
    }
    instances.forEach((instance, index) => {
        if (instance.platform !== "ecs") return;
        const problem = prometheusTaskProblem(instance);
        if (problem !== undefined) problems.push(`${projectName}:instances[${index}]: on ECS Fargate the Prometheus task of '${instance.name}' (plan '${instance.plan.name}'): ${problem}`);
    });
    if (ecsInstances.length > 0) {
        for (const [component, demand] of Object.entries(thanosTaskDemands(raw.thanos))) {
            const problem = fargateSizeProblem(demand);
            if (problem !== undefined) problems.push(`${projectName}:thanos.${component}.memory: the Thanos ${component} task on ECS Fargate: ${problem}`);
        }
    }
    const storageMiB = raw.ecs.capacity.prometheusStorageGiB * 1024;
    ecsInstances.forEach((instance) => {
        if (instance.plan.retentionSizeMiB > storageMiB * retentionShareOfTmpfs) {
            problems.push(
                `${projectName}:ecs.capacity.prometheusStorageGiB: ${raw.ecs!.capacity.prometheusStorageGiB} GiB leaves no headroom for plan '${instance.plan.name}' of instance '${instance.name}' ` +
                    `(retention ${prometheusSize(instance.plan.retentionSizeMiB)}); allowed: retention at most ${Math.round(retentionShareOfTmpfs * 100)}% of the task storage`,
            );
        }
    });
    if (raw.yace !== undefined) {
        const ecsNames = ecsInstances.map((instance) => instance.name);
        raw.yace.scrapedBy.forEach((name, index) => {
            if (!ecsNames.includes(name)) {
                problems.push(`${projectName}:yace.scrapedBy[${index}]: '${name}' is not an instance with platform ecs; allowed: ${ecsNames.join(", ") || "(no ECS instance declared)"}`);
            }
        });
        raw.yace.jobs.forEach((job, jobIndex) => {
            job.metrics.forEach((metric, metricIndex) => {
                const period = metric.period ?? job.period ?? raw.yace!.period;
                const length = metric.length ?? job.length ?? raw.yace!.length;
                if (length < period) {
                    problems.push(`${projectName}:yace.jobs[${jobIndex}].metrics[${metricIndex}].length: ${length}s is shorter than the period ${period}s; CloudWatch would leave gaps; allowed: length >= period`);
                }
            });
        });
    }
}
