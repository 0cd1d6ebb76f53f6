"""The timeline domain, shared by every function as a Lambda layer.

Three rings, outside in: handlers (functions/*) parse events and shape responses;
`timeline.service` holds the domain rules; `timeline.store` is the only code that
talks to DynamoDB, SQS, S3, Cognito or Secrets Manager.
"""
