"""Kubernetes deployment: kustomize base and overlays, the topic generator and the offline check."""
