/**
 * What the broker is told about the platform (components/broker/deployment.ts renders it from the stack config):
 * the facts an instance needs (labels, namespace, plan catalog, alertmanagers, pools).
 */
import { z } from "zod";
import { ConfigError, formatIssue } from "../config/errors";
import { mergePlans, unknownPoolPlans } from "../config/plan-catalog";
import { alertmanagerUrls, dnsLabel, labelName, strictObject } from "../config/primitives";
import { resolvedNetworkSchema } from "../config/network-schema";
import { grafanaOrgsSchema, planOverrideSchema, poolNamespacesSchema } from "../config/schema";
import type { PoolNamespaces } from "../config/types";
import type { Plan } from "../plans";

/** What the broker process is told about the platform (the deployment component renders it from the stack config). */
export const brokerSettingsSchema = strictObject({
    environment: dnsLabel("environment", 20),
    region: z.string().min(1),
    product: z.string().min(1).default("tsuru"),
    /** Namespace the instances' Prometheus pods run in. */
    namespace: dnsLabel("namespace").default("prometheus-tenants"),
    replicaLabel: labelName.default("prometheus_replica"),
    alertmanagers: alertmanagerUrls("alertmanagers").default([]),
    /** Plan catalog overrides, exactly as the stack's `plans` key. */
    plans: z.record(planOverrideSchema).default({}),
    /** Namespace of the platform's Thanos: its tenants' Query is each history front's upstream, its Queries read the sidecars. */
    thanosNamespace: dnsLabel("thanosNamespace"),
    /** Where the instances' peers are (the platform's resolved kubernetes.network): each instance's NetworkPolicy. */
    network: resolvedNetworkSchema,
    /** Grafana's datasource namespace: each instance's datasources go there (absent: the platform provisions none). */
    grafanaNamespace: dnsLabel("grafanaNamespace").optional(),
    /** Grafana organization per team, exactly as the stack's `grafana.orgs`. */
    grafanaOrgs: grafanaOrgsSchema,
    /** Where the units of an app run when `app-internal-hosts` does not say (from `app-pool-name`). */
    poolNamespaces: poolNamespacesSchema.default({}),
    /** Plans offered in a pool (pool name → plan names); pools not listed get every plan. */
    poolPlans: z.record(z.array(z.string()).min(1)).default({}),
    /** As the stacks' kubernetes.skipAwait: only for an API server without kubelets (the tests). */
    skipAwait: z.boolean().default(false),
});

export interface BrokerSettings extends Omit<z.infer<typeof brokerSettingsSchema>, "plans"> {
    readonly plans: Readonly<Record<string, Plan>>;
}

export function parseBrokerSettings(raw: Record<string, unknown>): BrokerSettings {
    const parsed = brokerSettingsSchema.safeParse(raw);
    if (!parsed.success) {
        throw new ConfigError(parsed.error.issues.map((issue) => formatIssue(issue, "broker settings: ")));
    }
    const problems: string[] = [];
    const plans = mergePlans(parsed.data.plans, problems);
    problems.push(...unknownPoolPlans(parsed.data.poolPlans, plans, "broker settings: poolPlans"));
    if (problems.length > 0) throw new ConfigError(problems);
    return { ...parsed.data, plans };
}

/** The namespace of a pool's units under the pool rule. */
export function poolNamespace(rule: PoolNamespaces, pool: string): string {
    return rule.pools[pool] ?? rule.pattern.replace("{pool}", pool.toLowerCase());
}
