/** Credentials stay in secrets: not in ConfigMaps, not in plain environment variables or command lines. */
import { commandCredentials, envCredential, findCredentialsInText, isCredentialName } from "../lib/credentials";
import { describe, resourcePolicy } from "../lib/model";
import { isUnknown, num, obj, str } from "../lib/values";
import { where, workloadOf } from "../lib/workloads";

export const noCredentialsInConfigMaps = resourcePolicy(
    {
        name: "no-credentials-in-configmaps",
        description: "ConfigMaps carry no credentials (credential-named keys, password/secret/token values, access keys, private keys, URLs with passwords).",
        enforcementLevel: "mandatory",
        severity: "critical",
        remediationSteps: "Move the value to a Kubernetes Secret (or reference a *_file path mounted from one); objstore.yml and bucket keys go in the objstore Secret, set with `pulumi config set --secret`.",
    },
    (view) => {
        if (view.type !== "kubernetes:core/v1:ConfigMap") return [];
        const messages: string[] = [];
        for (const field of ["data", "binaryData"]) {
            for (const [key, value] of Object.entries(obj(view.props[field]))) {
                const text = str(value);
                if (text === undefined) continue;
                const content = field === "binaryData" ? Buffer.from(text, "base64").toString("utf8") : text;
                if (isCredentialName(key) && content.trim() !== "") {
                    messages.push(`${describe(view)} ${field} key '${key}' looks like a credential: move it to a Secret.`);
                    continue;
                }
                const findings = findCredentialsInText(content);
                if (findings.length > 0) {
                    messages.push(
                        `${describe(view)} ${field} key '${key}' contains ${findings.map((f) => f.what).join(", ")}: ConfigMaps are readable by anyone with ConfigMap access and end up in rendered manifests. ` +
                            `Move the credential to a Secret (Prometheus: use *_file settings pointing at a mounted Secret; stack config values with \`pulumi config set --secret\`).`,
                    );
                }
            }
        }
        return messages;
    },
);

export const noPlaintextCredentialsInContainers = resourcePolicy(
    {
        name: "no-plaintext-credentials-in-containers",
        description: "No credentials in plain container environment variables or command lines (Kubernetes env value, ECS environment, args/command).",
        enforcementLevel: "mandatory",
        severity: "critical",
        remediationSteps: "Use Kubernetes env valueFrom.secretKeyRef / mounted Secrets, or ECS containerDefinitions secrets (valueFrom Secrets Manager / SSM SecureString); prefer IAM roles (aws_sdk_auth) over static keys.",
    },
    (view) => {
        const workload = workloadOf(view);
        if (workload === undefined) return [];
        const messages: string[] = [];
        for (const container of workload.containers) {
            for (const variable of container.env) {
                if (variable.fromReference) continue;
                const finding = envCredential(variable.name, variable.value);
                if (finding !== undefined) {
                    messages.push(
                        workload.platform === "ecs"
                            ? `${where(workload, container)} passes ${finding.what} as a plain environment value: move it to containerDefinitions[].secrets (valueFrom Secrets Manager or SSM SecureString), or use the task role.`
                            : `${where(workload, container)} passes ${finding.what} as a plain env value: use valueFrom.secretKeyRef (or mount the Secret), or IRSA instead of static keys.`,
                    );
                }
            }
            const findings = commandCredentials(container.tokens ?? []);
            if (findings.length > 0) {
                messages.push(
                    `${where(workload, container)} has ${findings.map((f) => f.what).join(", ")} on its command line, visible in the task/pod definition: ` +
                        `read it from a mounted Secret file (e.g. --objstore.config-file) or the environment from a secret.`,
                );
            }
        }
        return messages;
    },
);

const dynamicPrefix = "pulumi-nodejs:dynamic";

/** The Tsuru service registration: a dynamic resource with a serviceId and the broker's password. */
export function isTsuruService(type: string, props: Record<string, any>): boolean {
    return type.startsWith(dynamicPrefix) && "serviceId" in props && ("password" in props || "endpoints" in props || "apiUrl" in props);
}

export const tsuruPasswordSecret = resourcePolicy(
    {
        name: "tsuru-service-password-secret",
        description: "The Tsuru service registration (dynamic resource with serviceId/password) has a non-empty password that is a Pulumi secret.",
        enforcementLevel: "mandatory",
        severity: "critical",
        remediationSteps: "Pass the broker password as a secret (random.RandomPassword result, or `pulumi config set --secret`) and keep additionalSecretOutputs: [\"password\"] on the resource (TsuruService does).",
    },
    (view) => {
        if (!isTsuruService(view.type, view.props)) return [];
        const password = view.props.password;
        const label = `${describe(view)} (Tsuru service '${str(view.props.serviceId) ?? "?"}')`;
        if (!isUnknown(password) && (typeof password !== "string" || password === "")) {
            return [`${label} has no password: Tsuru authenticates to the broker with it. Generate one with random.RandomPassword and pass it as a secret.`];
        }
        const messages: string[] = [];
        if (!view.additionalSecretOutputs.includes("password")) {
            messages.push(`${label} does not mark its password output secret, so the state would hold it in plain text: register it with additionalSecretOutputs: ["password"] (TsuruService does).`);
        }
        // Only a harness that sees input secrets can tell (the engine does not hand them to analyzers).
        if (view.secretPaths !== undefined && !view.secretPaths.includes("password")) {
            messages.push(`${label} receives its password as a plain value: wrap it in pulumi.secret() or take it from random.RandomPassword.result / \`pulumi config set --secret\`.`);
        }
        return messages;
    },
);

export const logRetention = resourcePolicy(
    {
        name: "log-group-retention",
        description: "CloudWatch log groups have a retention period.",
        enforcementLevel: "advisory",
        severity: "low",
        remediationSteps: "Set retentionInDays on the aws.cloudwatch.LogGroup (e.g. 30).",
    },
    (view) => {
        if (view.type !== "aws:cloudwatch/logGroup:LogGroup" || isUnknown(view.props.retentionInDays)) return [];
        const days = num(view.props.retentionInDays);
        return days !== undefined && days > 0 ? [] : [`${describe(view)} keeps logs forever: set retentionInDays (e.g. 30).`];
    },
);
