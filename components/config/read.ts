/** Reading a project's keys from the running program's Pulumi config: the one place that touches it. */
import * as pulumi from "@pulumi/pulumi";

/** Every `<project>:<key>` of the running stack, by key, as the engine passed it (strings). */
export function projectConfig(project: string): Record<string, string> {
    const prefix = `${project}:`;
    const values: Record<string, string> = {};
    for (const [fullKey, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (fullKey.startsWith(prefix)) values[fullKey.slice(prefix.length)] = value;
    }
    return values;
}

/** A secret value of the running stack as a secret Output. */
export function secretConfig(project: string, key: string): pulumi.Output<string> | undefined {
    return new pulumi.Config(project).getSecret(key);
}

/** A secret object value of the running stack as a secret Output. */
export function secretConfigObject<T>(project: string, key: string): pulumi.Output<T> | undefined {
    return new pulumi.Config(project).getSecretObject<T>(key);
}

/** Structured config arrives JSON-encoded; scalars arrive as strings. */
export function decodeConfigValue(value: string): unknown {
    if (/^\s*[[{]/.test(value) || value === "true" || value === "false" || /^-?[0-9]+(\.[0-9]+)?$/.test(value)) {
        try {
            return JSON.parse(value);
        } catch {
            return value;
        }
    }
    return value;
}
