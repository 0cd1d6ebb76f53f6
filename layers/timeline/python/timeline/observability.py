"""The powertools Logger and Metrics every function shares (service name and namespace
come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE in template.yaml)."""

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
