/**
 * Evaluates the CrossGuard pack (policy/) without the engine, over resources recorded from a program run
 * under mocks or written by hand in tests.
 *
 * It mirrors what @pulumi/policy's analyzer server hands policies: resource policies get the inputs (secrets
 * unwrapped) wrapped in the SDK's own unknown-checking proxy, stack policies get the outputs plus parent,
 * dependencies and property dependencies as resource objects. One addition the engine does not make: the
 * secret input paths (see policy/lib/values.ts secretPathsKey), which the mocks can see.
 */
import * as path from "path";
import { policies as allPolicies, secretPathsKey, unknownString } from "../../policy/policies";
import type { EnforcementLevel, PaasPolicy, PolicyResource, ResourceValidationArgs, StackValidationArgs } from "../../policy/policies";

const policyRoot = path.resolve(__dirname, "..", "..", "policy");
// The SDK's own proxy (a dependency-free module), so unknown values behave exactly as under the engine.
const sdkProxy = requirePolicySdk("@pulumi/policy/proxy") as {
    unknownCheckingProxy<T>(value: T): T;
    UnknownValueError: new (...args: any[]) => Error;
};

function requirePolicySdk(module: string): unknown {
    let resolved: string;
    try {
        resolved = require.resolve(module, { paths: [policyRoot] });
    } catch {
        throw new Error(`${module} is not installed in policy/: run \`npm ci --ignore-scripts --no-audit --no-fund --prefix policy\` first`);
    }
    return require(resolved);
}

export const stackName = "test";
export const projectName = "prometheus-paas";

export interface HarnessResource {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    readonly custom: boolean;
    /** Inputs with secrets unwrapped (what resource policies see). */
    readonly inputs: Record<string, any>;
    /** Outputs (what stack policies see): the inputs plus what the provider computed. */
    readonly outputs: Record<string, any>;
    /** Input paths that were secrets ("password", "stringData.objstore.yml"). */
    readonly secretPaths: readonly string[];
    readonly parent?: string;
    readonly provider?: string;
    readonly dependencies: readonly string[];
    readonly propertyDependencies: Readonly<Record<string, readonly string[]>>;
    readonly additionalSecretOutputs: readonly string[];
}

export interface Finding {
    readonly policy: string;
    readonly enforcementLevel: EnforcementLevel;
    readonly message: string;
    readonly urn?: string;
    /** Name of the resource the finding is about, when known. */
    readonly resource?: string;
}

export function urnOf(type: string, name: string, parent?: HarnessResource | string): string {
    const parentUrn = typeof parent === "string" ? parent : parent?.urn;
    const parentType = parentUrn === undefined ? undefined : parentUrn.split("::")[2];
    const qualified = parentType === undefined ? type : `${parentType}$${type}`;
    return `urn:pulumi:${stackName}::${projectName}::${qualified}::${name}`;
}

export interface FixtureOptions {
    readonly parent?: HarnessResource | string;
    /** Computed outputs (arn, id, ...), merged over the inputs as a provider returns them. */
    readonly outputs?: Record<string, any>;
    readonly secretPaths?: readonly string[];
    readonly dependsOn?: readonly HarnessResource[];
    /** Property → resources it was computed from (as `bucket: created.id` records). */
    readonly propertyDependencies?: Record<string, readonly HarnessResource[]>;
    readonly additionalSecretOutputs?: readonly string[];
    readonly custom?: boolean;
}

/** A resource written by hand, as a program would register it. */
export function fixture(type: string, name: string, inputs: Record<string, any>, options: FixtureOptions = {}): HarnessResource {
    const propertyDependencies = Object.fromEntries(Object.entries(options.propertyDependencies ?? {}).map(([key, list]) => [key, list.map((r) => r.urn)]));
    const dependencies = [...new Set([...(options.dependsOn ?? []).map((r) => r.urn), ...Object.values(propertyDependencies).flat()])];
    return {
        type,
        name,
        urn: urnOf(type, name, options.parent),
        custom: options.custom ?? !type.startsWith("paas:"),
        inputs,
        outputs: { ...inputs, ...(options.outputs ?? {}) },
        secretPaths: options.secretPaths ?? [],
        parent: typeof options.parent === "string" ? options.parent : options.parent?.urn,
        dependencies,
        propertyDependencies,
        additionalSecretOutputs: options.additionalSecretOutputs ?? [],
    };
}

// ----------------------------------------------------------------------------------- recording a mocks run

const rpc = require("@pulumi/pulumi/runtime/rpc") as {
    specialSigKey: string;
    specialSecretSig: string;
    specialAssetSig: string;
    specialArchiveSig: string;
    specialResourceSig: string;
};

