/**
 * CloudWatch namespaces and their aliases as YACE defines them (pkg/config/services.go, SupportedServices), for
 * the services the stacks and fixtures use and a few more: the tests' own list, independent of the program's.
 */
export const yaceServices: readonly { readonly namespace: string; readonly alias: string }[] = [
    { namespace: "AWS/ApplicationELB", alias: "alb" },
    { namespace: "AWS/ApiGateway", alias: "apigateway" },
    { namespace: "AWS/EC2", alias: "ec2" },
    { namespace: "AWS/ECS", alias: "ecs-svc" },
    { namespace: "ECS/ContainerInsights", alias: "ecs-containerinsights" },
    { namespace: "AWS/EFS", alias: "efs" },
    { namespace: "AWS/ElastiCache", alias: "ec" },
    { namespace: "AWS/Lambda", alias: "lambda" },
    { namespace: "AWS/NetworkELB", alias: "nlb" },
    { namespace: "AWS/RDS", alias: "rds" },
    { namespace: "AWS/S3", alias: "s3" },
    { namespace: "AWS/SQS", alias: "sqs" },
    { namespace: "AWS/SNS", alias: "sns" },
];
