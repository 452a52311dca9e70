import type * as pulumi from "@pulumi/pulumi";

/**
 * Options of a component whose type token changed: the old token as an alias, so stacks created with it keep the
 * component and its children (the engine derives the children's aliases from the parent's) instead of replacing them.
 */
export function formerly(oldType: string, opts?: pulumi.ComponentResourceOptions): pulumi.ComponentResourceOptions {
    return { ...opts, aliases: [...(opts?.aliases ?? []), { type: oldType }] };
}
