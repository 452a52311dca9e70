/**
 * What a stack renders, as files: read from the resources the program registers under mocks, so the golden files
 * pin what the program really emits (not what a test rebuilds). Secrets are masked.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";
import { envsubstAwkFile } from "../../components/envsubst";
import { flushScriptFile } from "../../components/prometheus/flush";
import { projectRoot } from "./fixtures";
import { plainValue } from "./mock-runtime";
import type { RegisteredResource } from "./mocks";
import { mockAutoName, resolve } from "./mocks";
import type { StackRun } from "./stack";

const masked = "<masked>";

/** objstore.yml with its keys masked. */
export function maskObjstore(text: string): string {
    return text.replace(/^(\s*(?:access_key|secret_key):\s*).+$/gm, `$1${masked}`);
}

/** A Secret's file as the golden files show it: its shape, with every credential masked. */
export function maskSecretFile(key: string, text: string): string {
    if (key === "objstore.yml") return maskObjstore(text);
    // web.yml: the users stay visible, their bcrypt hashes do not.
    if (key === "web.yml") return text.replace(/^(\s+[^\s:]+:\s*)\$2[aby]\$.+$/gm, `$1${masked}`);
    // The client file names the password file, holds no credential.
    if (key === "http-client.yml") return text;
    // Grafana datasources: the password in secureJsonData.
    if (/\.yaml$/.test(key) && text.includes("datasources:")) return text.replace(/^(\s*basicAuthPassword:\s*).+$/gm, `$1${masked}`);
    return masked;
}

/** The Thanos reloader's `$(VAR)` substitution (single pass; an unset variable is an error). */
export function substitute(template: string, env: Readonly<Record<string, string>>): string {
    return template.replace(/\$\(([a-zA-Z_0-9]+)\)/g, (_, name: string) => {
        if (env[name] === undefined) throw new Error(`found reference to unset environment variable ${name}`);
        return env[name];
    });
}

const dumpYaml = (value: unknown) => yaml.dump(value, { lineWidth: -1, noRefs: true, sortKeys: false });
const dumpJson = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const parseJson = (text: unknown) => JSON.parse(String(text));

function kindOf(resource: RegisteredResource): string {
    return resource.type.split(":").pop()!;
}

/** Files embedded in a Kubernetes object (ConfigMap data, Secret stringData), listed by key in its manifest. */
const embedded = (data: Record<string, string> | undefined) => Object.keys(data ?? {}).sort();

/** Files of the project a ConfigMap or the config bucket ships verbatim: pinned by a reference instead of one copy per instance. */
const shippedFiles = [flushScriptFile, envsubstAwkFile].map((file) => ({ file: path.relative(projectRoot, file), content: fs.readFileSync(file, "utf8") }));

function shippedOrContent(content: string): string {
    const shipped = shippedFiles.find((candidate) => candidate.content === content);
    return shipped === undefined ? content : `(the content of ${shipped.file}, unchanged)\n`;
}

function kubernetesArtifacts(resource: RegisteredResource, inputs: Record<string, any>, files: Record<string, string>, replicaCounts: ReadonlyMap<string, number>): void {
    const kind = kindOf(resource);
    const namespace = inputs.metadata?.namespace;
    // An object without metadata.name is named by the provider (the mocks name it the same way).
    const name: string = inputs.metadata?.name ?? mockAutoName(resource.name);
    const base = `kubernetes/${namespace ? `${namespace}/` : ""}${kind}-${name}`;
    const manifest: Record<string, unknown> = { ...inputs };
    if (kind === "ConfigMap") {
        manifest.data = embedded(inputs.data);
        for (const [key, content] of Object.entries<string>(inputs.data ?? {})) files[`${base}/${key}`] = shippedOrContent(content);
    }
    if (kind === "Secret") {
        manifest.stringData = embedded(inputs.stringData);
        for (const [key, content] of Object.entries<string>(inputs.stringData ?? {})) {
            files[`${base}/${key}`] = maskSecretFile(key, content);
        }
    }
    files[`${base}.yml`] = dumpYaml(manifest);
    // prometheus.yml as each replica's reloader writes it: the pod name substituted.
    const template = inputs.data?.["prometheus.yml.tmpl"];
    if (kind === "ConfigMap" && template !== undefined) {
        const statefulSet = name.replace(/-config$/, "");
        const replicas = replicaCounts.get(`${namespace}/${statefulSet}`) ?? 1;
        for (let index = 0; index < replicas; index++) {
            const pod = `${statefulSet}-${index}`;
            files[`${base}/${pod}.prometheus.yml`] = substitute(template, { POD_NAME: pod });
        }
    }
}

