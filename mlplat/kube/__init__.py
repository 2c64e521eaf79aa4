"""Talking to the platform's cluster with the official Kubernetes client: EKS bearer tokens (token.py), an
authenticated client for the EKS endpoint, directly or through the access node's tunnel (client.py), the cluster-side
phase of a safe destroy (cleanup.py), `status` (status.py), kubeconfig entries (kubeconfig.py), `open`'s port-forward
(open.py), and an in-process fake of the Kubernetes API for tests (fake_api.py).

Nothing here is imported by the package at start-up: importing `kubernetes` costs about a second, which commands that
never talk to the cluster should not pay.
"""