/** Turns the wire form of properties into what the analyzer deserializer produces, noting secret paths. */
export function fromWire(value: unknown, secretPaths: string[] = [], at = ""): any {
    if (Array.isArray(value)) return value.map((item, index) => fromWire(item, secretPaths, `${at}[${index}]`));
    if (value === null || typeof value !== "object") return value;
    const record = value as Record<string, any>;
    switch (record[rpc.specialSigKey]) {
        case rpc.specialSecretSig:
            secretPaths.push(at);
            return fromWire(record.value, secretPaths, at);
        case rpc.specialAssetSig:
        case rpc.specialArchiveSig:
            return { ...record };
        case rpc.specialResourceSig:
            // The engine hands analyzers resource references as their id (custom) or URN (component).
            return record.id ?? record.urn;
        case undefined:
            return Object.fromEntries(Object.entries(record).map(([key, inner]) => [key, fromWire(inner, secretPaths, at ? `${at}.${key}` : key)]));
        default:
            throw new Error(`unexpected special value ${record[rpc.specialSigKey]} at ${at}`);
    }
}

/**
 * Records every registration the mock monitor receives while `run` executes (installMocks + loading index.ts),
 * with what the engine would know: URN, parent, dependencies, property dependencies, options, secret inputs.
 */
export async function recordRegistrations<T>(run: () => Promise<T>): Promise<{ result: T; resources: HarnessResource[] }> {
    const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks") as { MockMonitor: { prototype: any } };
    const original = MockMonitor.prototype.registerResource;
    const resources: HarnessResource[] = [];
    MockMonitor.prototype.registerResource = function (this: any, req: any, callback: (err: any, response: any) => void) {
        const type: string = req.getType();
        const name: string = req.getName();
        const parent: string = req.getParent();
        const urn: string = this.newUrn(parent, type, name);
        const secretPaths: string[] = [];
        const inputs = fromWire(req.getObject()?.toJavaScript() ?? {}, secretPaths);
        const propertyDependencies: Record<string, string[]> = {};
        req.getPropertydependenciesMap().forEach((entry: any, key: string) => {
            propertyDependencies[key] = entry.getUrnsList();
            // An input computed from an output the mocks never compute (RandomPassword.result): unknown, as in a preview.
            if ((inputs[key] === undefined || inputs[key] === null) && propertyDependencies[key].length > 0) inputs[key] = unknownString;
        });
        const record: { -readonly [K in keyof HarnessResource]: HarnessResource[K] } = {
            type,
            name,
            urn,
            custom: req.getCustom(),
            inputs,
            outputs: inputs,
            secretPaths,
            parent: parent || undefined,
            provider: req.getProvider() || undefined,
            dependencies: req.getDependenciesList(),
            propertyDependencies,
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        };
        resources.push(record);
        return original.call(this, req, (err: any, response: any) => {
            if (!err && response) record.outputs = fromWire(response.getObject()?.toJavaScript() ?? {});
            callback(err, response);
        });
    };
    try {
        const result = await run();
        return { result, resources };
    } finally {
        MockMonitor.prototype.registerResource = original;
    }
}

// --------------------------------------------------------------------------------------------- evaluation

class NotApplicable extends Error {}

function withSecretPaths(props: Record<string, any>, paths: readonly string[] | undefined): Record<string, any> {
    const copy = { ...props };
    if (paths === undefined) return copy;
    Object.defineProperty(copy, secretPathsKey, { value: [...paths], enumerable: false });
    return copy;
}

function options(resource: HarnessResource) {
    return {
        protect: false,
        ignoreChanges: [],
        aliases: [],
        customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
        additionalSecretOutputs: [...resource.additionalSecretOutputs],
        parent: resource.parent,
    };
}

function typeMatcher(type: string) {
    return (resourceClass: any) => resourceClass?.__pulumiType === type || resourceClass?.isInstance?.({ __pulumiType: type }) === true;
}

function levelOf(policy: PaasPolicy, packLevel: EnforcementLevel): EnforcementLevel {
    const level = policy.enforcementLevel ?? packLevel;
    return level === "remediate" ? "mandatory" : level;
}

export interface EvaluateOptions {
    readonly policies?: readonly PaasPolicy[];
    readonly packLevel?: EnforcementLevel;
    /** false: hide secret input paths from policies, as the engine does. */
    readonly secretsVisible?: boolean;
}