/** Per ECS task: the substitution config-render applies (its environment; secrets shown as placeholders). */
function renderEnvironments(tasks: RegisteredResource[]): Map<string, Record<string, string>[]> {
    const byPrefix = new Map<string, Record<string, string>[]>();
    for (const task of tasks) {
        const containers: any[] = parseJson(plainValue(task.inputs.containerDefinitions));
        const render = containers.find((container) => container.name === "config-render");
        const sync = containers.find((container) => container.name === "config-sync");
        if (render === undefined || sync === undefined) continue;
        const prefix = String(sync.command[2]).replace(/^s3:\/\/[^/]+\//, "");
        const env: Record<string, string> = {};
        for (const variable of render.environment ?? []) env[variable.name] = variable.value;
        for (const secret of render.secrets ?? []) env[secret.name] = `<${secret.name} from ${secret.valueFrom}>`;
        byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), env]);
    }
    return byPrefix;
}

/** Every rendered artifact of a stack run: manifests, configs per replica, rule files, task definitions, IAM documents, the resource inventory, outputs. */
export async function stackArtifacts(run: StackRun): Promise<Record<string, string>> {
    const files: Record<string, string> = {};
    const resources = run.recorder.resources.map((resource) => ({ ...resource, inputs: plainValue(resource.inputs) as Record<string, any> }));
    const replicaCounts = new Map<string, number>(resources
        .filter((resource) => resource.type === "kubernetes:apps/v1:StatefulSet")
        .map((resource) => [`${resource.inputs.metadata.namespace}/${resource.inputs.metadata.name}`, resource.inputs.spec.replicas]));
    const tasks = resources.filter((resource) => resource.type === "aws:ecs/taskDefinition:TaskDefinition");
    const environments = renderEnvironments(tasks);

    for (const resource of resources) {
        const { inputs } = resource;
        if (resource.type.startsWith("kubernetes:") && !resource.type.startsWith("pulumi:providers")) {
            kubernetesArtifacts(resource, inputs, files, replicaCounts);
            continue;
        }
        switch (resource.type) {
            case "aws:ecs/taskDefinition:TaskDefinition": {
                const { containerDefinitions, ...task } = inputs;
                files[`ecs/task-definitions/${inputs.family}.json`] = dumpJson({ ...task, containerDefinitions: parseJson(containerDefinitions) });
                break;
            }
            case "aws:s3/bucketObjectv2:BucketObjectv2": {
                const key = String(inputs.key);
                files[`ecs/config-bucket/${key}`] = key.endsWith("objstore.yml") ? maskObjstore(inputs.content) : shippedOrContent(inputs.content);
                if (key.endsWith("/prometheus.yml.tmpl")) {
                    const prefix = key.slice(0, -"prometheus.yml.tmpl".length);
                    for (const env of environments.get(prefix) ?? []) {
                        files[`ecs/config-bucket/${prefix}${env.PROMETHEUS_REPLICA}.prometheus.yml`] = substitute(inputs.content, env);
                    }
                }
                break;
            }
            case "aws:iam/role:Role":
                files[`iam/${resource.name}.trust.json`] = dumpJson(parseJson(inputs.assumeRolePolicy));
                break;
            case "aws:iam/rolePolicy:RolePolicy":
                files[`iam/${resource.name}.policy.json`] = dumpJson(parseJson(inputs.policy));
                break;
            case "aws:efs/fileSystemPolicy:FileSystemPolicy":
            case "aws:s3/bucketPolicy:BucketPolicy":
                files[`iam/${resource.name}.resource-policy.json`] = dumpJson(parseJson(inputs.policy));
                break;
            case "pulumi-nodejs:dynamic/paas-tsuru:TsuruService": {
                const { documentation, password: _password, __provider: _provider, ...registration } = inputs;
                files["tsuru/service.json"] = dumpJson({ ...registration, password: masked });
                files["tsuru/service-doc.txt"] = String(documentation);
                break;
            }
        }
    }
    // The inventory: what a change adds, removes or renames (a rename replaces the resource).
    files["resources.txt"] = [...new Set(resources.map((resource) => `${resource.type} ${resource.name}`))].sort().join("\n") + "\n";
    // Secret outputs (credentials) are masked whole.
    const outputs: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(run.outputs as Record<string, unknown>)) {
        outputs[key] = value !== undefined && (await pulumi.isSecret(pulumi.output(value))) ? masked : plainValue(await resolve(value));
    }
    files["outputs.json"] = dumpJson(outputs);
    return Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b)));
}
