import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { nobody } from "./containers";
import { efsFileSystemPolicy } from "./iam";

/** A subnet known before any apply: a stable key (its id, or its zone when looked up) and its id. */
export interface SubnetRef {
    readonly key: string;
    readonly id: pulumi.Input<string>;
}

export interface ConfigFileSystemArgs {
    /** VPC of the tasks; the file system's security group lives there. */
    readonly vpcId: pulumi.Input<string>;
    /** One mount target per subnet (EFS allows one per availability zone: give one subnet per zone). */
    readonly subnets: readonly SubnetRef[];
    /** One access point (and directory) per component that mounts the file system, e.g. prometheus-payments, yace. */
    readonly directories: readonly string[];
}

/**
 * EFS for configuration and rules only: the Prometheus TSDB is not supported on NFS and stays on task storage.
 * Encrypted at rest; reachable only through access points (fixed uid/gid), over TLS, from admitted security groups.
 */
export class ConfigFileSystem extends pulumi.ComponentResource {
    readonly fileSystemId: pulumi.Output<string>;
    readonly fileSystemArn: pulumi.Output<string>;
    /** Admits nobody by itself: each client component adds an NFS rule from its own security group. */
    readonly securityGroupId: pulumi.Output<string>;
    readonly accessPoints: Readonly<Record<string, { id: pulumi.Output<string>; arn: pulumi.Output<string> }>>;
    /** A task that mounts the file system starts only once these exist. */
    readonly mountTargets: readonly aws.efs.MountTarget[];

    constructor(name: string, args: ConfigFileSystemArgs, opts?: pulumi.ComponentResourceOptions) {
        const invalid = args.directories.filter((directory) => !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(directory));
        if (invalid.length > 0 || new Set(args.directories).size !== args.directories.length) {
            throw new Error(`ConfigFileSystem ${name}: directories must be unique DNS labels; got ${args.directories.join(", ")}`);
        }
        super("paas:aws:ConfigFileSystem", name, {}, opts);
        const child = { parent: this };

        const fileSystem = new aws.efs.FileSystem(name, {
            encrypted: true,
            performanceMode: "generalPurpose",
            throughputMode: "elastic",
            tags: { Name: name, "paas.tsuru.io/purpose": "prometheus-configuration" },
        }, child);
        new aws.efs.FileSystemPolicy(`${name}-policy`, {
            fileSystemId: fileSystem.id,
            policy: fileSystem.arn.apply((arn) => JSON.stringify(efsFileSystemPolicy(arn))),
        }, child);

        const group = new aws.ec2.SecurityGroup(`${name}-nfs`, {
            description: "NFS to the configuration file system, from the ECS tasks that mount it only",
            vpcId: args.vpcId,
            tags: { Name: `${name}-nfs` },
        }, child);

        // Created from the known subnet list, so previews show them and the services can wait for them.
        this.mountTargets = args.subnets.map((subnet) =>
            new aws.efs.MountTarget(`${name}-${subnet.key}`, { fileSystemId: fileSystem.id, subnetId: subnet.id, securityGroups: [group.id] }, child));

        const accessPoints: Record<string, { id: pulumi.Output<string>; arn: pulumi.Output<string> }> = {};
        for (const directory of args.directories) {
            const accessPoint = new aws.efs.AccessPoint(`${name}-${directory}`, {
                fileSystemId: fileSystem.id,
                // Every NFS operation runs as nobody, whatever user the container is: no root squash games.
                posixUser: { uid: nobody.uid, gid: nobody.gid },
                rootDirectory: { path: `/${directory}`, creationInfo: { ownerUid: nobody.uid, ownerGid: nobody.gid, permissions: "0755" } },
                tags: { Name: `${name}-${directory}` },
            }, child);
            accessPoints[directory] = { id: accessPoint.id, arn: accessPoint.arn };
        }

        this.fileSystemId = fileSystem.id;
        this.fileSystemArn = fileSystem.arn;
        this.securityGroupId = group.id;
        this.accessPoints = accessPoints;
        this.registerOutputs({ fileSystemId: this.fileSystemId, fileSystemArn: this.fileSystemArn, securityGroupId: this.securityGroupId });
    }
}

/** The task volume of an access point: TLS in transit and IAM authorization with the task role. */
export function efsVolume(volumeName: string, fileSystemId: pulumi.Input<string>, accessPointId: pulumi.Input<string>): aws.types.input.ecs.TaskDefinitionVolume {
    return {
        name: volumeName,
        efsVolumeConfiguration: {
            fileSystemId,
            transitEncryption: "ENABLED",
            authorizationConfig: { accessPointId, iam: "ENABLED" },
        },
    };
}
