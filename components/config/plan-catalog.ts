/**
 * The plan catalog of a stack or a broker: the built-in plans with the `plans` key's overrides and new plans,
 * each checked against what Prometheus and the tmpfs allow.
 */
import type { z } from "zod";
import { builtinPlans, minimumRetentionSeconds, minimumScrapeIntervalSeconds, Plan, retentionShareOfTmpfs } from "../plans";
import { parseDurationSeconds, parseMiB, prometheusSize } from "../units";
import { dns1123Label, projectName } from "./primitives";
import { optionalPlanFields, planFields, planOverrideSchema } from "./schema";

/** One entry of the `plans` key: a built-in plan's changed fields, or every field of a new plan. */
export type PlanOverride = z.infer<typeof planOverrideSchema>;

/** The built-in plans merged with the overrides; each problem (key, what is allowed) is pushed to `problems`. */
export function mergePlans(overrides: Readonly<Record<string, PlanOverride>>, problems: string[]): Record<string, Plan> {
    const plans: Record<string, Plan> = { ...builtinPlans };
    for (const [name, override] of Object.entries(overrides)) {
        const key = `${projectName}:plans.${name}`;
        if (!dns1123Label.test(name)) {
            problems.push(`${key}: plan names must be DNS-1123 labels (lowercase letters, digits, '-')`);
            continue;
        }
        const base = builtinPlans[name];
        const missing = Object.keys(planFields).filter((field) => base === undefined && !optionalPlanFields.includes(field) && override[field as keyof typeof override] === undefined);
        if (missing.length > 0) {
            problems.push(`${key}: a new plan needs every field; missing: ${missing.join(", ")} (or name a built-in plan: ${Object.keys(builtinPlans).join(", ")})`);
            continue;
        }
        plans[name] = {
            name,
            description: override.description ?? base.description,
            cpu: override.cpu ?? base.cpu,
            memoryMiB: override.memory !== undefined ? parseMiB(override.memory)! : base.memoryMiB,
            tmpfsMiB: override.tmpfs !== undefined ? parseMiB(override.tmpfs)! : base.tmpfsMiB,
            retentionTime: override.retentionTime ?? base.retentionTime,
            retentionSizeMiB: override.retentionSize !== undefined ? parseMiB(override.retentionSize)! : base.retentionSizeMiB,
            scrapeInterval: override.scrapeInterval ?? base.scrapeInterval,
            // A new interval without a timeout derives the timeout again, rather than keeping the base plan's.
            scrapeTimeout: override.scrapeTimeout ?? (override.scrapeInterval === undefined ? base?.scrapeTimeout : undefined),
            sampleLimit: override.sampleLimit ?? base.sampleLimit,
            labelLimit: override.labelLimit ?? base.labelLimit,
            targetLimit: override.targetLimit ?? base.targetLimit,
        };
    }
    for (const plan of Object.values(plans)) {
        const key = `${projectName}:plans.${plan.name}`;
        const maxRetention = Math.floor(plan.tmpfsMiB * retentionShareOfTmpfs);
        if (plan.retentionSizeMiB >= plan.tmpfsMiB || plan.retentionSizeMiB > maxRetention) {
            problems.push(
                `${key}.retentionSize: ${prometheusSize(plan.retentionSizeMiB)} must stay below the tmpfs size ${prometheusSize(plan.tmpfsMiB)} ` +
                    `with headroom for WAL and compaction; allowed: at most ${Math.round(retentionShareOfTmpfs * 100)}% of tmpfs (${maxRetention}Mi)`,
            );
        }
        const interval = parseDurationSeconds(plan.scrapeInterval)!;
        if (interval < minimumScrapeIntervalSeconds) {
            problems.push(`${key}.scrapeInterval: ${plan.scrapeInterval} is too short; allowed: ${minimumScrapeIntervalSeconds}s or more`);
        }
        if (plan.scrapeTimeout !== undefined && (parseDurationSeconds(plan.scrapeTimeout)! > interval || parseDurationSeconds(plan.scrapeTimeout)! === 0)) {
            problems.push(`${key}.scrapeTimeout: ${plan.scrapeTimeout} is above the scrape interval ${plan.scrapeInterval} or zero; Prometheus refuses it; allowed: more than 0s, at most the interval`);
        }
        if (parseDurationSeconds(plan.retentionTime)! < minimumRetentionSeconds) {
            problems.push(`${key}.retentionTime: ${plan.retentionTime} is shorter than three 2h blocks; allowed: 6h or more, so the Thanos sidecar uploads before local deletion`);
        }
    }
    return plans;
}

/** A merged plan catalog in the `plans` key's own format (what the broker's settings carry). */
export function planOverrides(plans: Readonly<Record<string, Plan>>): Record<string, PlanOverride> {
    return Object.fromEntries(Object.values(plans).map((plan) => [plan.name, {
        description: plan.description,
        cpu: plan.cpu,
        memory: `${plan.memoryMiB}Mi`,
        tmpfs: `${plan.tmpfsMiB}Mi`,
        retentionTime: plan.retentionTime,
        retentionSize: `${plan.retentionSizeMiB}Mi`,
        scrapeInterval: plan.scrapeInterval,
        sampleLimit: plan.sampleLimit,
        labelLimit: plan.labelLimit,
        targetLimit: plan.targetLimit,
    }]));
}

/** The `poolPlans` entries (pool → plans offered there) naming a plan the catalog lacks, keyed under `key`. */
export function unknownPoolPlans(poolPlans: Readonly<Record<string, readonly string[]>>, plans: Readonly<Record<string, Plan>>, key: string): string[] {
    return Object.entries(poolPlans).flatMap(([pool, names]) =>
        names.filter((name) => plans[name] === undefined).map((name) => `${key}.${pool}: unknown plan '${name}'; allowed: ${Object.keys(plans).join(", ")}`));
}
