/**
 * Least-privilege S3 access of each Thanos component (reference: prometheus-thanos.md), as pure policy statements.
 */
import type { PermissionStatement } from "../aws/iam";

export type ThanosComponent = "sidecar" | "store" | "compactor" | "query";

/** The table: sidecar uploads, store reads, compactor rewrites and deletes, query never touches the bucket. */
export const thanosObjectActions: Readonly<Record<ThanosComponent, readonly string[]>> = {
    sidecar: ["s3:GetObject", "s3:PutObject"],
    store: ["s3:GetObject"],
    compactor: ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
    query: [],
};

export interface ThanosBucketAccessInput {
    readonly bucketArn: string;
    /** SSE-KMS key of the bucket: readers decrypt, writers also generate data keys. */
    readonly kmsKeyArn?: string;
}

export function thanosBucketStatements(component: ThanosComponent, input: ThanosBucketAccessInput): PermissionStatement[] {
    const objectActions = thanosObjectActions[component];
    if (objectActions.length === 0) return [];
    const statements: PermissionStatement[] = [
        { Sid: "ListThanosBucket", Effect: "Allow", Action: ["s3:ListBucket"], Resource: input.bucketArn },
        { Sid: `ThanosBlocks${component[0].toUpperCase()}${component.slice(1)}`, Effect: "Allow", Action: [...objectActions], Resource: `${input.bucketArn}/*` },
    ];
    if (input.kmsKeyArn !== undefined) {
        const writes = objectActions.includes("s3:PutObject");
        statements.push({
            Sid: "UseBucketKey",
            Effect: "Allow",
            Action: writes ? ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"],
            Resource: input.kmsKeyArn,
        });
    }
    return statements;
}
