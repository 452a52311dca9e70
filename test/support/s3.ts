/** A real S3 server on loopback (versitygw over a directory) for the tests and benchmarks, and what a bucket holds. */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { freePort, ManagedProcess, ProcessGroup, runToCompletion, waitForHttp } from "./processes";
import { toolBinary } from "./tools";

/** One block of `thanos tools bucket ls -o json`. */
export interface BlockListing {
    ulid: string;
    minTime: number;
    maxTime: number;
    compaction: { level: number; sources: string[] };
    /** downsample.resolution: 0 (raw), 300000 (5m) or 3600000 (1h). */
    thanos: { labels: Record<string, string>; source: string; downsample?: { resolution: number } };
}

export class LocalS3 {
    readonly accessKey = crypto.randomBytes(8).toString("hex");
    readonly secretKey = crypto.randomBytes(16).toString("hex");
    port = 0;
    process!: ManagedProcess;

    constructor(readonly dir: string, private readonly group: ProcessGroup) {}

    /** The port it will listen on, known before it starts (a stack's config may need it first). */
    async reservePort(): Promise<number> {
        this.port ||= await freePort();
        return this.port;
    }

    get endpoint(): string {
        return `127.0.0.1:${this.port}`;
    }

    /** Starts serving `buckets` (each a directory, created when missing). */
    async start(...buckets: string[]): Promise<void> {
        await this.reservePort();
        for (const bucket of buckets) fs.mkdirSync(path.join(this.dir, bucket), { recursive: true });
        this.process = this.group.start("s3", toolBinary("versitygw"), ["--access", this.accessKey, "--secret", this.secretKey, "--port", this.endpoint, "posix", this.dir], { inheritEnv: false, env: {} });
        await waitForHttp(`http://${this.endpoint}/`, { timeoutMs: 30_000, process: this.process, status: 403 });
    }

    /** objstore.yml for a bucket of this server, with its static keys. */
    objstoreYml(bucket: string): string {
        return `type: S3\nconfig: {bucket: ${bucket}, endpoint: "${this.endpoint}", insecure: true, bucket_lookup_type: path, access_key: ${this.accessKey}, secret_key: ${this.secretKey}}\n`;
    }
}

/** The blocks of the bucket an objstore.yml names. */
export async function listBucket(objstoreFile: string): Promise<BlockListing[]> {
    const { stdout } = await runToCompletion("thanos tools bucket ls", toolBinary("thanos"), ["tools", "bucket", "ls", "-o", "json", `--objstore.config-file=${objstoreFile}`], { timeoutMs: 60_000 });
    // One indented JSON document per block, one after the other.
    return stdout.trim() === "" ? [] : JSON.parse(`[${stdout.trim().replace(/\}\n\{/g, "},{")}]`);
}
