/**
 * Every IAM document the stacks register, held against IAM's own grammar (test/support/iam-rules.ts): trust
 * policies, the roles' permission policies, and the resource policies of the file system and the buckets.
 */
import { strict as assert } from "assert";
import { ecsRawConfig } from "../support/ecs-fixtures";
import { stackNames, readStackFile } from "../support/fixtures";
import { DocumentKind, iamDocumentProblems, leastPrivilegeProblems } from "../support/iam-rules";
import { unsecret } from "../support/mocks";
import { runStackConfig } from "../support/stack";

interface RegisteredDocument {
    readonly label: string;
    readonly kind: DocumentKind;
    readonly text: string;
}

const documentInputs: Record<string, { input: string; kind: DocumentKind }> = {
    "aws:iam/role:Role": { input: "assumeRolePolicy", kind: "trust" },
    "aws:iam/rolePolicy:RolePolicy": { input: "policy", kind: "permission" },
    "aws:iam/policy:Policy": { input: "policy", kind: "permission" },
    "aws:efs/fileSystemPolicy:FileSystemPolicy": { input: "policy", kind: "resource" },
    "aws:s3/bucketPolicy:BucketPolicy": { input: "policy", kind: "resource" },
};

async function registeredDocuments(raw: Record<string, unknown>, stack: string): Promise<RegisteredDocument[]> {
    const run = await runStackConfig(raw, stack);
    return run.recorder.resources.flatMap((resource) => {
        const found = documentInputs[resource.type];
        return found ? [{ label: `${stack}: ${resource.type} ${resource.name}`, kind: found.kind, text: String(unsecret(resource.inputs[found.input])) }] : [];
    });
}

/** The stacks, plus the two-platform fixture with the compactor on either side (so every role exists somewhere). */
const configurations: [string, () => Record<string, unknown>][] = [
    ...stackNames().map((stack): [string, () => Record<string, unknown>] => [stack, () => readStackFile(stack)]),
    ["two-platforms", () => ecsRawConfig()],
    ["two-platforms-compactor-on-ecs", () => ecsRawConfig({ thanos: { compactor: { platform: "ecs" } } })],
];

describe("IAM documents the stacks register, checked against IAM's grammar", () => {
    const all: RegisteredDocument[] = [];

    before(async () => {
        for (const [name, raw] of configurations) all.push(...await registeredDocuments(raw(), name));
    });

    it("finds trust, permission and resource policies to check", () => {
        for (const kind of ["trust", "permission", "resource"] as const) assert.ok(all.some((document) => document.kind === kind), `no ${kind} policy registered`);
        assert.ok(all.some((document) => document.label.startsWith("prod: aws:iam/role:Role")), "the prod stack registers roles");
    });

    it("every document is one IAM accepts for its kind (trust: no Resource; permission: no Principal; Version 2012-10-17)", () => {
        const problems = all.flatMap((document) => iamDocumentProblems(document.kind, document.text).map((problem) => `${document.label}: ${problem}`));
        assert.deepEqual(problems, []);
    });

    it("every permission grants exact actions, on '*' only where IAM has no resource type", () => {
        const problems = all.filter((document) => document.kind === "permission")
            .flatMap((document) => leastPrivilegeProblems(document.text).map((problem) => `${document.label}: ${problem}`));
        assert.deepEqual(problems, []);
    });
});

describe("IAM grammar rules (test/support/iam-rules.ts) reject what IAM rejects", () => {
    const trust = (statement: Record<string, unknown>) => JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "ecs-tasks.amazonaws.com" }, Action: "sts:AssumeRole", ...statement }] });
    const permission = (statement: Record<string, unknown>, version = "2012-10-17") =>
        JSON.stringify({ Version: version, Statement: [{ Sid: "Read", Effect: "Allow", Action: ["s3:GetObject"], Resource: "arn:aws:s3:::b/*", ...statement }] });
    const rejects = (kind: DocumentKind, text: string, pattern: RegExp) => {
        const problems = iamDocumentProblems(kind, text);
        assert.ok(problems.some((problem) => pattern.test(problem)), `expected ${pattern} in ${JSON.stringify(problems)}`);
    };

    it("accepts well-formed documents of each kind", () => {
        assert.deepEqual(iamDocumentProblems("trust", trust({ Condition: { StringEquals: { "aws:SourceAccount": "123456789012" } } })), []);
        assert.deepEqual(iamDocumentProblems("permission", permission({ Condition: { StringLikeIfExists: { "s3:prefix": ["a/", "a/*"] } } })), []);
        assert.deepEqual(iamDocumentProblems("resource", permission({ Effect: "Deny", Principal: "*", Condition: { Bool: { "aws:SecureTransport": "false" } } })), []);
    });

    it("a trust policy with a Resource (the ECS roles' old defect)", () => rejects("trust", trust({ Resource: "*" }), /trust policy has no Resource/));
    it("a trust policy without a Principal or granting a non-STS action", () => {
        rejects("trust", JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "sts:AssumeRole" }] }), /needs a Principal/);
        rejects("trust", trust({ Action: "s3:GetObject" }), /not an STS action/);
    });
    it("a permission policy naming a Principal, or without Resource", () => {
        rejects("permission", permission({ Principal: { AWS: "*" } }), /names no Principal/);
        rejects("permission", permission({ Resource: undefined }), /exactly one of Resource or NotResource/);
    });
    it("another Version, an unknown operator, a Bool that is not true/false", () => {
        rejects("permission", permission({}, "2008-10-17"), /Version must be "2012-10-17"/);
        rejects("permission", permission({ Condition: { StringEqualz: { "aws:SourceAccount": "1" } } }), /unknown condition operator 'StringEqualz'/);
        rejects("permission", permission({ Condition: { NullIfExists: { "aws:TokenIssueTime": "true" } } }), /Null has no IfExists form/);
        rejects("permission", permission({ Condition: { Bool: { "aws:SecureTransport": "no" } } }), /takes "true" or "false"/);
    });
    it("malformed actions, resources, Sids and unknown elements", () => {
        rejects("permission", permission({ Action: ["GetObject"] }), /action 'GetObject' is not <service>:<action>/);
        rejects("permission", permission({ Resource: "arn:aws:s3" }), /is not "\*" or an ARN/);
        rejects("permission", permission({ Sid: "read-objects" }), /may hold only letters and digits/);
        rejects("permission", permission({ Resources: ["*"] }), /unknown element 'Resources'/);
        rejects("resource", permission({ Principal: { Service: "ecs-tasks" } }), /not a <service>.amazonaws.com name/);
    });
    it("documents over IAM's size quota", () => {
        rejects("trust", trust({ Condition: { StringEquals: { "aws:SourceAccount": Array.from({ length: 200 }, (_, i) => String(100000000000 + i)) } } }), /a trust policy allows 2048/);
    });
    it("least privilege: wildcards, NotAction, and '*' for a scopable action", () => {
        assert.deepEqual(leastPrivilegeProblems(permission({ Action: ["s3:Get*"], Resource: "*" })), ["wildcard action s3:Get*", 's3:Get* on Resource "*" although IAM can scope it']);
        assert.deepEqual(leastPrivilegeProblems(permission({ Action: undefined, NotAction: ["iam:*"] })), ['Allow with NotAction ["iam:*"]']);
        assert.deepEqual(leastPrivilegeProblems(permission({ Action: ["cloudwatch:ListMetrics"], Resource: "*" })), []);
    });
});
