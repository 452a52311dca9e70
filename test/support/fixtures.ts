/** Stack configuration fixtures shared by the tests. */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { projectName } from "../../components/config/primitives";
import { parseStackConfig } from "../../components/config/stack";
import type { EcsInstanceConfig, KubernetesInstanceConfig, StackConfig } from "../../components/config/types";

export const projectRoot = path.resolve(__dirname, "..", "..");

export function minimalRawConfig(): Record<string, unknown> {
    return {
        environment: "test",
        region: "us-east-1",
        bucket: { type: "existing", bucket: "thanos", endpoint: "minio.storage:9000", pathStyle: true, insecure: true },
        kubernetes: { network: { apiServer: { cidrs: ["10.0.0.10/32"], ports: [6443] }, bucket: { namespace: "storage", pods: { "app.kubernetes.io/name": "minio" } } } },
        instances: [
            {
                name: "payments",
                plan: "small",
                team: "payments",
                apps: [{ name: "checkout-api", namespace: "tsuru-pool-a" }],
            },
        ],
    };
}

export function minimalConfig(overrides: Record<string, unknown> = {}): StackConfig {
    return parseStackConfig({ ...minimalRawConfig(), ...overrides });
}

/** The project keys of a Pulumi.<stack>.yaml, without the project prefix. */
export function readStackFile(stack: string): Record<string, unknown> {
    const document = yaml.load(fs.readFileSync(path.join(projectRoot, `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, unknown> };
    const raw: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(document.config ?? {})) {
        if (key.startsWith(`${projectName}:`)) raw[key.slice(projectName.length + 1)] = value;
    }
    return raw;
}

/**
 * Secure values ({secure: ...}, also nested, as `config set --secret --path` writes them) cannot be decrypted in
 * tests: they become placeholders, and their top-level keys are listed as secret keys.
 */
export function withSecretPlaceholders(raw: Record<string, unknown>): { raw: Record<string, unknown>; secretKeys: string[] } {
    const secretKeys = new Set<string>();
    const replace = (key: string, path: string, value: unknown): unknown => {
        if (value === null || typeof value !== "object") return value;
        if ("secure" in value) {
            secretKeys.add(key);
            return `placeholder-for-${path}`;
        }
        if (Array.isArray(value)) return value.map((item, index) => replace(key, `${path}[${index}]`, item));
        return Object.fromEntries(Object.entries(value).map(([inner, item]) => [inner, replace(key, `${path}.${inner}`, item)]));
    };
    const replaced = Object.fromEntries(Object.entries(raw).map(([key, value]) => [key, replace(key, key, value)]));
    return { raw: replaced, secretKeys: [...secretKeys] };
}

export function readStackConfig(stack: string): StackConfig {
    return parseStackConfig(withSecretPlaceholders(readStackFile(stack)).raw);
}

/** Every stack file of the project (dev, prod, local, ...). */
export function stackNames(): string[] {
    return fs.readdirSync(projectRoot)
        .map((file) => /^Pulumi\.([a-z0-9-]+)\.yaml$/.exec(file)?.[1])
        .filter((name): name is string => name !== undefined)
        .sort();
}

/** The Kubernetes instance of a config (the first, or the one named). */
export function kubernetesInstance(config: StackConfig, name?: string): KubernetesInstanceConfig {
    const found = config.instances.find((instance): instance is KubernetesInstanceConfig => instance.platform === "kubernetes" && (name === undefined || instance.name === name));
    if (found === undefined) throw new Error(`no Kubernetes instance ${name ?? ""} in the config`);
    return found;
}

/** The ECS instance of a config (the first, or the one named). */
export function ecsInstance(config: StackConfig, name?: string): EcsInstanceConfig {
    const found = config.instances.find((instance): instance is EcsInstanceConfig => instance.platform === "ecs" && (name === undefined || instance.name === name));
    if (found === undefined) throw new Error(`no ECS instance ${name ?? ""} in the config`);
    return found;
}
