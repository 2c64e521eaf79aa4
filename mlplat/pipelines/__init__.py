"""ML pipelines from recipes: typed recipes (MLOps on EKS's YAML values files), step templates rendered in Python,
pipeline files checked against a blueprint, and a runner that submits, waits on, streams and always cleans up each
step through the Kubernetes API."""
