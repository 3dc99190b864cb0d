"""Deployment artefacts (Kubernetes manifests and their offline checks)."""
