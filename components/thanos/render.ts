/**
 * Pure renderers for Thanos: objstore.yml and the flags of sidecar, store, query and compactor.
 * Shared by the Kubernetes and ECS implementations; no Pulumi imports.
 */
import * as yaml from "js-yaml";
import type { ThanosConfig } from "../config/types";
import { prometheusWebPort } from "../prometheus/defaults";
import { queryHttpPort, storeSyncInterval, thanosPorts } from "./defaults";

export interface ObjstoreInput {
    readonly bucket: string;
    /** host[:port], no scheme. */
    readonly endpoint: string;
    readonly region: string;
    readonly pathStyle?: boolean;
    readonly insecure?: boolean;
    /** Static credentials; without them the AWS SDK's default chain is used (task role, IRSA). */
    readonly accessKey?: string;
    readonly secretKey?: string;
    readonly kmsKeyArn?: string;
}

export function renderObjstoreConfig(input: ObjstoreInput): string {
    const config: Record<string, unknown> = {
        bucket: input.bucket,
        endpoint: input.endpoint,
        region: input.region,
        insecure: input.insecure ?? false,
        signature_version2: false,
        bucket_lookup_type: input.pathStyle ? "path" : "auto",
    };
    if (input.accessKey !== undefined && input.secretKey !== undefined) {
        config.access_key = input.accessKey;
        config.secret_key = input.secretKey;
    } else {
        config.aws_sdk_auth = true;
    }
    if (input.kmsKeyArn !== undefined) {
        config.sse_config = { type: "SSE-KMS", kms_key_id: input.kmsKeyArn };
    }
    return yaml.dump({ type: "S3", config, prefix: "" }, { lineWidth: -1 });
}

/** The regional S3 endpoint Thanos should use for a bucket created in AWS. */
export function awsS3Endpoint(region: string): string {
    return `s3.${region}.amazonaws.com`;
}

export interface SidecarArgsInput {
    readonly tsdbPath: string;
    readonly objstoreFile: string;
    /** Config template with $(VAR) placeholders, and where the reloader writes the substituted file. */
    readonly configTemplate: string;
    readonly configOut: string;
    readonly ruleDir: string;
    /** The instance's credentials for Prometheus' API, used by the sidecar and its reloader (the `http` method). */
    readonly prometheusHttpClientFile: string;
}

export function sidecarArgs(input: SidecarArgsInput): string[] {
    return [
        "sidecar",
        "--log.format=logfmt",
        `--tsdb.path=${input.tsdbPath}`,
        `--prometheus.url=http://localhost:${prometheusWebPort}`,
        `--prometheus.http-client-file=${input.prometheusHttpClientFile}`,
        `--objstore.config-file=${input.objstoreFile}`,
        `--reloader.config-file=${input.configTemplate}`,
        `--reloader.config-envsubst-file=${input.configOut}`,
        `--reloader.rule-dir=${input.ruleDir}`,
        // `signal` would SIGHUP the first process named prometheus on the host; `http` posts /-/reload with the credentials.
        "--reloader.method=http",
        `--grpc-address=0.0.0.0:${thanosPorts.grpc}`,
        `--http-address=0.0.0.0:${thanosPorts.http}`,
    ];
}

/** Where a component reads objstore.yml: a mounted file (Kubernetes Secret), or inline (ECS, task-role auth, no secret in it). */
export type ObjstoreSource = { readonly objstoreFile: string; readonly objstoreConfig?: undefined } | { readonly objstoreConfig: string; readonly objstoreFile?: undefined };

function objstoreFlag(source: ObjstoreSource): string {
    return source.objstoreFile !== undefined ? `--objstore.config-file=${source.objstoreFile}` : `--objstore.config=${source.objstoreConfig}`;
}

export function storeArgs(input: { dataDir: string } & ObjstoreSource): string[] {
    return [
        "store",
        "--log.format=logfmt",
        `--data-dir=${input.dataDir}`,
        objstoreFlag(input),
        // Thanos' 15m default would hide a flushed head for up to 15 minutes after a restart.
        `--sync-block-duration=${storeSyncInterval}`,
        `--grpc-address=0.0.0.0:${thanosPorts.grpc}`,
        `--http-address=0.0.0.0:${thanosPorts.http}`,
    ];
}

/** Query fans out to every StoreAPI endpoint and deduplicates HA replicas on the replica label. */
export function queryArgs(input: { endpoints: readonly string[]; replicaLabel: string }): string[] {
    return [
        "query",
        "--log.format=logfmt",
        `--http-address=0.0.0.0:${queryHttpPort}`,
        `--grpc-address=0.0.0.0:${thanosPorts.grpc}`,
        `--query.replica-label=${input.replicaLabel}`,
        ...input.endpoints.map((endpoint) => `--endpoint=${endpoint}`),
    ];
}

export function compactorArgs(input: { dataDir: string; compactor: ThanosConfig["compactor"] } & ObjstoreSource): string[] {
    return [
        "compact",
        "--log.format=logfmt",
        "--wait",
        `--data-dir=${input.dataDir}`,
        objstoreFlag(input),
        `--http-address=0.0.0.0:${thanosPorts.http}`,
        `--retention.resolution-raw=${input.compactor.retentionRaw}`,
        `--retention.resolution-5m=${input.compactor.retention5m}`,
        `--retention.resolution-1h=${input.compactor.retention1h}`,
        `--delete-delay=${input.compactor.deleteDelay}`,
        // A flushed head overlaps the block Prometheus cuts from the same head when only the container restarted
        // (and its meta minTime can reach into the previous block): same labels, so without vertical compaction
        // the compactor halts on the overlap instead of merging it.
        "--compact.enable-vertical-compaction",
    ];
}
