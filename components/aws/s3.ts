/** Hardening every bucket of this program gets: owner-enforced objects, no public access, encryption, TLS only. */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { tlsOnlyBucketPolicy } from "./iam";

export interface BucketHardening {
    /** SSE-KMS key; default SSE-S3 (AES256). */
    readonly kmsKeyArn?: string;
}

/** Adds the hardening resources of `bucket`; names are derived from `name` so existing stacks keep their resources. */
export function hardenBucket(name: string, bucket: aws.s3.Bucket, hardening: BucketHardening, opts: pulumi.CustomResourceOptions): void {
    new aws.s3.BucketOwnershipControls(`${name}-ownership`, {
        bucket: bucket.id,
        rule: { objectOwnership: "BucketOwnerEnforced" },
    }, opts);
    new aws.s3.BucketPublicAccessBlock(`${name}-public-access`, {
        bucket: bucket.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
    }, opts);
    new aws.s3.BucketServerSideEncryptionConfiguration(`${name}-encryption`, {
        bucket: bucket.id,
        rules: [{
            applyServerSideEncryptionByDefault: hardening.kmsKeyArn
                ? { sseAlgorithm: "aws:kms", kmsMasterKeyId: hardening.kmsKeyArn }
                : { sseAlgorithm: "AES256" },
            bucketKeyEnabled: hardening.kmsKeyArn !== undefined,
        }],
    }, opts);
    new aws.s3.BucketPolicy(`${name}-tls-only`, {
        bucket: bucket.id,
        policy: bucket.arn.apply((arn) => JSON.stringify(tlsOnlyBucketPolicy(arn))),
    }, opts);
}
