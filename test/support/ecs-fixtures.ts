/** Stack configuration fixtures of the AWS ECS half. */
import { parseStackConfig } from "../../components/config/stack";
import type { StackConfig } from "../../components/config/types";
import { minimalRawConfig } from "./fixtures";

export const billingSecretArn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prometheus/billing-api-AbCdEf";

/** A stack with both platforms: the Kubernetes tenant of minimalRawConfig plus an HA ECS tenant and YACE. */
export function ecsRawConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    const raw = minimalRawConfig();
    return {
        ...raw,
        bucket: { type: "s3", name: "acme-thanos-test", kmsKeyArn: "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555" },
        ecs: {
            vpc: { id: "vpc-0123456789abcdef0" },
            subnets: { ids: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"] },
            queryAllowedCidrs: ["10.60.0.0/16", "10.61.4.0/24"],
        },
        yace: {
            scrapedBy: ["billing"],
            jobs: [
                { namespace: "AWS/ApplicationELB", exportedTags: ["Name"], metrics: [{ name: "RequestCount", statistics: ["Sum"] }] },
                { namespace: "AWS/SQS", period: 60, length: 300, searchTags: { team: "^billing$" }, metrics: [{ name: "ApproximateNumberOfMessagesVisible", statistics: ["Maximum", "p99"] }] },
            ],
        },
        instances: [
            ...(raw.instances as unknown[]),
            {
                name: "billing",
                plan: "medium",
                team: "billing",
                platform: "ecs",
                replicas: 2,
                externalLabels: { cost_center: "cc-7" },
                apps: [
                    { family: "billing-api", cluster: "tsuru-ecs", basicAuth: { username: "prometheus", passwordSecretArn: `${billingSecretArn}:password::` } },
                    { family: "billing-worker", cluster: "tsuru-ecs", containers: ["worker"], path: "/internal/metrics" },
                    { family: "invoices", cluster: "tsuru-batch" },
                ],
                rules: [{ name: "billing", rules: [{ alert: "BillingDown", expr: "up{app=\"billing-api\"} == 0", for: "5m" }] }],
            },
        ],
        ...overrides,
    };
}

export function ecsConfig(overrides: Record<string, unknown> = {}): StackConfig {
    return parseStackConfig(ecsRawConfig(overrides));
}
