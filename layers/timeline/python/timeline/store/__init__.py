"""The only ring that talks to AWS (DynamoDB through pynamodb; SQS, Cognito and Secrets
Manager through boto3). Services depend on these classes, never on boto3 or pynamodb."""
