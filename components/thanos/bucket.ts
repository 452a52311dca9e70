import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { formerly } from "../aliases";
import { hardenBucket } from "../aws/s3";
import type { BucketConfig, BucketCredentials, ThanosConfig } from "../config/types";
import { parseDurationSeconds } from "../units";
import { awsS3Endpoint, ObjstoreInput, renderObjstoreConfig } from "./render";

export interface ThanosBucketArgs {
    /** Either a bucket to create in S3 or an existing S3-compatible endpoint. */
    readonly bucket: BucketConfig;
    /** AWS region of a created bucket. */
    readonly region: string;
    /** Compactor retention, which the S3 lifecycle backstop must never undercut. */
    readonly compactor: ThanosConfig["compactor"];
    /** Static credentials written into objstore.yml; absent means the SDK's default chain. */
    readonly credentials?: BucketCredentials;
}

/** Days after which S3 may expire objects: past the longest Thanos retention; undefined when one keeps data forever. */
export function lifecycleExpirationDays(compactor: ThanosConfig["compactor"], marginDays: number): number | undefined {
    const retentions = [compactor.retentionRaw, compactor.retention5m, compactor.retention1h].map((d) => parseDurationSeconds(d)!);
    if (retentions.some((seconds) => seconds === 0)) return undefined;
    return Math.ceil(Math.max(...retentions) / 86400) + Math.ceil(parseDurationSeconds(compactor.deleteDelay)! / 86400) + marginDays;
}

/** The long-term bucket for Thanos: created in S3 with encryption, no public access, TLS only; or an existing endpoint. */
export class ThanosBucket extends pulumi.ComponentResource {
    readonly bucketName: pulumi.Output<string>;
    readonly endpoint: pulumi.Output<string>;
    /** ARN of a created bucket (for IAM scoping); undefined for an existing endpoint. */
    readonly arn?: pulumi.Output<string>;
    /** objstore.yml for every Thanos component; secret when it carries credentials. */
    readonly objstoreConfig: pulumi.Output<string>;

    constructor(name: string, args: ThanosBucketArgs, opts?: pulumi.ComponentResourceOptions) {
        super("paas:thanos:ThanosBucket", name, {}, formerly("paas:thanos:Bucket", opts));
        const child = { parent: this };
        const { bucket } = args;
        let objstore: pulumi.Output<ObjstoreInput>;

        if (bucket.type === "s3") {
            const created = new aws.s3.Bucket(`${name}`, {
                bucket: bucket.name,
                bucketPrefix: bucket.name === undefined ? "thanos-" : undefined,
                forceDestroy: bucket.forceDestroy,
                tags: { "paas.tsuru.io/purpose": "thanos-long-term-storage" },
            }, child);
            hardenBucket(name, created, { kmsKeyArn: bucket.kmsKeyArn }, child);
            const expirationDays = lifecycleExpirationDays(args.compactor, bucket.lifecycleMarginDays);
            new aws.s3.BucketLifecycleConfiguration(`${name}-lifecycle`, {
                bucket: created.id,
                rules: [
                    { id: "abort-incomplete-uploads", status: "Enabled", filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: 7 } },
                    ...(expirationDays === undefined ? [] : [{
                        id: "expire-past-thanos-retention",
                        status: "Enabled",
                        filter: {},
                        expiration: { days: expirationDays },
                    }]),
                ],
            }, child);
            this.bucketName = created.bucket;
            this.arn = created.arn;
            this.endpoint = pulumi.output(awsS3Endpoint(args.region));
            objstore = created.bucket.apply((bucketName) => ({
                bucket: bucketName,
                endpoint: awsS3Endpoint(args.region),
                region: args.region,
                kmsKeyArn: bucket.kmsKeyArn,
            }));
        } else {
            this.bucketName = pulumi.output(bucket.bucket);
            this.endpoint = pulumi.output(bucket.endpoint);
            objstore = pulumi.output({
                bucket: bucket.bucket,
                endpoint: bucket.endpoint,
                region: bucket.region,
                pathStyle: bucket.pathStyle,
                insecure: bucket.insecure,
            });
        }

        const credentials = args.credentials;
        this.objstoreConfig = credentials === undefined
            ? objstore.apply(renderObjstoreConfig)
            : pulumi.secret(pulumi.all([objstore, credentials.accessKey, credentials.secretKey])
                .apply(([input, accessKey, secretKey]) => renderObjstoreConfig({ ...input, accessKey, secretKey })));
        this.registerOutputs({ bucketName: this.bucketName, endpoint: this.endpoint, arn: this.arn, objstoreConfig: this.objstoreConfig });
    }
}
