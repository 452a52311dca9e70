/** The instances of a stack (or one broker instance) resolved against the plan catalog, with cross-key checks. */
import { builtinPlans, Plan } from "../plans";
import { configErrorMap } from "./errors";
import { labelName, projectName } from "./primitives";
import { reservedExternalLabels } from "./schema";
import type { InstanceConfig, RawInstance } from "./types";

/**
 * Each instance with its plan resolved and its default replicas; problems are pushed with the key `keyOf(index)`
 * gives (the stack's `prometheus-paas:instances[i]`, or the broker's instance name).
 */
export function resolveInstances(
    instances: readonly RawInstance[],
    plans: Readonly<Record<string, Plan>>,
    replicaLabel: string,
    problems: string[],
    keyOf: (index: number) => string = (index) => `${projectName}:instances[${index}]`,
): InstanceConfig[] {
    const seen = new Set<string>();
    return instances.map((instance, index) => {
        const key = keyOf(index);
        if (seen.has(instance.name)) {
            problems.push(`${key}.name: duplicate instance '${instance.name}'; instance names must be unique within a stack`);
        }
        seen.add(instance.name);
        const plan = plans[instance.plan];
        if (plan === undefined) {
            problems.push(`${key}.plan: unknown plan '${instance.plan}'; allowed: ${Object.keys(plans).join(", ")}`);
        }
        for (const label of Object.keys(instance.externalLabels)) {
            const parsed = labelName.safeParse(label, { errorMap: configErrorMap });
            if (!parsed.success) {
                problems.push(`${key}.externalLabels.${label}: ${parsed.error.issues[0].message}`);
            } else if ((reservedExternalLabels as readonly string[]).includes(label) || label === replicaLabel) {
                problems.push(`${key}.externalLabels.${label}: set by the platform; reserved: ${[...reservedExternalLabels, replicaLabel].join(", ")}`);
            }
        }
        // One scrape job per app, named after it: Prometheus refuses two jobs of one name.
        const appNames = new Set<string>();
        instance.apps.forEach((app, appIndex) => {
            const [field, appName] = "family" in app ? ["family", app.family] : ["name", app.name];
            if (appNames.has(appName)) {
                problems.push(`${key}.apps[${appIndex}].${field}: app '${appName}' is bound twice to instance '${instance.name}'`);
            }
            appNames.add(appName);
        });
        return { ...instance, replicas: instance.replicas ?? 1, plan: plan ?? builtinPlans.small } as InstanceConfig;
    });
}
