import { strict as assert } from "assert";
import * as yaml from "js-yaml";
import { lifecycleExpirationDays, ThanosBucket } from "../../components/thanos/bucket";
import { minimalConfig } from "../support/fixtures";
import { installMocks, Recorder, resolve } from "../support/mocks";

describe("ThanosBucket (created in S3)", () => {
    let recorder: Recorder;
    let bucket: ThanosBucket;
    const config = minimalConfig({ bucket: { type: "s3", kmsKeyArn: "arn:aws:kms:us-east-1:111122223333:key/k" } });

    before(async () => {
        recorder = await installMocks();
        bucket = new ThanosBucket("thanos-bucket", { bucket: config.bucket, region: "eu-west-1", compactor: config.thanos.compactor });
        await recorder.settle();
    });

    it("encrypts with the configured KMS key", () => {
        const encryption = recorder.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "thanos-bucket-encryption");
        assert.deepEqual(encryption.inputs.rules[0].applyServerSideEncryptionByDefault, { sseAlgorithm: "aws:kms", kmsMasterKeyId: "arn:aws:kms:us-east-1:111122223333:key/k" });
    });

    it("blocks every form of public access", () => {
        const block = recorder.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "thanos-bucket-public-access");
        for (const flag of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) {
            assert.equal(block.inputs[flag], true, flag);
        }
    });

    it("denies non-TLS access in the bucket policy", () => {
        const policy = JSON.parse(recorder.one("aws:s3/bucketPolicy:BucketPolicy", "thanos-bucket-tls-only").inputs.policy);
        assert.deepEqual(policy.Statement[0].Condition, { Bool: { "aws:SecureTransport": "false" } });
        assert.equal(policy.Statement[0].Effect, "Deny");
        assert.deepEqual(policy.Statement[0].Resource, ["arn:aws:s3:::thanos--mock1234", "arn:aws:s3:::thanos--mock1234/*"]);
    });

    it("expires objects only after the longest Thanos retention plus delete delay and margin", () => {
        const lifecycle = recorder.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "thanos-bucket-lifecycle");
        const expire = lifecycle.inputs.rules.find((rule: any) => rule.id === "expire-past-thanos-retention");
        assert.equal(expire.expiration.days, 365 + 2 + 7);
        assert.ok(lifecycle.inputs.rules.some((rule: any) => rule.abortIncompleteMultipartUpload?.daysAfterInitiation === 7));
    });

    it("renders objstore.yml for the regional endpoint with the SDK credential chain and SSE-KMS", async () => {
        const objstore = yaml.load(await resolve(bucket.objstoreConfig)) as any;
        assert.equal(objstore.config.bucket, "thanos--mock1234");
        assert.equal(objstore.config.endpoint, "s3.eu-west-1.amazonaws.com");
        assert.equal(objstore.config.aws_sdk_auth, true);
        assert.equal(objstore.config.sse_config.type, "SSE-KMS");
    });
});

describe("ThanosBucket (existing endpoint)", () => {
    it("creates no AWS resource and keeps credentials secret", async () => {
        const recorder = await installMocks();
        const config = minimalConfig();
        const bucket = new ThanosBucket("thanos-bucket", {
            bucket: config.bucket, region: "us-east-1", compactor: config.thanos.compactor,
            credentials: { accessKey: "minio", secretKey: "minio-secret" },
        });
        await recorder.settle();
        assert.deepEqual(recorder.resources.map((resource) => resource.type), ["paas:thanos:ThanosBucket"]);
        assert.equal(await (bucket.objstoreConfig as any).isSecret, true);
        const objstore = yaml.load(await resolve(bucket.objstoreConfig)) as any;
        assert.deepEqual([objstore.config.endpoint, objstore.config.bucket_lookup_type, objstore.config.access_key], ["minio.storage:9000", "path", "minio"]);
    });
});

describe("lifecycleExpirationDays", () => {
    it("never expires when any resolution keeps data forever", () => {
        assert.equal(lifecycleExpirationDays({ ...minimalConfig().thanos.compactor, retention1h: "0d" }, 7), undefined);
    });
});
