/** Pulumi mocks that record every registered resource, for component and stack tests. */
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { waitForRegistrations } from "./mock-runtime";

export { isSecret, unsecret } from "./mock-runtime";

export interface RegisteredResource {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, any>;
}

export interface Recorder {
    readonly resources: RegisteredResource[];
    ofType(type: string): RegisteredResource[];
    one(type: string, name: string): RegisteredResource;
    /** Waits until every pending registration has reached the mocks. */
    settle(): Promise<void>;
}


/**
 * The Kubernetes provider names an object without metadata.name `<resource name>-<8 random characters>`; the mocks
 * use a suffix derived from the name, so golden files stay stable.
 */
export function mockAutoName(name: string): string {
    return `${name}-${createHash("sha256").update(name).digest("hex").slice(0, 8)}`;
}

function mockState(type: string, name: string, inputs: Record<string, any>): Record<string, any> {
    if (type.startsWith("kubernetes:") && inputs.metadata !== undefined && inputs.metadata.name === undefined) {
        return { ...inputs, metadata: { ...inputs.metadata, name: mockAutoName(name) } };
    }
    switch (type) {
        case "aws:s3/bucket:Bucket": {
            const bucket = inputs.bucket ?? `${inputs.bucketPrefix ?? name}-mock1234`;
            return { ...inputs, bucket, arn: `arn:aws:s3:::${bucket}` };
        }
        // A generated password the mocks can hash: derived from the name, so golden files stay stable.
        case "random:index/randomPassword:RandomPassword":
            return { ...inputs, result: `mock-password-${createHash("sha256").update(name).digest("hex").slice(0, 24)}` };
        case "aws:secretsmanager/secret:Secret":
            return { ...inputs, arn: `arn:aws:secretsmanager:us-east-1:${mockAccountId}:secret:${inputs.name ?? `${inputs.namePrefix ?? `${name}-`}mock`}-AbCdEf` };
        case "aws:secretsmanager/secretVersion:SecretVersion":
            return { ...inputs, versionId: `mock-version-${createHash("sha256").update(name).digest("hex").slice(0, 12)}` };
        case "aws:lb/loadBalancer:LoadBalancer":
            return { ...inputs, arn: `arn:aws:mock:::${name}`, dnsName: `internal-${inputs.name ?? name}-1234567890.us-east-1.elb.amazonaws.com` };
        default:
            return { ...inputs, arn: inputs.arn ?? `arn:aws:mock:::${name}` };
    }
}

/** Account every mocked AWS look-up answers with. */
export const mockAccountId = "123456789012";

/** Answers of the provider functions (data sources) the AWS half calls; anything else echoes its inputs. */
function mockCall(token: string, inputs: Record<string, any>): Record<string, any> {
    switch (token) {
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return { id: mockAccountId, accountId: mockAccountId, arn: `arn:aws:iam::${mockAccountId}:user/mock`, userId: "AIDAMOCK" };
        case "aws:index/getPartition:getPartition":
            return { id: "aws", partition: "aws", dnsSuffix: "amazonaws.com" };
        case "aws:ec2/getVpc:getVpc":
            return { ...inputs, id: inputs.id ?? "vpc-0feedface0000001", cidrBlock: "10.40.0.0/16" };
        case "aws:ec2/getSubnet:getSubnet": {
            const zone = String(inputs.availabilityZone);
            return { ...inputs, id: `subnet-0looked0up000000${zone.slice(-1)}`, availabilityZone: zone, vpcId: inputs.vpcId };
        }
        case "aws:ecs/getCluster:getCluster":
            return { ...inputs, id: inputs.clusterName, arn: `arn:aws:ecs:us-east-1:${mockAccountId}:cluster/${inputs.clusterName}` };
        default:
            return inputs;
    }
}

export async function installMocks(config: Record<string, string> = {}, secretKeys: string[] = [], stack = "test"): Promise<Recorder> {
    const resources: RegisteredResource[] = [];
    pulumi.runtime.setAllConfig(config, secretKeys);
    await pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs) {
                resources.push({ type: args.type, name: args.name, inputs: args.inputs });
                return { id: `${args.name}-id`, state: mockState(args.type, args.name, args.inputs) };
            },
            call(args: pulumi.runtime.MockCallArgs) {
                return mockCall(args.token, args.inputs);
            },
        },
        "prometheus-paas",
        stack,
        false,
    );
    return {
        resources,
        ofType: (type) => resources.filter((resource) => resource.type === type),
        one(type, name) {
            const found = resources.filter((resource) => resource.type === type && resource.name === name);
            if (found.length !== 1) {
                throw new Error(`expected one ${type} named ${name}, found ${found.length}; registered: ${resources.map((r) => `${r.type}/${r.name}`).join(", ")}`);
            }
            return found[0];
        },
        settle: () => waitForRegistrations(),
    };
}

/** Resolves an Output (or plain value) in tests. */
export function resolve<T>(value: pulumi.Input<T>): Promise<T> {
    return new Promise((resolvePromise) => pulumi.output(value).apply((resolved) => resolvePromise(resolved as T)));
}
