/**
 * The types of a validated stack config: the schemas' output with the derived defaults resolved (plans by name,
 * the ECS cluster and namespace names, YACE's regions). Types only; Pulumi appears as the type of secret inputs.
 */
import type { Input } from "@pulumi/pulumi";
import type { z } from "zod";
import type { EcsSection, ecsAppSchema, YaceSection } from "./aws-schema";
import type { Plan } from "../plans";
import type {
    brokerSchema,
    bucketSchema,
    instanceSchema,
    jobSchema,
    kubernetesAppSchema,
    kubernetesSchema,
    poolNamespacesSchema,
    ruleGroupSchema,
    stackConfigSchema,
    thanosSchema,
    tsuruSchema,
} from "./schema";

/** The stack config as the schema parsed it, before cross-key checks and derived defaults. */
export type RawStackConfig = z.infer<typeof stackConfigSchema>;
export type RawInstance = z.infer<typeof instanceSchema>;
export type KubernetesApp = z.infer<typeof kubernetesAppSchema>;
export type EcsApp = z.infer<typeof ecsAppSchema>;
export type JobTarget = z.infer<typeof jobSchema>;
export type RuleGroup = z.infer<typeof ruleGroupSchema>;
export type ThanosConfig = z.infer<typeof thanosSchema>;
export type BucketConfig = z.infer<typeof bucketSchema>;
export type KubernetesTarget = z.infer<typeof kubernetesSchema>;
export type PoolNamespaces = z.infer<typeof poolNamespacesSchema>;
export type BrokerConfig = z.infer<typeof brokerSchema>;
export type TsuruConfig = z.infer<typeof tsuruSchema>;

/** The `ecs` section with its derived defaults resolved. */
export interface EcsConfig extends Omit<EcsSection, "cluster" | "serviceDiscoveryNamespace"> {
    readonly cluster: { readonly name: string; readonly existing: boolean };
    readonly serviceDiscoveryNamespace: string;
}

/** The `yace` section with the default regions resolved. */
export interface YaceConfig extends Omit<YaceSection, "regions"> {
    readonly regions: string[];
}

type Resolved<I> = Omit<I, "plan" | "replicas"> & { readonly plan: Plan; readonly replicas: number };
export type KubernetesInstanceConfig = Resolved<Extract<RawInstance, { platform: "kubernetes" }>>;
export type EcsInstanceConfig = Resolved<Extract<RawInstance, { platform: "ecs" }>>;
export type InstanceConfig = KubernetesInstanceConfig | EcsInstanceConfig;

export interface BucketCredentials {
    readonly accessKey: Input<string>;
    readonly secretKey: Input<string>;
}

/** Secret values, read as secret Outputs by loadStackConfig; validation sees only their plain copies. */
export interface ConfigSecrets {
    /** Static credentials for the bucket; absent means the SDK's default chain (IRSA, task role). */
    readonly bucketCredentials?: BucketCredentials;
    /** The broker password Tsuru sends; absent means one is generated. */
    readonly tsuruServicePassword?: Input<string>;
    /** Passphrase of the broker's backend. */
    readonly brokerBackendPassphrase?: Input<string>;
    /** Web passwords of the instances that set one; the others get a generated password. */
    readonly instancePasswords?: Readonly<Record<string, Input<string>>>;
}

/** A peer of the instances' pods: a namespace (its pods, or those with `pods` labels), or CIDR blocks. */
export interface NetworkPeer {
    readonly namespace?: string;
    readonly pods?: Readonly<Record<string, string>>;
    readonly cidrs?: readonly string[];
    readonly except?: readonly string[];
}

export interface NetworkEndpoint extends NetworkPeer {
    readonly ports: readonly number[];
}

/** Every peer resolved; `alertmanagers` is empty when the stack sends no alerts. */
export interface NetworkConfig {
    readonly grafana: NetworkPeer;
    readonly tsuru: NetworkPeer;
    readonly dns: NetworkEndpoint;
    readonly apiServer: NetworkEndpoint;
    readonly alertmanagers: readonly NetworkEndpoint[];
    readonly bucket: NetworkEndpoint;
}

/** The `kubernetes` section with its network resolved (absent when the stack has no Kubernetes half). */
export interface KubernetesConfig extends Omit<KubernetesTarget, "network"> {
    readonly network?: NetworkConfig;
}

export interface StackConfig extends ConfigSecrets {
    readonly environment: string;
    readonly region: string;
    readonly product: string;
    readonly kubernetes: KubernetesConfig;
    readonly grafana: { readonly datasources: boolean; readonly namespace: string; readonly orgs: Readonly<Record<string, number>> };
    readonly instances: InstanceConfig[];
    readonly plans: Readonly<Record<string, Plan>>;
    readonly thanos: ThanosConfig;
    readonly bucket: BucketConfig;
    readonly alertmanagers: string[];
    /** The AWS ECS platform; absent when no instance runs there. */
    readonly ecs?: EcsConfig;
    /** The YACE CloudWatch exporter on ECS; absent when not configured. */
    readonly yace?: YaceConfig;
    /** Registration of the service in Tsuru; absent when the stack does not register it. */
    readonly tsuru?: TsuruConfig;
    /** The broker deployed on the cluster; absent when the stack runs none. */
    readonly broker?: BrokerConfig;
}