/** Runs every policy over the resources, the way the analyzer server does, and returns the violations. */
export async function evaluate(resources: readonly HarnessResource[], evaluateOptions: EvaluateOptions = {}): Promise<Finding[]> {
    const packLevel = evaluateOptions.packLevel ?? "mandatory";
    const secretsOf = (resource: HarnessResource) => (evaluateOptions.secretsVisible === false ? undefined : resource.secretPaths);
    const findings: Finding[] = [];
    for (const policy of evaluateOptions.policies ?? allPolicies) {
        const enforcementLevel = levelOf(policy, packLevel);
        if (enforcementLevel === "disabled") continue;
        if ("validateResource" in policy && policy.validateResource !== undefined) {
            const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
            for (const resource of resources) {
                for (const validation of validations) {
                    const props = sdkProxy.unknownCheckingProxy(withSecretPaths(resource.inputs, secretsOf(resource)));
                    const args: ResourceValidationArgs = {
                        type: resource.type,
                        props,
                        urn: resource.urn,
                        name: resource.name,
                        opts: options(resource),
                        stackTags: new Map(),
                        isType: typeMatcher(resource.type),
                        asType: ((resourceClass: any) => (typeMatcher(resource.type)(resourceClass) ? props : undefined)) as any,
                        getConfig: <T extends object>() => ({}) as T,
                        notApplicable: (reason?: string) => {
                            throw new NotApplicable(reason);
                        },
                    };
                    try {
                        await validation(args, (message) => findings.push({ policy: policy.name, enforcementLevel, message, urn: resource.urn, resource: resource.name }));
                    } catch (error) {
                        if (error instanceof NotApplicable) continue;
                        if (error instanceof sdkProxy.UnknownValueError) {
                            findings.push({ policy: policy.name, enforcementLevel: "advisory", message: `can't run policy '${policy.name}' during preview: ${(error as Error).message}`, urn: resource.urn });
                            continue;
                        }
                        throw new Error(`policy ${policy.name} threw on ${resource.type} ${resource.name}: ${(error as Error).stack}`);
                    }
                }
            }
        }
        if ("validateStack" in policy && policy.validateStack !== undefined) {
            const byUrn = new Map<string, PolicyResource>();
            const policyResources: PolicyResource[] = resources.map((resource) => {
                const props = sdkProxy.unknownCheckingProxy(withSecretPaths(resource.outputs, secretsOf(resource)));
                const policyResource: PolicyResource = {
                    type: resource.type,
                    props,
                    urn: resource.urn,
                    name: resource.name,
                    opts: options(resource),
                    dependencies: [],
                    propertyDependencies: {},
                    isType: typeMatcher(resource.type),
                    asType: ((resourceClass: any) => (typeMatcher(resource.type)(resourceClass) ? props : undefined)) as any,
                };
                byUrn.set(resource.urn, policyResource);
                return policyResource;
            });
            resources.forEach((resource, index) => {
                const target = policyResources[index];
                target.parent = resource.parent === undefined ? undefined : byUrn.get(resource.parent);
                target.dependencies = resource.dependencies.map((urn) => byUrn.get(urn)).filter((r): r is PolicyResource => r !== undefined);
                for (const [key, urns] of Object.entries(resource.propertyDependencies)) {
                    target.propertyDependencies[key] = urns.map((urn) => byUrn.get(urn)).filter((r): r is PolicyResource => r !== undefined);
                }
            });
            const args: StackValidationArgs = {
                resources: policyResources,
                stackTags: new Map(),
                getConfig: <T extends object>() => ({}) as T,
                notApplicable: (reason?: string) => {
                    throw new NotApplicable(reason);
                },
            };
            try {
                await policy.validateStack(args, (message, urn) => findings.push({ policy: policy.name, enforcementLevel, message, urn, resource: urn === undefined ? undefined : byUrn.get(urn)?.name }));
            } catch (error) {
                if (error instanceof NotApplicable) continue;
                if (error instanceof sdkProxy.UnknownValueError) {
                    findings.push({ policy: policy.name, enforcementLevel: "advisory", message: `can't run policy '${policy.name}' during preview: ${(error as Error).message}` });
                    continue;
                }
                throw new Error(`stack policy ${policy.name} threw: ${(error as Error).stack}`);
            }
        }
    }
    return findings;
}

export function mandatory(findings: readonly Finding[]): Finding[] {
    return findings.filter((finding) => finding.enforcementLevel === "mandatory");
}

/** One line per finding, for assertion messages. */
export function formatFindings(findings: readonly Finding[]): string {
    return findings.map((finding) => `[${finding.enforcementLevel}] ${finding.policy}: ${finding.message}`).join("\n");
}
