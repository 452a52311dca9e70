/**
 * CloudWatch namespaces YACE's discovery jobs support (its README, "Supported services with auto discovery through
 * tags"). YACE refuses to start on any other `type`, so the stack config is checked against this list.
 */
export const yaceSupportedNamespaces: readonly string[] = [
    "/aws/sagemaker/Endpoints", "/aws/sagemaker/InferenceRecommendationsJobs", "/aws/sagemaker/ProcessingJobs",
    "/aws/sagemaker/TrainingJobs", "/aws/sagemaker/TransformJobs", "AmazonMWAA", "AWS/ACMPrivateCA", "AWS/AmazonMQ",
    "AWS/AOSS", "AWS/ApiGateway", "AWS/ApplicationELB", "AWS/AppRunner", "AWS/AppStream", "AWS/AppSync", "AWS/Athena",
    "AWS/AutoScaling", "AWS/Backup", "AWS/Bedrock", "AWS/Billing", "AWS/Cassandra", "AWS/CertificateManager",
    "AWS/ClientVPN", "AWS/CloudFront", "AWS/Cognito", "AWS/DataSync", "AWS/DAX", "AWS/DDoSProtection",
    "AWS/DirectoryService", "AWS/DMS", "AWS/DocDB", "AWS/DX", "AWS/DynamoDB", "AWS/EBS", "AWS/EC2", "AWS/EC2Spot",
    "AWS/ECR", "AWS/ECS", "AWS/EFS", "AWS/ElastiCache", "AWS/ElasticBeanstalk", "AWS/ElasticMapReduce", "AWS/ELB",
    "AWS/EMRServerless", "AWS/ES", "AWS/Events", "AWS/Firehose", "AWS/FSx", "AWS/GameLift", "AWS/GatewayELB",
    "AWS/GlobalAccelerator", "AWS/IoT", "AWS/IPAM", "AWS/Kafka", "AWS/KafkaConnect", "AWS/Kinesis",
    "AWS/KinesisAnalytics", "AWS/KMS", "AWS/Lambda", "AWS/Logs", "AWS/MediaConnect", "AWS/MediaConvert",
    "AWS/MediaLive", "AWS/MediaPackage", "AWS/MediaTailor", "AWS/MemoryDB", "AWS/MWAA", "AWS/NATGateway",
    "AWS/Neptune", "AWS/NetworkELB", "AWS/NetworkFirewall", "AWS/Network Manager", "AWS/PrivateLinkEndpoints",
    "AWS/PrivateLinkServices", "AWS/Prometheus", "AWS/QLDB", "AWS/QuickSight", "AWS/RDS", "AWS/Redshift",
    "AWS/Redshift-Serverless", "AWS/Route53", "AWS/Route53Resolver", "AWS/RUM", "AWS/S3",
    "AWS/Sagemaker/ModelBuildingPipeline", "AWS/SageMaker", "AWS/Scheduler", "AWS/SecretsManager", "AWS/SES",
    "AWS/SNS", "AWS/SQS", "AWS/States", "AWS/StorageGateway", "AWS/Timestream", "AWS/TransitGateway",
    "AWS/TrustedAdvisor", "AWS/Usage", "AWS/VpcLattice", "AWS/VPN", "AWS/WAFV2", "AWS/WorkSpaces",
    "ContainerInsights", "CWAgent", "ECS/ContainerInsights", "Glue",
];
